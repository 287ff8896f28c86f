/// Whether ops record autograd history. Task-local, so no global mutable state:
/// evaluation code wraps itself in `withoutGrad { }` and nothing else is affected.
public enum GradMode {
    @TaskLocal public static var isEnabled: Bool = true
}

/// Runs `body` with graph building switched off (evaluation, merging, optimizer updates).
@inlinable
public func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$isEnabled.withValue(false) { try body() }
}

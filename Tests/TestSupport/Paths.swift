import Foundation

/// Where test inputs live. Fixtures from independent reference implementations sit in
/// `../shared/fixtures` beside the repository (override with `PEFTKIT_FIXTURES`); installed
/// models in `models/` at the package root (override with `PEFTKIT_MODELS`).
public enum TestPaths {
    /// The package root (two levels above this file's folder).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var fixtures: URL {
        if let p = ProcessInfo.processInfo.environment["PEFTKIT_FIXTURES"] { return URL(fileURLWithPath: p) }
        // `shared/` sits beside the repository; from a nested checkout (a git worktree) look further up.
        var dir = packageRoot.deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("shared/fixtures")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }

    public static var models: URL {
        if let p = ProcessInfo.processInfo.environment["PEFTKIT_MODELS"] { return URL(fileURLWithPath: p) }
        return packageRoot.appendingPathComponent("models")
    }

    /// A fixture file, e.g. `fixture("safetensors/expected.json")`.
    public static func fixture(_ relative: String) -> URL { fixtures.appendingPathComponent(relative) }

    /// A fresh empty temporary directory.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

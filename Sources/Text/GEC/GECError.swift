import Core
/// Errors of the grammatical-error-correction task, each one line that names the file, the
/// place and what to do.
public enum GECError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A data file (M2, TSV, JSON lines) that cannot be read as such.
    case malformed(path: String, line: Int, problem: String)
    /// Two inputs that must line up do not.
    case mismatch(String)
    /// A bad option or setting.
    case badOption(String)
    /// A domain, adapter or other input that cannot be used.
    case unusable(String)

    /// Problems quote the input (an `A` line's fields), so control characters are escaped.
    public var description: String {
        switch self {
        case let .malformed(path, line, problem): return oneLineMessage("\(path):\(line): \(problem)")
        case let .mismatch(s), let .badOption(s), let .unusable(s): return oneLineMessage(s)
        }
    }
}

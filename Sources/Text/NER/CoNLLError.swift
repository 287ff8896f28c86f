/// Errors from reading or writing CoNLL files. Each prints as `file:line: problem; what to do`.
public enum CoNLLError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case unreadable(path: String, reason: String)
    /// The bytes are not UTF-8 text.
    case notUTF8(path: String)
    /// No token lines at all.
    case empty(path: String)
    /// A line that does not fit the format; `problem` already says what to do.
    case malformed(path: String, line: Int, problem: String)
    /// A dev/test tag whose entity type never occurs in the training file.
    case unknownLabel(path: String, line: Int, label: String, trainingPath: String, known: [String])
    /// Writing failed (bad content or file system).
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read (\(reason)); check the path"
        case let .notUTF8(path):
            return "\(path): not UTF-8 text; convert the file to UTF-8"
        case let .empty(path):
            return "\(path): no token lines found; a CoNLL file has one token per line (token … tag) and blank lines between sentences"
        case let .malformed(path, line, problem):
            return "\(path):\(line): \(problem)"
        case let .unknownLabel(path, line, label, trainingPath, known):
            let shown = known.isEmpty ? "none" : known.joined(separator: ", ")
            return "\(path):\(line): label '\(label)' never occurs in the training file \(trainingPath) (its entity types: \(shown)); add training examples of it or fix the tag"
        case let .writeFailed(path, reason):
            return "\(path): cannot write (\(reason))"
        }
    }
}

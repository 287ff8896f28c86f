import Foundation

/// A failure reading or writing a file: which file, where in it, what is wrong and what to do.
///
/// `description` is one line, `"<file>: <place>: <problem>; <advice>"`, so a command-line tool can
/// print it as is. `kind` lets callers and tests tell problems apart without parsing text.
public struct IOError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The class of problem.
    public enum Kind: String, Sendable, CaseIterable {
        // Files and directories.
        case fileNotFound, readFailed, writeFailed
        // safetensors framing and header.
        case fileTooSmall, headerTooLarge, headerExceedsFile, invalidUTF8, invalidJSON, notAnObject
        case invalidMetadata, duplicateKey, invalidEntry, unknownDType
        // safetensors tensor geometry.
        case invalidShape, sizeOverflow, sizeMismatch, invalidOffsets, outOfBounds, overlap, gap, trailingBytes
        // Lookups and conversions.
        case missingKey, wrongType, unsupportedDType
    }

    public let kind: Kind
    /// Path of the file concerned (as given by the caller).
    public let file: String
    /// Where in the file: a tensor key, a JSON key path, "header", "length prefix"… (nil: the whole file).
    public let place: String?
    /// What is wrong, in words.
    public let problem: String
    /// What the user can do about it (nil when the problem says it all).
    public let advice: String?

    public init(_ kind: Kind, file: String, place: String? = nil, _ problem: String, advice: String? = nil) {
        self.kind = kind
        self.file = file
        self.place = place
        self.problem = problem
        self.advice = advice
    }

    public init(_ kind: Kind, file: URL, place: String? = nil, _ problem: String, advice: String? = nil) {
        self.init(kind, file: file.path, place: place, problem, advice: advice)
    }

    public var description: String {
        var s = file
        if let place { s += ": " + place }
        s += ": " + problem
        if let advice { s += "; " + advice }
        return oneLineMessage(s)
    }
}

extension IOError: LocalizedError {
    public var errorDescription: String? { description }
}

/// The text of the C `errno` value, for messages about failed system calls.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Up to `limit` names from `candidates` that look like `key` (shared last components, or
/// within two edits of it), for "did you mean" hints.
func similarKeys(to key: String, in candidates: some Sequence<String>, limit: Int = 3) -> [String] {
    let parts = key.split(separator: ".")
    let leaf = parts.suffix(2).joined(separator: ".")
    let last = parts.last.map(String.init) ?? key
    let all = Array(candidates)
    for probe in [leaf, last] where !probe.isEmpty {
        let hits = all.filter { $0.hasSuffix(probe) || $0.contains(probe) }.sorted()
        if !hits.isEmpty { return Array(hits.prefix(limit)) }
    }
    let close = all.map { ($0, editDistance($0, key, limit: 2)) }.filter { $0.1 <= 2 }
    return close.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
}

/// Levenshtein distance between `a` and `b`, or `limit + 1` as soon as it must exceed `limit`.
func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
    let x = Array(a.utf8), y = Array(b.utf8)
    if abs(x.count - y.count) > limit { return limit + 1 }
    if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
    var previous = Array(0...y.count)
    for i in 1...x.count {
        var current = [i] + Array(repeating: 0, count: y.count)
        for j in 1...y.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        if (current.min() ?? 0) > limit { return limit + 1 }
        previous = current
    }
    return previous[y.count]
}

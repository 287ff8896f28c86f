import Core
import Foundation

/// One `A` line of an M2 file: `A start end|||type|||correction|||REQUIRED|||-NONE-|||coder`.
public struct M2Annotation: Sendable, Equatable {
    public var start: Int, end: Int
    public var type: String
    /// The correction text as written (`-NONE-` for a noop line, `""` for a deletion).
    public var correction: String
    public var coder: Int

    public init(start: Int, end: Int, type: String, correction: String, coder: Int) {
        self.start = start; self.end = end; self.type = type; self.correction = correction; self.coder = coder
    }

    /// The explicit "no change" line ERRANT writes for a coder whose correction equals the source.
    public static func noop(coder: Int) -> M2Annotation {
        M2Annotation(start: -1, end: -1, type: "noop", correction: "-NONE-", coder: coder)
    }

    public var isNoop: Bool { start == -1 && end == -1 }

    /// The line as ERRANT writes it.
    public var line: String { "A \(start) \(end)|||\(type)|||\(correction)|||REQUIRED|||-NONE-|||\(coder)" }
}

/// One sentence block of an M2 file: the `S` line's tokens and its annotations in file order.
public struct M2Sentence: Sendable, Equatable {
    public var tokens: [String]
    public var annotations: [M2Annotation]
    /// 1-based line of the `S` line in its file (0 when built in memory).
    public var line: Int

    public init(tokens: [String], annotations: [M2Annotation], line: Int = 0) {
        self.tokens = tokens; self.annotations = annotations; self.line = line
    }

    /// The block for a source and its corrections, as `errant_parallel -lev -merge all-merge`
    /// writes it: coder k = correction k; a noop line for an unchanged correction.
    public init(source: String, corrections: [String], merge: EditMerge = .allMerge) {
        tokens = GECTokens.split(source)
        annotations = []
        line = 0
        for (k, c) in corrections.enumerated() {
            let e = EditExtraction.extract(source: source, correction: c, merge: merge)
            if e.noop { annotations.append(.noop(coder: k)); continue }
            annotations += e.edits.map { M2Annotation(start: $0.oStart, end: $0.oEnd, type: $0.type, correction: $0.cStr, coder: k) }
        }
    }

    /// The coder ids in order of first appearance (errant_compare's dictionary order).
    public var coders: [Int] {
        var seen: [Int] = []
        for a in annotations where !seen.contains(a.coder) { seen.append(a.coder) }
        return seen
    }

    /// Applies coder `coder`'s edits to the source tokens (non-overlapping edits, as extraction
    /// gives them), giving the corrected sentence that coder stands for.
    public func corrected(coder: Int) -> [String] {
        let edits = annotations.filter { $0.coder == coder && !$0.isNoop }.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
        var out: [String] = []
        var i = 0
        for e in edits where e.start >= i && e.end <= tokens.count {
            out += tokens[i..<e.start]
            if e.correction != "-NONE-" { out += GECTokens.split(e.correction) }
            i = e.end
        }
        out += tokens[min(i, tokens.count)...]
        return out
    }

    /// The block's text: the `S` line and its `A` lines (no trailing blank line).
    public var text: String { (["S " + tokens.joined(separator: " ")] + annotations.map(\.line)).joined(separator: "\n") }
}

/// Reads and writes M2 files, the CoNLL-2014 / BEA-2019 GEC annotation format.
///
/// Blocks are separated by blank lines; each starts with `S tokens…` followed by `A` lines. A
/// malformed `A` line (too few `|||` fields, a span that is not two integers, a span outside the
/// sentence, a coder that is not an integer) is an error naming the file and line.
public enum M2File {
    /// Parses M2 text. `path` names the source in errors.
    ///
    /// Lines are handled as substrings of `text`: the blank-line test, the `|||` split and the
    /// coder field allocate nothing (the fuzz profile showed the per-line `String` copies,
    /// Foundation's `components(separatedBy:)` and the strip-to-test-emptiness dominating).
    public static func parse(_ text: String, path: String = "<m2>") throws -> [M2Sentence] {
        var out: [M2Sentence] = []
        var current: M2Sentence?
        var lineNumber = 0
        for raw in text.textLines() {
            lineNumber += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if isBlank(line) {
                if let c = current { out.append(c); current = nil }
                continue
            }
            if line.hasPrefix("S ") || line == "S" {
                if let c = current { out.append(c) }
                current = M2Sentence(tokens: GECTokens.split(String(line.dropFirst(1))), annotations: [], line: lineNumber)
            } else if line.hasPrefix("A ") {
                guard current != nil else {
                    throw GECError.malformed(path: path, line: lineNumber, problem: "an A line before any S line; every block starts with 'S tokens…'")
                }
                let a = try annotation(line, tokenCount: current!.tokens.count, path: path, line: lineNumber)
                current!.annotations.append(a)
            } else {
                throw GECError.malformed(path: path, line: lineNumber, problem: "expected an 'S …' or 'A …' line or a blank line, found '\(line.prefix(40))'")
            }
        }
        if let c = current { out.append(c) }
        return out
    }

    static func annotation(_ line: Substring, tokenCount: Int, path: String, line lineNumber: Int) throws -> M2Annotation {
        func bad(_ p: String) -> GECError {
            .malformed(path: path, line: lineNumber, problem: "malformed A line (\(p)); write 'A start end|||type|||correction|||REQUIRED|||-NONE-|||coder'")
        }
        let fields = fields(line.dropFirst(2))
        guard fields.count >= 3 else { throw bad("\(fields.count) '|||'-separated fields, need at least 3") }
        let span = fields[0].split(separator: " ")
        guard span.count == 2, let start = Int(span[0]), let end = Int(span[1]) else { throw bad("span '\(fields[0])' is not two integers") }
        let isNoop = start == -1 && end == -1
        guard isNoop || (0 <= start && start <= end && end <= tokenCount) else {
            throw bad("span \(start) \(end) is outside the sentence's \(tokenCount) tokens")
        }
        var coder = 0
        if fields.count >= 6 {
            guard let c = Int(stripped(fields[fields.count - 1])) else { throw bad("coder '\(fields[fields.count - 1])' is not an integer") }
            coder = c
        }
        return M2Annotation(start: start, end: end, type: String(fields[1]), correction: String(fields[2]), coder: coder)
    }

    /// The `|||`-separated fields of an `A` line, left to right without overlap, as ERRANT's
    /// Python `line.split("|||")` cuts them (on code points: a combining mark after `|||` does
    /// not hide the separator, as it did for Foundation's grapheme-based search).
    static func fields(_ s: Substring) -> [Substring] {
        let bar = UInt8(ascii: "|")
        let u = s.utf8
        var out: [Substring] = []
        var start = u.startIndex, i = u.startIndex
        while i < u.endIndex {
            if u[i] == bar {
                let i1 = u.index(after: i)
                if i1 < u.endIndex, u[i1] == bar {
                    let i2 = u.index(after: i1)
                    if i2 < u.endIndex, u[i2] == bar {
                        out.append(s[start..<i])
                        i = u.index(after: i2)
                        start = i
                        continue
                    }
                }
            }
            i = u.index(after: i)
        }
        out.append(s[start..<u.endIndex])
        return out
    }

    /// Whether a line holds only whitespace (`GECTokens.strip(line).isEmpty`, without building the string).
    static func isBlank(_ line: Substring) -> Bool { line.unicodeScalars.allSatisfy(GECTokens.isPythonWhitespace) }

    /// `GECTokens.strip` of a substring, as a substring.
    static func stripped(_ s: Substring) -> Substring {
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !GECTokens.isPythonWhitespace($0) }),
              let last = scalars.lastIndex(where: { !GECTokens.isPythonWhitespace($0) }) else { return s[s.endIndex...] }
        return Substring(scalars[first...last])
    }

    /// Reads an M2 file.
    public static func read(path: String) throws -> [M2Sentence] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GECError.unusable("\(path): cannot read the M2 file; check the path")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw GECError.malformed(path: path, line: 1, problem: "not UTF-8 text; convert the file to UTF-8")
        }
        return try parse(text, path: path)
    }

    /// M2 text: blocks separated by blank lines, ending with a blank line (as ERRANT writes).
    public static func text(_ sentences: [M2Sentence]) -> String {
        sentences.map { $0.text + "\n\n" }.joined()
    }

    /// Writes an M2 file atomically.
    public static func write(_ sentences: [M2Sentence], to path: String) throws {
        try AtomicFile.write(text(sentences), to: URL(fileURLWithPath: path), createDirectories: true)
    }
}

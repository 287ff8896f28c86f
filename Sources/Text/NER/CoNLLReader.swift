import Foundation

/// One sentence of a CoNLL file.
public struct CoNLLSentence: Sendable, Equatable {
    /// The first column of each token line.
    public var tokens: [String]
    /// The tag column, converted to IOB2 unless the reader was told not to.
    public var tags: [String]
    /// 1-based line number of each token, for error messages.
    public var lines: [Int]

    public init(tokens: [String], tags: [String], lines: [Int]) {
        self.tokens = tokens
        self.tags = tags
        self.lines = lines
    }
}

/// A parsed CoNLL file.
public struct CoNLLFile: Sendable, Equatable {
    public var path: String
    public var sentences: [CoNLLSentence]
    /// The scheme the tags were written in (detected or as given).
    public var scheme: TagScheme
    /// Columns per token line.
    public var columnCount: Int

    /// Number of tokens over all sentences.
    public var tokenCount: Int { sentences.reduce(0) { $0 + $1.tokens.count } }
}

/// Reads CoNLL-2003-style NER files: one token per line with the token first and (by default)
/// the tag last, columns separated by spaces or tabs, a blank line between sentences, and
/// `-DOCSTART-` lines skipped. Two-column `token tag` files are the common case.
///
/// A line containing a tab is split on single tabs (so a token may contain spaces and an empty
/// column is noticed); other lines are split on runs of spaces. Every token line must have as
/// many columns as the first one. Windows line endings and a UTF-8 BOM are accepted. Nothing is
/// dropped silently: any line that does not fit is an error naming `file:line`.
public struct CoNLLReader: Sendable {
    /// 0-based column of the tag; nil means the last column.
    public var tagColumn: Int?
    /// Scheme of the file; nil detects it (`TagScheme.detect`).
    public var scheme: TagScheme?
    /// Convert tags to IOB2 (default), which also enforces the scheme's sequence rules. When
    /// false, tags are kept as written and only checked to be `O` or a `B/I/E/S/L/U-TYPE` tag:
    /// the way to read model predictions, which need not be well formed, for scoring.
    public var convertToIOB2: Bool

    public init(tagColumn: Int? = nil, scheme: TagScheme? = nil, convertToIOB2: Bool = true) {
        self.tagColumn = tagColumn
        self.scheme = scheme
        self.convertToIOB2 = convertToIOB2
    }

    /// Reads and parses a file.
    public func read(path: String) throws -> CoNLLFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CoNLLError.unreadable(path: path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CoNLLError.notUTF8(path: path) }
        return try parse(text, path: path)
    }

    /// Parses file content; `path` is used in messages.
    public func parse(_ text: String, path: String) throws -> CoNLLFile {
        var raw: [(tokens: [String], tags: [String], lines: [Int])] = []
        var current: (tokens: [String], tags: [String], lines: [Int]) = ([], [], [])
        var reference: (count: Int, line: Int)?
        var usedPrefixes = Set<Character>()

        func endSentence() {
            if !current.tokens.isEmpty { raw.append(current) }
            current = ([], [], [])
        }

        var lineNumber = 0
        // Split on "\n" bytes: Swift treats "\r\n" as one Character, so a Character split would
        // miss Windows line breaks.
        for lineBytes in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = lineBytes.last == UInt8(ascii: "\r") ? lineBytes.dropLast() : lineBytes
            var line = String(decoding: trimmed, as: UTF8.self)
            if lineNumber == 1 && line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { endSentence(); continue }

            let fields = Self.columns(of: line)
            if fields.first == "-DOCSTART-" { endSentence(); continue }
            let where_ = { (problem: String) in CoNLLError.malformed(path: path, line: lineNumber, problem: problem) }
            if let ref = reference {
                guard fields.count == ref.count else {
                    throw where_("found \(fields.count) column(s) but line \(ref.line) has \(ref.count); every token line needs the same columns (token first, tag \(tagColumn.map { "in column \($0 + 1)" } ?? "last")), separated by spaces or tabs")
                }
            } else {
                guard fields.count >= 2 else {
                    throw where_("only one column ('\(line)'); a CoNLL NER line needs the token first and the tag last")
                }
                if let c = tagColumn, c < 1 || c >= fields.count {
                    throw where_("tag column \(c + 1) does not exist (the line has \(fields.count) columns, the token is column 1); choose a column between 2 and \(fields.count)")
                }
                reference = (fields.count, lineNumber)
            }
            let tag = fields[tagColumn ?? fields.count - 1]
            guard !tag.isEmpty else { throw where_("empty tag; every token needs a tag (O when outside an entity)") }
            guard !fields[0].isEmpty else { throw where_("empty token; remove the stray separator at the start of the line") }
            if let p = ParsedTag(tag), let prefix = p.prefix { usedPrefixes.insert(prefix) }
            current.tokens.append(fields[0])
            current.tags.append(tag)
            current.lines.append(lineNumber)
        }
        endSentence()
        guard let columns = reference?.count, !raw.isEmpty else { throw CoNLLError.empty(path: path) }

        guard let scheme = self.scheme ?? TagScheme.detect(prefixes: usedPrefixes) else {
            throw CoNLLError.malformed(path: path, line: raw[0].lines[0], problem: "the file mixes IOBES (E-/S-) and BILOU (L-/U-) prefixes; use one scheme")
        }
        var sentences: [CoNLLSentence] = []
        sentences.reserveCapacity(raw.count)
        if !convertToIOB2 {
            for s in raw {
                for (i, tag) in s.tags.enumerated() where !(ParsedTag(tag).map { $0.prefix.map { "BIESLU".contains($0) } ?? true } ?? false) {
                    throw CoNLLError.malformed(path: path, line: s.lines[i], problem: "'\(tag)' is not a tag (expected O or a B-/I-/E-/S-/L-/U- prefix followed by a type); fix the tag or choose the right --tag-column")
                }
                sentences.append(CoNLLSentence(tokens: s.tokens, tags: s.tags, lines: s.lines))
            }
            return CoNLLFile(path: path, sentences: sentences, scheme: scheme, columnCount: columns)
        }
        for s in raw {
            switch scheme.convertToIOB2(s.tags) {
            case let .failure(problem):
                throw CoNLLError.malformed(path: path, line: s.lines[problem.index], problem: problem.message)
            case let .success(iob2):
                sentences.append(CoNLLSentence(tokens: s.tokens, tags: iob2, lines: s.lines))
            }
        }
        return CoNLLFile(path: path, sentences: sentences, scheme: scheme, columnCount: columns)
    }

    /// Splits a token line into columns: on tabs when it has any (fields trimmed of spaces),
    /// otherwise on runs of spaces.
    static func columns(of line: String) -> [String] {
        if line.contains("\t") {
            return line.split(separator: "\t", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: CharacterSet(charactersIn: " "))
            }
        }
        return line.split(separator: " ").map(String.init)
    }
}

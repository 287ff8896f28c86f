import Foundation

/// A WordPiece vocabulary: token strings by id, and the greedy longest-match-first split of a
/// word into pieces (the `WordPiece` model section of a `tokenizer.json`).
///
/// Lookups compare exact UTF-8 bytes, as the reference does. Swift `String` equality would treat
/// canonically equivalent spellings (precomposed `é` vs `e` + U+0301) as equal, which is not what
/// a cased vocabulary without accent stripping expects.
public struct WordPieceVocabulary: Sendable {
    /// Token strings, indexed by id.
    public let tokens: [String]
    /// Token that replaces a word that cannot be split (or is too long).
    public let unknownToken: String
    /// Id of `unknownToken`.
    public let unknownID: Int
    /// Prefix that marks a piece continuing a word (`##`).
    public let continuingSubwordPrefix: String
    /// Words with more scalars than this become `unknownToken` whole.
    public let maxInputCharsPerWord: Int

    private let idsByBytes: [[UInt8]: Int]
    private let prefixBytes: [UInt8]

    /// Builds a vocabulary from `(token, id)` pairs; when a token repeats, the later id wins
    /// (as `transformers`' vocab.txt loader does). Ids must cover 0..<count without gaps.
    public init(
        entries: [(String, Int)], unknownToken: String = "[UNK]", continuingSubwordPrefix: String = "##",
        maxInputCharsPerWord: Int = 100, source: String = "vocabulary"
    ) throws {
        guard !entries.isEmpty else { throw TokenizerError.invalid(path: source, problem: "the vocabulary is empty") }
        let count = (entries.map(\.1).max() ?? -1) + 1
        guard count == entries.count, entries.allSatisfy({ $0.1 >= 0 }) else {
            throw TokenizerError.invalid(path: source, problem: "token ids are not 0..<\(entries.count) without gaps (highest id \(count - 1))")
        }
        var tokens = [String](repeating: "", count: count)
        var map: [[UInt8]: Int] = [:]
        map.reserveCapacity(count)
        for (token, id) in entries {
            tokens[id] = token
            map[Array(token.utf8)] = id
        }
        guard let unk = map[Array(unknownToken.utf8)] else {
            throw TokenizerError.missingSpecialToken(path: source, token: unknownToken)
        }
        guard maxInputCharsPerWord > 0 else {
            throw TokenizerError.invalid(path: source, problem: "max_input_chars_per_word must be positive, got \(maxInputCharsPerWord)")
        }
        self.tokens = tokens
        self.idsByBytes = map
        self.unknownToken = unknownToken
        self.unknownID = unk
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.prefixBytes = Array(continuingSubwordPrefix.utf8)
    }

    /// Reads a `vocab.txt` (one token per line, the line number is the id). A UTF-8 BOM and
    /// Windows line endings are tolerated; a final newline does not add an empty token.
    public init(vocabFile path: String, unknownToken: String = "[UNK]", maxInputCharsPerWord: Int = 100) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TokenizerError.unreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(vocabData: data, source: path, unknownToken: unknownToken, maxInputCharsPerWord: maxInputCharsPerWord)
    }

    /// Reads the bytes of a `vocab.txt`; `path` names it in messages.
    public init(vocabData data: Data, source path: String, unknownToken: String = "[UNK]", maxInputCharsPerWord: Int = 100) throws {
        guard var text = String(data: data, encoding: .utf8) else {
            throw TokenizerError.invalid(path: path, problem: "vocab.txt is not valid UTF-8")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        // Split on "\n" only (then drop a trailing "\r"): Swift treats "\r\n" as one Character,
        // so splitting the String by Character would not see the "\n" on Windows files.
        var lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line -> String in
            var bytes = Array(line)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        try self.init(
            entries: lines.enumerated().map { ($0.element, $0.offset) }, unknownToken: unknownToken,
            maxInputCharsPerWord: maxInputCharsPerWord, source: path)
    }

    /// Number of tokens (the embedding table's row count must equal this).
    public var count: Int { tokens.count }

    /// Id of an exact token string, if present.
    public func id(of token: String) -> Int? { idsByBytes[Array(token.utf8)] }

    /// Token string of an id (nil when out of range).
    public func token(of id: Int) -> String? { tokens.indices.contains(id) ? tokens[id] : nil }

    /// Splits one pre-tokenised word greedily, longest match first: the first piece plain, later
    /// pieces with the `##` prefix. A word that has a position where no piece matches, or that is
    /// longer than `maxInputCharsPerWord` scalars, becomes the single unknown token.
    public func split(word: [Unicode.Scalar]) -> [Int] {
        if word.isEmpty { return [] }
        if word.count > maxInputCharsPerWord { return [unknownID] }
        // UTF-8 bytes of the word and the byte offset at which each scalar starts.
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        offsets.reserveCapacity(word.count + 1)
        for c in word {
            offsets.append(bytes.count)
            UTF8.encode(c) { bytes.append($0) }
        }
        offsets.append(bytes.count)

        var pieces: [Int] = []
        var start = 0
        var key: [UInt8] = []
        while start < word.count {
            var end = word.count
            var found: Int?
            while end > start {
                key.removeAll(keepingCapacity: true)
                if start > 0 { key.append(contentsOf: prefixBytes) }
                key.append(contentsOf: bytes[offsets[start]..<offsets[end]])
                if let id = idsByBytes[key] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            pieces.append(id)
            start = end
        }
        return pieces
    }
}

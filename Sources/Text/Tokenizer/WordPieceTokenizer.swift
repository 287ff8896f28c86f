/// A BERT WordPiece tokenizer that gives the same ids as Hugging Face's `BertTokenizerFast`.
///
/// Pipeline for each input string (the reference's order):
/// 1. added tokens (`[CLS]`, `[SEP]`, …) are cut out of the raw text;
/// 2. the rest is normalised (`BertNormalizer`: clean, CJK spacing, accents, lower-case), and
///    added tokens marked `normalized` are cut out of that;
/// 3. pre-tokenisation splits on whitespace (dropped) and isolates each punctuation scalar;
/// 4. each word is split greedily into WordPiece pieces (`WordPieceVocabulary.split`).
/// `encode` then adds `[CLS]` … `[SEP]` (and `… [SEP]` for a pair), truncates and reports word ids.
///
/// Load one with `WordPieceTokenizer(folder:)` (see `WordPieceTokenizer+Loading.swift`).
public final class WordPieceTokenizer: Sendable {
    public let vocabulary: WordPieceVocabulary
    public let normalizer: BertNormalizer
    public let addedTokens: [AddedToken]
    public let clsToken: String, clsID: Int
    public let sepToken: String, sepID: Int
    public let padToken: String, padID: Int
    /// Largest input length the model takes, when the tokenizer config states it (512 for BERT).
    public let modelMaxLength: Int?

    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let addedContentByID: [Int: String]

    /// Builds a tokenizer from its parts. `cls`, `sep` and `pad` must be in the vocabulary or
    /// among `addedTokens`; `source` names the file in error messages.
    public init(
        vocabulary: WordPieceVocabulary, normalizer: BertNormalizer = .uncased, addedTokens: [AddedToken]? = nil,
        clsToken: String = "[CLS]", sepToken: String = "[SEP]", padToken: String = "[PAD]",
        modelMaxLength: Int? = nil, source: String = "tokenizer"
    ) throws {
        // Without a tokenizer.json, BertTokenizerFast registers the five standard specials.
        let added = addedTokens ?? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { name in
            vocabulary.id(of: name).map { AddedToken(content: name, id: $0) }
        }
        var contents: [Int: String] = [:]
        for t in added { contents[t.id] = t.content }
        func resolve(_ name: String) throws -> Int {
            if let t = added.first(where: { $0.content == name }) { return t.id }
            if let id = vocabulary.id(of: name) { return id }
            throw TokenizerError.missingSpecialToken(path: source, token: name)
        }
        self.vocabulary = vocabulary
        self.normalizer = normalizer
        self.addedTokens = added
        self.clsToken = clsToken
        self.clsID = try resolve(clsToken)
        self.sepToken = sepToken
        self.sepID = try resolve(sepToken)
        self.padToken = padToken
        self.padID = try resolve(padToken)
        self.modelMaxLength = modelMaxLength
        self.addedContentByID = contents
        self.rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized }.map { (Array($0.content.unicodeScalars), $0) })
        self.normalizedMatcher = AddedTokenMatcher(
            added.filter(\.normalized).map { (normalizer.normalize($0.content.unicodeScalars), $0) })
    }

    // MARK: - Tokenisation without special tokens

    /// Token ids of `text` grouped by pre-token (word), without `[CLS]`/`[SEP]`.
    public func wordPieces(_ text: String) -> [[Int]] {
        var words: [[Int]] = []
        for segment in rawMatcher.split(Array(text.unicodeScalars)) {
            switch segment {
            case let .added(id): words.append([id])
            case let .text(raw):
                for inner in normalizedMatcher.split(normalizer.normalize(raw)) {
                    switch inner {
                    case let .added(id): words.append([id])
                    case let .text(normalized):
                        for word in Self.preTokenize(normalized) { words.append(vocabulary.split(word: word)) }
                    }
                }
            }
        }
        return words
    }

    /// Token strings of `text`, without special tokens (like `tokenizer.tokenize`).
    public func tokenize(_ text: String) -> [String] {
        wordPieces(text).joined().map { token(for: $0) }
    }

    /// Token string for an id (vocabulary entry or added token; `[UNK]` text for an unknown id).
    public func token(for id: Int) -> String {
        addedContentByID[id] ?? vocabulary.token(of: id) ?? vocabulary.unknownToken
    }

    /// BERT pre-tokenisation of normalised text: whitespace separates words and is dropped,
    /// every punctuation scalar is a word of its own.
    static func preTokenize(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for c in scalars {
            if BertCharacterClass.isWhitespace(c) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if BertCharacterClass.isPunctuation(c) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([c])
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    // MARK: - Encoding

    /// Encodes a text (and optionally a second text of a pair) with `[CLS] a [SEP] (b [SEP])`,
    /// segment ids 0/1, and truncation to `truncation.maxLength` positions in total.
    public func encode(
        _ text: String, pair: String? = nil, addSpecialTokens: Bool = true, truncation: Truncation? = nil
    ) -> Encoding {
        let a = Self.flatten(wordPieces(text))
        let b = pair.map { Self.flatten(wordPieces($0)) }
        return assemble(a, b, addSpecialTokens: addSpecialTokens, truncation: truncation)
    }

    /// Encodes pre-split words (`is_split_into_words=True`): each word is tokenised on its own
    /// and all its pieces carry its index in `wordIDs`. A word that yields no token (empty, or
    /// only control characters) has no position; `LabelAlignment` handles that.
    public func encode(words: [String], addSpecialTokens: Bool = true, truncation: Truncation? = nil) -> Encoding {
        var ids: [Int] = []
        var wordIDs: [Int?] = []
        for (w, word) in words.enumerated() {
            let pieces = wordPieces(word).joined()
            ids += pieces
            wordIDs += Array(repeating: w, count: pieces.count)
        }
        return assemble((ids, wordIDs), nil, addSpecialTokens: addSpecialTokens, truncation: truncation)
    }

    /// Encodes several texts and pads them to one length.
    public func encodeBatch(_ texts: [String], truncation: Truncation? = nil, padding: Padding = Padding()) -> EncodedBatch {
        EncodedBatch(texts.map { encode($0, truncation: truncation) }, padding: padding, padID: padID, padToken: padToken)
    }

    /// Encodes several pre-split sentences and pads them to one length.
    public func encodeBatch(words: [[String]], truncation: Truncation? = nil, padding: Padding = Padding()) -> EncodedBatch {
        EncodedBatch(words.map { encode(words: $0, truncation: truncation) }, padding: padding, padID: padID, padToken: padToken)
    }

    private static func flatten(_ words: [[Int]]) -> (ids: [Int], wordIDs: [Int?]) {
        var ids: [Int] = [], wordIDs: [Int?] = []
        for (w, pieces) in words.enumerated() {
            ids += pieces
            wordIDs += Array(repeating: w, count: pieces.count)
        }
        return (ids, wordIDs)
    }

    /// Truncates and adds special tokens around one or two token sequences.
    private func assemble(
        _ a: (ids: [Int], wordIDs: [Int?]), _ b: (ids: [Int], wordIDs: [Int?])?, addSpecialTokens: Bool,
        truncation: Truncation?
    ) -> Encoding {
        var keepA = a.ids.count, keepB = b?.ids.count ?? 0
        if let t = truncation {
            let specials = addSpecialTokens ? (b == nil ? 2 : 3) : 0
            (keepA, keepB) = t.keptLengths(keepA, keepB, budget: t.maxLength - specials)
        }
        var e = Encoding(ids: [], tokens: [], typeIDs: [], attentionMask: [], specialTokensMask: [], wordIDs: [], sequenceIDs: [])
        func push(_ id: Int, type: Int, special: Bool, word: Int?, sequence: Int?) {
            e.ids.append(id)
            e.tokens.append(token(for: id))
            e.typeIDs.append(type)
            e.attentionMask.append(1)
            e.specialTokensMask.append(special ? 1 : 0)
            e.wordIDs.append(word)
            e.sequenceIDs.append(sequence)
        }
        if addSpecialTokens { push(clsID, type: 0, special: true, word: nil, sequence: nil) }
        for i in 0..<keepA { push(a.ids[i], type: 0, special: false, word: a.wordIDs[i], sequence: 0) }
        if addSpecialTokens { push(sepID, type: 0, special: true, word: nil, sequence: nil) }
        if let b {
            for i in 0..<keepB { push(b.ids[i], type: 1, special: false, word: b.wordIDs[i], sequence: 1) }
            if addSpecialTokens { push(sepID, type: 1, special: true, word: nil, sequence: nil) }
        }
        return e
    }
}

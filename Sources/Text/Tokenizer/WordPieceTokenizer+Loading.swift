import Foundation

// Loading a WordPiece tokenizer from a Hugging Face model folder: `tokenizer.json` when present
// (what BertTokenizerFast reads), otherwise `vocab.txt` plus the options in
// `tokenizer_config.json` (what BertTokenizerFast converts from). The `truncation` and `padding`
// sections of tokenizer.json are ignored, as transformers ignores them when loading.

extension WordPieceTokenizer {
    /// Loads the tokenizer of a model folder (`tokenizer.json`, else `vocab.txt`).
    public convenience init(folder: String) throws {
        let fm = FileManager.default
        let json = (folder as NSString).appendingPathComponent("tokenizer.json")
        let vocab = (folder as NSString).appendingPathComponent("vocab.txt")
        let config = Self.readConfig((folder as NSString).appendingPathComponent("tokenizer_config.json"))
        if fm.fileExists(atPath: json) {
            try self.init(tokenizerJSON: json, modelMaxLength: config?.modelMaxLength)
        } else if fm.fileExists(atPath: vocab) {
            try self.init(vocabFile: vocab, config: config)
        } else {
            throw TokenizerError.noTokenizerFiles(folder: folder)
        }
    }

    /// Loads a `vocab.txt` with BertTokenizerFast's defaults (uncased unless `config` says
    /// otherwise, `[UNK]`/`[CLS]`/`[SEP]`/`[PAD]`/`[MASK]` specials).
    public convenience init(vocabFile path: String, config: TokenizerConfig? = nil) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TokenizerError.unreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(vocabData: data, source: path, config: config)
    }

    /// Loads a `vocab.txt` held in memory; `path` names it in messages.
    public convenience init(vocabData data: Data, source path: String, config: TokenizerConfig? = nil) throws {
        let c = config ?? TokenizerConfig()
        let vocabulary = try WordPieceVocabulary(vocabData: data, source: path, unknownToken: c.unkToken ?? "[UNK]")
        let normalizer = BertNormalizer(
            cleanText: true, handleChineseChars: c.tokenizeChineseChars ?? true, stripAccents: c.stripAccents,
            lowercase: c.doLowerCase ?? true)
        let specials = [c.padToken ?? "[PAD]", c.unkToken ?? "[UNK]", c.clsToken ?? "[CLS]", c.sepToken ?? "[SEP]", c.maskToken ?? "[MASK]"]
        let added = specials.compactMap { name in vocabulary.id(of: name).map { AddedToken(content: name, id: $0) } }
        try self.init(
            vocabulary: vocabulary, normalizer: normalizer, addedTokens: added, clsToken: c.clsToken ?? "[CLS]",
            sepToken: c.sepToken ?? "[SEP]", padToken: c.padToken ?? "[PAD]", modelMaxLength: c.modelMaxLength, source: path)
    }

    /// Loads a Hugging Face `tokenizer.json` whose model is WordPiece with a BERT normaliser and
    /// pre-tokeniser. Other pipelines are rejected rather than approximated.
    public convenience init(tokenizerJSON path: String, modelMaxLength: Int? = nil) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TokenizerError.unreadable(path: path, reason: error.localizedDescription)
        }
        try self.init(tokenizerJSON: data, source: path, modelMaxLength: modelMaxLength)
    }

    /// Loads a `tokenizer.json` held in memory; `path` names it in messages.
    public convenience init(tokenizerJSON data: Data, source path: String, modelMaxLength: Int? = nil) throws {
        let file: TokenizerFile
        do { file = try JSONDecoder().decode(TokenizerFile.self, from: data) } catch {
            throw TokenizerError.invalid(path: path, problem: "not a tokenizer.json this reader understands (\(Self.describe(error)))")
        }
        if let type = file.model.type, type != "WordPiece" {
            throw TokenizerError.invalid(path: path, problem: "model type is \(type), not WordPiece")
        }
        guard let vocab = file.model.vocab else {
            throw TokenizerError.invalid(path: path, problem: "the model section has no vocab")
        }
        let normalizer: BertNormalizer
        switch file.normalizer {
        case nil:
            normalizer = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        case let n? where n.type == "BertNormalizer":
            normalizer = BertNormalizer(
                cleanText: n.clean_text ?? true, handleChineseChars: n.handle_chinese_chars ?? true,
                stripAccents: n.strip_accents, lowercase: n.lowercase ?? true)
        case let n?:
            throw TokenizerError.invalid(path: path, problem: "normalizer \(n.type) is not supported (only BertNormalizer)")
        }
        if let p = file.pre_tokenizer, p.type != "BertPreTokenizer" {
            throw TokenizerError.invalid(path: path, problem: "pre-tokenizer \(p.type) is not supported (only BertPreTokenizer)")
        }
        let unk = file.model.unk_token ?? "[UNK]"
        let vocabulary = try WordPieceVocabulary(
            entries: vocab.entries, unknownToken: unk, continuingSubwordPrefix: file.model.continuing_subword_prefix ?? "##",
            maxInputCharsPerWord: file.model.max_input_chars_per_word ?? 100, source: path)
        let added = (file.added_tokens ?? []).map {
            AddedToken(content: $0.content, id: $0.id, special: $0.special ?? false, singleWord: $0.single_word ?? false,
                       normalized: $0.normalized ?? false)
        }
        // [CLS] and [SEP] come from the post-processor's template: its first and last special token.
        var cls = "[CLS]", sep = "[SEP]"
        if let post = file.post_processor {
            if let c = post.cls?.name { cls = c }
            if let s = post.sep?.name { sep = s }
            let specials = (post.single ?? []).compactMap { $0.SpecialToken?.id }
            if let first = specials.first, let last = specials.last { cls = first; sep = last }
        }
        try self.init(
            vocabulary: vocabulary, normalizer: normalizer, addedTokens: added, clsToken: cls, sepToken: sep,
            padToken: file.padding?.pad_token ?? "[PAD]", modelMaxLength: modelMaxLength, source: path)
    }

    /// Reads `tokenizer_config.json` if it exists and parses; nil otherwise (it is optional).
    static func readConfig(_ path: String) -> TokenizerConfig? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(TokenizerConfig.self, from: data)
    }

    private static func describe(_ error: Error) -> String {
        if case let DecodingError.keyNotFound(key, ctx) = error {
            return "missing key '\(key.stringValue)' at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))"
        }
        if case let DecodingError.typeMismatch(_, ctx) = error {
            return "unexpected value at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))"
        }
        return "invalid JSON"
    }
}

/// The options of `tokenizer_config.json` that matter for a vocab.txt-only BERT tokenizer.
public struct TokenizerConfig: Decodable, Sendable {
    public var doLowerCase: Bool?
    public var stripAccents: Bool?
    public var tokenizeChineseChars: Bool?
    public var unkToken: String?, clsToken: String?, sepToken: String?, padToken: String?, maskToken: String?
    /// nil when absent or set to transformers' "no limit" placeholder (about 1e30).
    public var modelMaxLength: Int?

    public init() {}

    private enum Keys: String, CodingKey {
        case do_lower_case, strip_accents, tokenize_chinese_chars, unk_token, cls_token, sep_token, pad_token,
             mask_token, model_max_length
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        doLowerCase = try? c.decodeIfPresent(Bool.self, forKey: .do_lower_case)
        stripAccents = try? c.decodeIfPresent(Bool.self, forKey: .strip_accents)
        tokenizeChineseChars = try? c.decodeIfPresent(Bool.self, forKey: .tokenize_chinese_chars)
        // Special tokens are either plain strings or {"content": "..."} objects.
        func special(_ key: Keys) -> String? {
            if let s = try? c.decodeIfPresent(String.self, forKey: key) { return s }
            return (try? c.decodeIfPresent(NamedContent.self, forKey: key))?.content
        }
        unkToken = special(.unk_token); clsToken = special(.cls_token); sepToken = special(.sep_token)
        padToken = special(.pad_token); maskToken = special(.mask_token)
        if let m = try? c.decodeIfPresent(Double.self, forKey: .model_max_length), m >= 1, m < 1e9 { modelMaxLength = Int(m) }
    }

    private struct NamedContent: Decodable { var content: String }
}

// MARK: - tokenizer.json schema (only the parts used; names as in the file)

private struct TokenizerFile: Decodable {
    struct Model: Decodable {
        var type: String?
        var unk_token: String?
        var continuing_subword_prefix: String?
        var max_input_chars_per_word: Int?
        var vocab: Vocab?
    }
    /// The vocab object, read key by key so ids are kept as written.
    struct Vocab: Decodable {
        var entries: [(String, Int)]
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            entries = try c.allKeys.map { ($0.stringValue, try c.decode(Int.self, forKey: $0)) }
        }
    }
    struct Normalizer: Decodable {
        var type: String
        var clean_text: Bool?, handle_chinese_chars: Bool?, strip_accents: Bool?, lowercase: Bool?
    }
    struct Typed: Decodable { var type: String }
    struct Added: Decodable {
        var id: Int
        var content: String
        var single_word: Bool?, normalized: Bool?, special: Bool?
    }
    /// BertProcessing stores ["[SEP]", 102]; TemplateProcessing a `single` template.
    struct PostProcessor: Decodable {
        struct NameAndID: Decodable {
            var name: String?
            init(from decoder: Decoder) throws {
                var c = try decoder.unkeyedContainer()
                name = try? c.decode(String.self)
            }
        }
        struct Piece: Decodable {
            struct Special: Decodable { var id: String }
            var SpecialToken: Special?
        }
        var cls: NameAndID?, sep: NameAndID?
        var single: [Piece]?
    }
    struct PaddingSection: Decodable { var pad_token: String? }

    var model: Model
    var normalizer: Normalizer?
    var pre_tokenizer: Typed?
    var post_processor: PostProcessor?
    var added_tokens: [Added]?
    var padding: PaddingSection?
}

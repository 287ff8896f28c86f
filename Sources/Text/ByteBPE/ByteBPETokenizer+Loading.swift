import Core
import Foundation

// Reading a Hugging Face `tokenizer.json` whose pipeline is byte-level BPE: no normaliser, a
// ByteLevel pre-tokenizer with GPT-2's regex and no added prefix space, a BPE model without
// subword prefixes/suffixes. Other pipelines are rejected with the reason, not approximated.

extension ByteBPETokenizer {
    /// Loads `tokenizer.json`.
    public convenience init(tokenizerJSON url: URL) throws {
        let c: JSONConfig
        do { c = try JSONConfig(contentsOf: url) } catch {
            throw TokenizerError.unreadable(path: url.path, reason: "\(error)")
        }
        try self.init(tokenizerJSON: c)
    }

    /// Loads a `tokenizer.json` held in memory; `path` names it in messages.
    public convenience init(tokenizerJSON data: Data, source path: String) throws {
        let c: JSONConfig
        do { c = try data.withUnsafeBytes { try JSONConfig(parsing: $0, file: path) } } catch {
            throw TokenizerError.unreadable(path: path, reason: "\(error)")
        }
        try self.init(tokenizerJSON: c)
    }

    /// Builds the tokenizer from a parsed `tokenizer.json` (errors name `c.file`).
    convenience init(tokenizerJSON c: JSONConfig) throws {
        let path = c.file
        func invalid(_ problem: String) -> TokenizerError { .invalid(path: path, problem: problem) }
        do {
            if c.contains("normalizer") {
                throw invalid("has a normalizer (\(try c.nested("normalizer").string("type", default: "?"))); byte-level BPE files such as GPT-2's and Whisper's have none")
            }
            let pre = try c.nested("pre_tokenizer")
            guard try pre.string("type") == "ByteLevel" else {
                throw invalid("pre_tokenizer is \(try pre.string("type")), not ByteLevel")
            }
            guard try !pre.bool("add_prefix_space", default: false), try pre.bool("use_regex", default: true) else {
                throw invalid("ByteLevel with add_prefix_space = true or use_regex = false is not supported")
            }
            let model = try c.nested("model")
            guard try model.string("type", default: "BPE") == "BPE" else { throw invalid("model type is \(try model.string("type")), not BPE") }
            guard try model.string("continuing_subword_prefix", default: "").isEmpty,
                  try model.string("end_of_word_suffix", default: "").isEmpty else {
                throw invalid("BPE with a subword prefix or end-of-word suffix is not byte-level BPE")
            }
            let vocab = try model.intMap("vocab")
            // Merges are "a b" strings (older files) or ["a", "b"] pairs (tokenizers ≥ 0.20).
            guard case let .array(rawMerges)? = model.value("merges") else { throw invalid("model.merges is missing") }
            var merges: [(String, String)] = []
            merges.reserveCapacity(rawMerges.count)
            for (i, m) in rawMerges.enumerated() {
                switch m {
                case let .string(s):
                    let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else { throw invalid("merge \(i) \"\(s)\" is not two symbols separated by a space") }
                    merges.append((String(parts[0]), String(parts[1])))
                case let .array(pair):
                    guard pair.count == 2, case let .string(a) = pair[0], case let .string(b) = pair[1] else {
                        throw invalid("merge \(i) is not a pair of strings")
                    }
                    merges.append((a, b))
                default: throw invalid("merge \(i) is neither a string nor a pair")
                }
            }
            var added: [(content: String, id: Int, special: Bool)] = []
            if c.contains("added_tokens") {
                for t in try c.nestedArray("added_tokens") {
                    added.append((try t.string("content"), try t.int("id"), try t.bool("special", default: false)))
                }
            }
            let (prefix, suffix) = try Self.template(c, addedTokens: added, invalid: invalid)
            try self.init(vocabulary: vocab, merges: merges, addedTokens: added, templatePrefix: prefix,
                          templateSuffix: suffix, source: path)
        } catch let e as TokenizerError {
            throw e
        } catch {
            throw invalid("\(error)")
        }
    }

    /// The special ids before and after `$A` in a `TemplateProcessing` post-processor's `single`
    /// template (empty for none or for a ByteLevel post-processor, which adds nothing).
    static func template(_ c: JSONConfig, addedTokens: [(content: String, id: Int, special: Bool)],
                         invalid: (String) -> TokenizerError) throws -> ([Int], [Int]) {
        guard let post = try c.optionalNested("post_processor"), try post.string("type") == "TemplateProcessing",
              case let .array(single)? = post.value("single") else { return ([], []) }
        var prefix: [Int] = [], suffix: [Int] = [], seenSequence = false
        for item in single {
            guard case let .object(o) = item else { throw invalid("post_processor.single has a non-object entry") }
            if o["Sequence"] != nil { seenSequence = true; continue }
            guard case let .object(special)? = o["SpecialToken"], case let .string(name)? = special["id"],
                  let id = addedTokens.first(where: { $0.content == name })?.id else {
                throw invalid("post_processor.single names a special token that is not an added token")
            }
            if seenSequence { suffix.append(id) } else { prefix.append(id) }
        }
        return (prefix, suffix)
    }
}

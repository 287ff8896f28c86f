import Foundation
import Testing
@testable import Text

/// WordPiece tokenisation against BertTokenizerFast (transformers 5.24) on the real
/// all-MiniLM-L6-v2 tokenizer: `fixtures/minilm/tokenizer_cases.json`.
@Suite struct WordPieceTokenizerTests {
    static func cases() throws -> [String: Any] {
        try #require(try Fixtures.json("minilm/tokenizer_cases.json") as? [String: Any])
    }

    /// Both loaders (tokenizer.json and vocab.txt + tokenizer_config.json) must agree with the reference.
    static func tokenizers() throws -> [(String, WordPieceTokenizer)] {
        let folder = try Fixtures.miniLMFolder()
        let json = try WordPieceTokenizer(tokenizerJSON: folder + "/tokenizer.json")
        let vocab = try WordPieceTokenizer(
            vocabFile: folder + "/vocab.txt", config: WordPieceTokenizer.readConfig(folder + "/tokenizer_config.json"))
        return [("tokenizer.json", json), ("vocab.txt", vocab), ("folder", try WordPieceTokenizer(folder: folder))]
    }

    @Test func everyTextCaseMatchesBertTokenizerFast() throws {
        let cases = try #require(try Self.cases()["cases"] as? [[String: Any]])
        #expect(cases.count == 25)
        for (name, tok) in try Self.tokenizers() {
            for c in cases {
                let text = try #require(c["text"] as? String)
                let e = tok.encode(text)
                #expect(e.ids == ints(c["input_ids"]), "\(name): \(text.debugDescription)")
                #expect(e.tokens == strings(c["tokens"]), "\(name): \(text.debugDescription)")
                #expect(e.typeIDs == Array(repeating: 0, count: e.count))
                #expect(e.attentionMask == Array(repeating: 1, count: e.count))
            }
        }
    }

    @Test func everyPreSplitCaseMatchesWordIDs() throws {
        let cases = try #require(try Self.cases()["split_words"] as? [[String: Any]])
        #expect(cases.count == 5)
        for (name, tok) in try Self.tokenizers() {
            for c in cases {
                let words = strings(c["words"])
                let e = tok.encode(words: words)
                #expect(e.ids == ints(c["input_ids"]), "\(name): \(words)")
                #expect(e.wordIDs == optionalInts(c["word_ids"]), "\(name): \(words)")
            }
        }
    }

    @Test func vocabularyAndSpecials() throws {
        let tok = try WordPieceTokenizer(folder: Fixtures.miniLMFolder())
        // Ids as listed in the model's tokenizer.json added_tokens.
        #expect(tok.vocabulary.count == 30522)
        #expect(tok.padID == 0 && tok.vocabulary.unknownID == 100 && tok.clsID == 101 && tok.sepID == 102)
        #expect(tok.vocabulary.maxInputCharsPerWord == 100)
        #expect(tok.modelMaxLength == 512)
    }

    /// Word-length limit: 100 scalars still split, 101 become [UNK] (the limit is `>` 100).
    @Test func maxInputCharsBoundary() throws {
        let tok = try WordPieceTokenizer(folder: Fixtures.miniLMFolder())
        let at = tok.tokenize(String(repeating: "a", count: 100))
        #expect(!at.contains("[UNK]") && at.count > 1)
        #expect(tok.tokenize(String(repeating: "a", count: 101)) == ["[UNK]"])
    }

    /// Pair encoding: `[CLS] a [SEP] b [SEP]` with type ids 0…0 1…1 (hand-derived from the single
    /// cases "Hello, world!" and "end." in the fixture).
    @Test func pairEncoding() throws {
        let tok = try WordPieceTokenizer(folder: Fixtures.miniLMFolder())
        let e = tok.encode("Hello, world!", pair: "end.")
        #expect(e.ids == [101, 7592, 1010, 2088, 999, 102, 2203, 1012, 102])
        #expect(e.typeIDs == [0, 0, 0, 0, 0, 0, 1, 1, 1])
        #expect(e.sequenceIDs == [nil, 0, 0, 0, 0, nil, 1, 1, nil])
        #expect(e.specialTokensMask == [1, 0, 0, 0, 0, 1, 0, 0, 1])
    }

    @Test func truncationAndPadding() throws {
        let tok = try WordPieceTokenizer(folder: Fixtures.miniLMFolder())
        // "The quick brown fox …" has 10 content tokens; keep 4 + [CLS]/[SEP].
        let e = tok.encode("The quick brown fox jumps over the lazy dog.", truncation: Truncation(maxLength: 6))
        #expect(e.ids == [101, 1996, 4248, 2829, 4419, 102])
        let words = tok.encode(words: ["BRUSSELS", "1996-08-22"], truncation: Truncation(maxLength: 4))
        #expect(words.ids == [101, 9371, 2727, 102] && words.wordIDs == [nil, 0, 1, nil])

        let batch = tok.encodeBatch(["Hello, world!", "end."], padding: Padding(.longest, multipleOf: 4))
        #expect(batch.batchSize == 2 && batch.sequenceLength == 8)
        #expect(batch.inputIDs == [101, 7592, 1010, 2088, 999, 102, 0, 0, 101, 2203, 1012, 102, 0, 0, 0, 0])
        #expect(batch.attentionMask == [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0])
        #expect(batch.encodings[1].wordIDs == [nil, 0, 1, nil, nil, nil, nil, nil])
        #expect(batch.encodings[1].tokens.suffix(4) == ["[PAD]", "[PAD]", "[PAD]", "[PAD]"])
    }

    /// LongestFirst pair truncation: the table of `tokenizers`' own unit test
    /// (utils/truncation.rs, max_length 7, lengths 0/2/4/8) restated here.
    @Test func longestFirstMatchesReferenceTable() {
        let t = Truncation(maxLength: 7)
        let table: [(Int, Int, Int, Int)] = [
            (0, 0, 0, 0), (0, 2, 0, 2), (0, 4, 0, 4), (0, 8, 0, 7), (2, 0, 2, 0), (2, 2, 2, 2), (2, 4, 2, 4),
            (2, 8, 2, 5), (4, 0, 4, 0), (4, 2, 4, 2), (4, 4, 3, 4), (4, 8, 3, 4), (8, 0, 7, 0), (8, 2, 5, 2),
            (8, 4, 4, 3), (8, 8, 3, 4),
        ]
        for (a, b, ka, kb) in table {
            let kept = t.keptLengths(a, b, budget: 7)
            #expect(kept == (ka, kb), "\(a),\(b) -> \(kept), expected \(ka),\(kb)")
        }
        #expect(t.keptLengths(4, 4, budget: 0) == (0, 0))
    }

    /// Character classes on scalars the fixture does not cover.
    @Test func characterClassesAndNormalizer() {
        let n = BertNormalizer.uncased
        // Zero-width space (Cf) is removed; U+2028 (Zl) is whitespace; `$` is BERT punctuation.
        #expect(n.normalize("a\u{200B}b\u{2028}c\u{0}") == "ab c")
        #expect(BertCharacterClass.isPunctuation("$") && BertCharacterClass.isPunctuation("¿"))
        #expect(!BertCharacterClass.isPunctuation("©"))
        // Hangul is not isolated, CJK is.
        #expect(n.normalize("中a") == " 中 a")
        #expect(BertNormalizer.cased.normalize("Café") == "Café")
        // Full lower-case mapping: İ → i + combining dot, which accent stripping then removes.
        #expect(n.normalize("İ") == "i")
        #expect(BertNormalizer(stripAccents: false, lowercase: true).normalize("İ") == "i\u{307}")
    }

    @Test func missingFilesGiveClearErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-text-\(getpid())-tok").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: TokenizerError.noTokenizerFiles(folder: dir)) { try WordPieceTokenizer(folder: dir) }
        // A vocabulary without [UNK]; and one with Windows line endings and a BOM that is fine.
        try "hello\nworld\n".write(toFile: dir + "/vocab.txt", atomically: true, encoding: .utf8)
        #expect(throws: TokenizerError.missingSpecialToken(path: dir + "/vocab.txt", token: "[UNK]")) {
            try WordPieceTokenizer(folder: dir)
        }
        try "\u{FEFF}[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n".write(toFile: dir + "/vocab.txt", atomically: true, encoding: .utf8)
        let tok = try WordPieceTokenizer(folder: dir)
        #expect(tok.vocabulary.count == 6)
        #expect(tok.encode("Hellos world").ids == [2, 4, 5, 1, 3])
        try "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}".write(toFile: dir + "/tokenizer.json", atomically: true, encoding: .utf8)
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(folder: dir) }
    }
}

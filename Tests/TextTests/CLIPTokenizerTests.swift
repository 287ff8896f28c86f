import Foundation
import Testing
import TestSupport
@testable import Text

/// CLIP's byte-level BPE against `fixtures/text/clip_bpe_cases.json`: 22 strings run through OpenAI's
/// `simple_tokenizer` (with ftfy) and `clip.tokenize(context_length=77, truncate=True)`. Every stage is
/// compared: cleaned text, regex pieces, BPE symbols, ids, the 77-id context and the decoded text.
@Suite struct CLIPTokenizerTests {
    static let mergesURL = TestPaths.fixture("text/bpe_simple_vocab_16e6.txt.gz")
    nonisolated(unsafe) static let tokenizer: Result<CLIPTokenizer, any Error> = Result { try CLIPTokenizer(mergesFile: mergesURL) }

    struct Case {
        let name, text, cleaned, decoded: String
        let preTokens, bpeTokens: [String]
        let ids, context: [Int]
        let needsFtfy: Bool
    }

    static func cases() throws -> (vocab: [String: Any], cases: [Case]) {
        let data = try Data(contentsOf: TestPaths.fixture("text/clip_bpe_cases.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try #require(root["cases"] as? [[String: Any]])
        let cases = list.map { c in
            Case(name: c["name"] as? String ?? "?", text: c["text"] as? String ?? "", cleaned: c["cleaned"] as? String ?? "",
                 decoded: c["decoded"] as? String ?? "", preTokens: c["pre_tokens"] as? [String] ?? [],
                 bpeTokens: c["bpe_tokens"] as? [String] ?? [], ids: c["ids"] as? [Int] ?? [],
                 context: c["input_ids_77"] as? [Int] ?? [], needsFtfy: c["needs_ftfy"] as? Bool ?? false)
        }
        return (try #require(root["vocab"] as? [String: Any]), cases)
    }

    @Test func vocabularyFromTheMergesFile() throws {
        let tok = try Self.tokenizer.get()
        let (vocab, _) = try Self.cases()
        #expect(tok.vocabulary.count == 49408)
        #expect(tok.startID == 49406 && tok.endID == 49407)
        let samples = try #require(vocab["sample_ids"] as? [String: Int])
        for (token, id) in samples { #expect(tok.ids[token] == id, "\(token): \(String(describing: tok.ids[token])) vs \(id)") }
        #expect(tok.vocabulary[512] == "in" && tok.vocabulary[49405] == "jekyll</w>")  // first and last merges used
    }

    @Test func everyFixtureCase() throws {
        let tok = try Self.tokenizer.get()
        let (_, cases) = try Self.cases()
        #expect(cases.count == 22)
        for c in cases {
            let cleaned = tok.cleaner.clean(c.text)
            #expect(cleaned == c.cleaned, "\(c.name): cleaned \(cleaned.debugDescription) vs \(c.cleaned.debugDescription)")
            let pieces = CLIPPreTokenizer.split(cleaned)
            #expect(pieces == c.preTokens, "\(c.name): pieces \(pieces) vs \(c.preTokens)")
            #expect(pieces.flatMap { tok.bpe($0) } == c.bpeTokens, "\(c.name): BPE symbols")
            #expect(tok.encode(c.text) == c.ids, "\(c.name): ids \(tok.encode(c.text)) vs \(c.ids)")
            #expect(try tok.tokenize(c.text) == c.context, "\(c.name): 77-token context")
            #expect(tok.decode(c.ids) == c.decoded, "\(c.name): decoded \(tok.decode(c.ids).debugDescription)")
        }
    }

    @Test func contextTruncationAndBatch() throws {
        let tok = try Self.tokenizer.get()
        let long = Array(repeating: "cat", count: 100).joined(separator: " ")
        let ids = try tok.tokenize(long)
        #expect(ids.count == 77 && ids[0] == 49406 && ids[76] == 49407 && ids[75] == 2368)
        #expect(throws: TokenizerError.self) { try tok.tokenize(long, truncate: false) }
        let (batch, masks) = try tok.batch(["a photo of a cat", ""])
        #expect(batch[1].prefix(3) == [49406, 49407, 0])
        #expect(masks[0].reduce(0, +) == 7 && masks[1].reduce(0, +) == 2)
    }

    @Test func cleanerDetails() {
        let c = CLIPTextCleaner()
        // Python html.unescape semantics: legacy names without ';', numeric references, C1 remapping, unknown names kept.
        #expect(c.clean("&ampfoo &eacute; &#233; &#x41; &#150; &bogus; a&b") == "&foo é é a – &bogus; a&b")
        #expect(c.clean("ＡＢＣ　“Quote” ‘x’") == "abc \"quote\" 'x'")
        #expect(c.clean("Ça va") == "ça va")              // clean Latin-1 text is not "repaired"
        #expect(c.clean("naÃ¯ve Ã©tÃ©") == "naïve été")   // UTF-8 read as Windows-1252 is
        #expect(c.clean("x\u{0}y\u{FEFF}z") == "xyz")
    }

    @Test func gzipBlocksAndErrors() throws {
        // Made with Python: gzip.GzipFile(mode="wb", compresslevel=0 / 9, mtime=0, filename="").write(data).
        let stored: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0x12, 0x00, 0xed, 0xff, 0x73,
                               0x74, 0x6f, 0x72, 0x65, 0x64, 0x20, 0x62, 0x6c, 0x6f, 0x63, 0x6b, 0x3a, 0x20, 0x43, 0x4c, 0x49,
                               0x50, 0x1a, 0x73, 0x80, 0xdd, 0x12, 0x00, 0x00, 0x00]
        let fixed: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
                              0xc8, 0x40, 0x27, 0x75, 0x14, 0xd2, 0x32, 0x2b, 0x52, 0x53, 0x14, 0x3c, 0x4a, 0xd3, 0xd2, 0x72,
                              0x13, 0xf3, 0x00, 0x22, 0xa4, 0x96, 0xec, 0x26, 0x00, 0x00, 0x00]
        #expect(try Gzip.decompress(stored) == Array("stored block: CLIP".utf8))
        #expect(try Gzip.decompress(fixed) == Array("hello hello hello hello, fixed Huffman".utf8))
        #expect(try Gzip.decompress(stored + fixed) == Array("stored block: CLIPhello hello hello hello, fixed Huffman".utf8))
        var corrupt = fixed
        corrupt[20] ^= 0x10
        #expect(throws: GzipError.self) { try Gzip.decompress(corrupt) }
        #expect(throws: GzipError.self) { try Gzip.decompress(Array(fixed.dropLast(5))) }
        #expect(throws: GzipError.self) { try Gzip.decompress(Array("not gzip at all".utf8)) }
        #expect(throws: GzipError.self) { try Gzip.decompress(fixed, maxOutputBytes: 10) }
        // The real file (dynamic Huffman blocks): `gzip -dc | wc -c` gives 3,194,984 bytes; 262,146 lines.
        let merges = try Gzip.decompress(contentsOf: Self.mergesURL)
        #expect(merges.count == 3_194_984)
        #expect(merges.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count == 262_146)
    }

    @Test func huggingFaceFolderLayout() throws {
        // vocab.json + merges.txt written from the OpenAI file give the same tokenizer.
        let tok = try Self.tokenizer.get()
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let vocab = try JSONSerialization.data(withJSONObject: Dictionary(uniqueKeysWithValues: tok.vocabulary.enumerated().map { ($1, $0) }))
        try vocab.write(to: dir.appendingPathComponent("vocab.json"))
        // Each merge's two halves, re-derived from the merge table in rank order.
        let merges = tok.merges.sorted { $0.value.rank < $1.value.rank }
            .map { "\(tok.vocabulary[Int($0.key >> 32)]) \(tok.vocabulary[Int($0.key & 0xFFFF_FFFF)])" }
        #expect(merges.count == CLIPTokenizer.mergeCount)
        try ("#version: 0.2\n" + merges.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        let hf = try CLIPTokenizer(folder: dir)
        #expect(try hf.tokenize("A photo of a Café, 2024!") == tok.tokenize("A photo of a Café, 2024!"))
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(folder: dir.appendingPathComponent("missing")) }
    }
}

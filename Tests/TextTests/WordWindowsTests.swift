import Testing
@testable import Text

/// Sliding windows over long pre-split sentences. Expected ranges worked by hand: every "the"
/// is one token (id 1996) in the MiniLM vocabulary.
@Suite struct WordWindowsTests {
    @Test func shortSentenceIsOneWindowEqualToEncode() throws {
        let tok = try WordPieceTokenizer(folder: Fixtures.miniLMFolder())
        let words = ["BRUSSELS", "1996-08-22"]
        let w = tok.encodeWindows(words: words, maxLength: 128)
        #expect(w.count == 1 && w[0].encoding == tok.encode(words: words) && w[0].ownedWords == 0..<2)
        let empty = tok.encodeWindows(words: [], maxLength: 8)
        #expect(empty.count == 1 && empty[0].encoding.ids == [101, 102])
    }

    /// 20 one-token words, 8 tokens per window, 2 shared: windows [0,8) [6,14) [12,20); each
    /// 2-word overlap is split in the middle, so ownership is [0,7) [7,13) [13,20).
    @Test func overlappingWindowsPartitionOwnership() throws {
        let tok = try WordPieceTokenizer(folder: Fixtures.miniLMFolder())
        let w = tok.encodeWindows(words: Array(repeating: "the", count: 20), maxLength: 10, overlap: 2)
        #expect(w.map(\.words) == [0..<8, 6..<14, 12..<20])
        #expect(w.map(\.ownedWords) == [0..<7, 7..<13, 13..<20])
        #expect(w[1].encoding.ids == [101] + Array(repeating: 1996, count: 8) + [102])
        #expect(w[1].encoding.wordIDs == [nil] + (6..<14).map { Optional($0) } + [nil])
        // Labels for the whole sentence align directly, since word ids are sentence-wide.
        let labels = LabelAlignment.tokenLabels(wordLabels: Array(0..<20), wordIDs: w[2].encoding.wordIDs)
        #expect(labels == [-100] + Array(12..<20) + [-100])
    }

    /// A word longer than a window keeps its first pieces and does not stall the scan.
    @Test func overlongWordIsCut() throws {
        let tok = try WordPieceTokenizer(folder: Fixtures.miniLMFolder())
        let w = tok.encodeWindows(words: ["the", "antidisestablishmentarianism", "the"], maxLength: 6, overlap: 1)
        #expect(w.map(\.words) == [0..<1, 1..<2, 2..<3])
        #expect(w[1].encoding.ids == [101, 3424, 10521, 4355, 7875, 102])  // first 4 of its 8 pieces (fixture)
        #expect(w.map(\.ownedWords) == [0..<1, 1..<2, 2..<3])
        #expect(w.allSatisfy { $0.encoding.count <= 6 })
    }
}

import Testing
@testable import Text

/// Word ↔ sub-token label alignment (HF convention: label on the first sub-token, -100 elsewhere).
/// Word ids are the BertTokenizerFast ones from `minilm/tokenizer_cases.json`.
@Suite struct LabelAlignmentTests {
    /// `["BRUSSELS", "1996-08-22"]` → word ids [nil, 0, 1, 1, 1, 1, 1, nil] (fixture).
    @Test func firstSubtokenCarriesTheLabel() {
        let wordIDs: [Int?] = [nil, 0, 1, 1, 1, 1, 1, nil]
        #expect(LabelAlignment.tokenLabels(wordLabels: [3, 0], wordIDs: wordIDs) == [-100, 3, 0, -100, -100, -100, -100, -100])
        #expect(LabelAlignment.tokenLabels(wordLabels: [3, 0], wordIDs: wordIDs, labelAllSubtokens: true) == [-100, 3, 0, 0, 0, 0, 0, -100])
        // Back: the prediction at each word's first sub-token.
        let tokenPredictions = [9, 3, 0, 7, 7, 7, 7, 9]
        #expect(LabelAlignment.wordValues(tokenValues: tokenPredictions, wordIDs: wordIDs, wordCount: 2) == [3, 0])
    }

    @Test func roundTripThroughTheRealTokenizer() throws {
        let tok = try WordPieceTokenizer(folder: Fixtures.miniLMFolder())
        // The fixture's CoNLL-2003 sentence plus a zero-width space, which yields no token at all.
        let words = ["EU", "rejects", "German", "\u{200B}", "call", "antidisestablishmentarianism"]
        let labels = [1, 0, 2, 0, 0, 0]
        let e = tok.encode(words: words)
        let tokenLabels = LabelAlignment.tokenLabels(wordLabels: labels, wordIDs: e.wordIDs)
        #expect(tokenLabels.count == e.count)
        #expect(tokenLabels.filter { $0 != -100 }.count == 5)  // one per word that has a token
        #expect(LabelAlignment.wordsWithoutTokens(wordIDs: e.wordIDs, wordCount: words.count) == [3])
        let back = LabelAlignment.wordValues(tokenValues: tokenLabels, wordIDs: e.wordIDs, wordCount: words.count)
        #expect(back == [1, 0, 2, nil, 0, 0])
        // Truncation cuts words off the end; they come back as nil, not as a crash.
        let short = tok.encode(words: words, truncation: Truncation(maxLength: 6))
        let cut = LabelAlignment.wordValues(tokenValues: short.ids, wordIDs: short.wordIDs, wordCount: words.count)
        #expect(cut.map { $0 != nil } == [true, true, true, false, true, false])
    }

    @Test func badWordIDsAreIgnoredNotFatal() {
        #expect(LabelAlignment.tokenLabels(wordLabels: [1], wordIDs: [nil, 0, 5, nil]) == [-100, 1, -100, -100])
        #expect(LabelAlignment.wordValues(tokenValues: [1, 2], wordIDs: [0, 1, 2], wordCount: 1) == [1])
    }
}

/// Moves labels between words and WordPiece tokens, Hugging Face's token-classification
/// convention: the first sub-token of each word carries the word's label; later sub-tokens,
/// `[CLS]`/`[SEP]` and padding get `ignoreIndex` (-100), which the loss skips.
public enum LabelAlignment {
    /// The label index the cross-entropy loss ignores (PyTorch's default).
    public static let ignoreIndex = -100

    /// Token-level label ids from word-level ones. `wordIDs` comes from
    /// `WordPieceTokenizer.encode(words:)` (nil for specials and padding). With
    /// `labelAllSubtokens`, every sub-token gets its word's label instead.
    /// Word ids outside `wordLabels` (a caller mix-up) also get `ignoreIndex`, never a crash.
    public static func tokenLabels(
        wordLabels: [Int], wordIDs: [Int?], labelAllSubtokens: Bool = false, ignoreIndex: Int = LabelAlignment.ignoreIndex
    ) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(wordIDs.count)
        var previous: Int?
        for w in wordIDs {
            if let w, wordLabels.indices.contains(w), w != previous || labelAllSubtokens {
                out.append(wordLabels[w])
            } else {
                out.append(ignoreIndex)
            }
            previous = w
        }
        return out
    }

    /// Word-level values (e.g. predicted label ids or logits rows) from token-level ones: each
    /// word takes the value at its first sub-token. Words with no token (dropped by the
    /// tokenizer, e.g. a lone control character, or cut off by truncation) are nil; the caller
    /// decides (the NER tools predict `O` for them).
    public static func wordValues<T>(tokenValues: [T], wordIDs: [Int?], wordCount: Int) -> [T?] {
        var out = [T?](repeating: nil, count: max(wordCount, 0))
        for (i, w) in wordIDs.enumerated() where i < tokenValues.count {
            if let w, out.indices.contains(w), out[w] == nil { out[w] = tokenValues[i] }
        }
        return out
    }

    /// Indices of words that no token represents (`wordValues` would give nil for them).
    public static func wordsWithoutTokens(wordIDs: [Int?], wordCount: Int) -> [Int] {
        let seen = Set(wordIDs.compactMap { $0 })
        return (0..<max(wordCount, 0)).filter { !seen.contains($0) }
    }
}

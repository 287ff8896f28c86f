/// One window of a pre-split sentence that is too long for the model in one piece.
public struct WordWindow: Sendable, Equatable {
    /// `[CLS] pieces of words[words] [SEP]`; `wordIDs` hold sentence-wide word indices, so
    /// `LabelAlignment` works on it with the whole sentence's labels.
    public var encoding: Encoding
    /// The words this window contains.
    public var words: Range<Int>
    /// The words whose prediction should be taken from this window: the windows' `ownedWords`
    /// partition the sentence, each overlap being split at its middle so every word is read
    /// from the window where it has context on both sides.
    public var ownedWords: Range<Int>
}

extension WordPieceTokenizer {
    /// Splits pre-split words into windows of at most `maxLength` positions (with `[CLS]`/`[SEP]`),
    /// cutting only between words, with about `overlap` tokens of shared context between
    /// neighbouring windows. A sentence that fits gives one window, equal to
    /// `encode(words:truncation:)`. A single word with more pieces than fit keeps its first
    /// pieces (its label sits on the first one anyway).
    public func encodeWindows(words: [String], maxLength: Int, overlap: Int = 32) -> [WordWindow] {
        let pieces = words.map { Array(wordPieces($0).joined()) }
        let budget = max(maxLength - 2, 1)
        let overlap = min(max(overlap, 0), budget / 2)

        // Word ranges: grow each window while the next word fits; start the next one early
        // enough that the last `overlap` tokens are repeated, but always move forward.
        var ranges: [Range<Int>] = []
        var start = 0
        while start < words.count || (words.isEmpty && ranges.isEmpty) {
            var end = start, used = 0
            while end < words.count && (end == start || used + pieces[end].count <= budget) {
                used += pieces[end].count
                end += 1
            }
            ranges.append(start..<end)
            if end >= words.count { break }
            var next = end, shared = 0
            while next - 1 > start && shared + pieces[next - 1].count <= overlap {
                shared += pieces[next - 1].count
                next -= 1
            }
            start = next
        }

        // Ownership: split each overlap at its midpoint.
        var owned: [Range<Int>] = []
        var ownedStart = 0
        for (i, r) in ranges.enumerated() {
            let ownedEnd: Int
            if i + 1 < ranges.count {
                let nextStart = ranges[i + 1].lowerBound
                ownedEnd = max(nextStart + (r.upperBound - nextStart + 1) / 2, ownedStart)
            } else {
                ownedEnd = words.count
            }
            owned.append(ownedStart..<ownedEnd)
            ownedStart = ownedEnd
        }

        return zip(ranges, owned).map { r, own in
            var ids: [Int] = [], wordIDs: [Int?] = []
            for w in r {
                ids += pieces[w]
                wordIDs += Array(repeating: w, count: pieces[w].count)
            }
            if ids.count > budget { ids = Array(ids.prefix(budget)); wordIDs = Array(wordIDs.prefix(budget)) }
            let content = zip(ids, wordIDs).map { ($0, $1) }
            var e = Encoding(ids: [], tokens: [], typeIDs: [], attentionMask: [], specialTokensMask: [], wordIDs: [], sequenceIDs: [])
            let all: [(Int, Int?, Bool)] = [(clsID, nil, true)] + content.map { ($0.0, $0.1, false) } + [(sepID, nil, true)]
            for (id, word, special) in all {
                e.ids.append(id)
                e.tokens.append(token(for: id))
                e.typeIDs.append(0)
                e.attentionMask.append(1)
                e.specialTokensMask.append(special ? 1 : 0)
                e.wordIDs.append(word)
                e.sequenceIDs.append(special ? nil : 0)
            }
            return WordWindow(encoding: e, words: r, ownedWords: own)
        }
    }
}

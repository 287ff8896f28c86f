import Core
import Foundation

/// One model input of the NER task: a window of a pre-split sentence (a whole sentence when
/// it fits) with its token-level labels.
public struct NERWindow: Sendable, Equatable {
    /// Index of the sentence the window comes from.
    public var sentence: Int
    /// `[CLS] pieces… [SEP]` with sentence-wide word ids.
    public var encoding: Encoding
    /// One label id per token: the word's label on the first sub-token of each word the window
    /// owns, `LabelAlignment.ignoreIndex` (-100) everywhere else (later sub-tokens, specials and
    /// the context-only words of an overlap, which another window owns). Empty when unlabelled.
    public var labels: [Int]
    /// The words whose predictions are read from this window.
    public var ownedWords: Range<Int>

    /// Positions in the window (the padding-free length).
    public var length: Int { encoding.count }
}

/// Turns sentences into model windows and windows into batches.
///
/// Long sentences are split by `WordPieceTokenizer.encodeWindows` into windows of at most
/// `maxLength` positions that overlap by about `overlap` tokens; each word is owned by exactly
/// one window, which is where it is trained and read. Batches group windows of similar length
/// (less padding, so less wasted compute) while staying random from epoch to epoch.
///
/// ```swift
/// let windows = NERFeatures.windows(sentences, labels: ids, tokenizer: tok, maxLength: 128)
/// for batch in NERFeatures.trainingBatches(windows, batchSize: 16, rng: &rng) { … }
/// ```
public enum NERFeatures {
    /// Windows of every sentence in sentence order. `labels` (word-level ids per sentence) may
    /// be nil for prediction.
    public static func windows(
        _ sentences: [[String]], labels: [[Int]]?, tokenizer: WordPieceTokenizer, maxLength: Int, overlap: Int = 32
    ) -> [NERWindow] {
        var out: [NERWindow] = []
        out.reserveCapacity(sentences.count)
        for (s, words) in sentences.enumerated() {
            for w in tokenizer.encodeWindows(words: words, maxLength: maxLength, overlap: overlap) {
                var tokenLabels: [Int] = []
                if let labels {
                    tokenLabels = LabelAlignment.tokenLabels(wordLabels: labels[s], wordIDs: w.encoding.wordIDs)
                    for (i, word) in w.encoding.wordIDs.enumerated() where !(word.map { w.ownedWords.contains($0) } ?? false) {
                        tokenLabels[i] = LabelAlignment.ignoreIndex
                    }
                }
                out.append(NERWindow(sentence: s, encoding: w.encoding, labels: tokenLabels, ownedWords: w.ownedWords))
            }
        }
        return out
    }

    /// Training batches (window indices) for one epoch, Hugging Face's length-grouped sampling:
    /// shuffle, cut into mega-batches of 50 batches, sort each by length (longest first), cut
    /// those into batches, and shuffle the batch order.
    public static func trainingBatches(_ windows: [NERWindow], batchSize: Int, rng: inout SplitMix64) -> [[Int]] {
        var order = Array(windows.indices)
        shuffle(&order, &rng)
        let mega = max(batchSize * 50, 1)
        var batches: [[Int]] = []
        var start = 0
        while start < order.count {
            let group = order[start..<min(start + mega, order.count)].sorted { (windows[$0].length, $1) > (windows[$1].length, $0) }
            var b = 0
            while b < group.count {
                batches.append(Array(group[b..<min(b + batchSize, group.count)]))
                b += batchSize
            }
            start += mega
        }
        shuffle(&batches, &rng)
        return batches
    }

    /// Evaluation batches: all windows sorted by length, cut in order (no randomness).
    public static func evaluationBatches(_ windows: [NERWindow], batchSize: Int) -> [[Int]] {
        let order = windows.indices.sorted { (windows[$0].length, $1) > (windows[$1].length, $0) }
        return stride(from: 0, to: order.count, by: max(batchSize, 1)).map { Array(order[$0..<min($0 + batchSize, order.count)]) }
    }

    /// A padded batch: model input and the labels padded with -100 to the batch length.
    public static func batch(_ windows: [NERWindow], _ indices: [Int], tokenizer: WordPieceTokenizer) throws -> (input: BertInput, labels: [Int], tokens: Int) {
        let encodings = indices.map { windows[$0].encoding }
        let encoded = EncodedBatch(encodings, padID: tokenizer.padID, padToken: tokenizer.padToken)
        var labels: [Int] = []
        labels.reserveCapacity(encoded.batchSize * encoded.sequenceLength)
        for i in indices {
            let l = windows[i].labels
            labels += l
            labels += [Int](repeating: LabelAlignment.ignoreIndex, count: encoded.sequenceLength - l.count)
        }
        let tokens = indices.reduce(0) { $0 + windows[$1].length }
        return (try BertInput(encoded), labels, tokens)
    }

    /// Fisher–Yates with SplitMix64, so the order is the same on every platform and release.
    static func shuffle<T>(_ a: inout [T], _ rng: inout SplitMix64) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
    }
}

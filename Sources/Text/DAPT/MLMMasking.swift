import Core
import Foundation

/// One masked batch ready for `BertForMaskedLM.loss`: the corrupted input, the flat positions
/// (into `[B·T]`, row-major) whose original token is to be predicted, and those tokens.
public struct MaskedBatch: Sendable, Equatable {
    public var input: BertInput
    public var positions: [Int]
    public var targets: [Int]

    public init(input: BertInput, positions: [Int], targets: [Int]) {
        precondition(positions.count == targets.count, "MaskedBatch: \(positions.count) positions, \(targets.count) targets")
        self.input = input
        self.positions = positions
        self.targets = targets
    }

    /// Hugging Face's `labels` tensor: the original id at picked positions, -100 elsewhere.
    public var labels: [Int] {
        var l = [Int](repeating: LabelAlignment.ignoreIndex, count: input.batch * input.length)
        for (p, t) in zip(positions, targets) { l[p] = t }
        return l
    }
}

/// BERT's masking for masked-LM training, as transformers' `DataCollatorForLanguageModeling`:
/// each non-special token is picked with probability `probability` (default 15%); of the picked,
/// 80% become `[MASK]`, 10% a random vocabulary token, 10% stay unchanged; the loss is on picked
/// positions only. With `wholeWord`, the pick is made per word (a token and the `##` pieces
/// that follow it) and applies to all its pieces (`DataCollatorForWholeWordMask`); the 80/10/10
/// choice is still made per token.
///
/// Every random choice comes from a SplitMix64 stream forked from `seed` by the caller's
/// `stream` number (e.g. epoch and sequence index), so a sequence is masked the same way
/// whatever batch it lands in, and the held-out split can use fixed masks.
///
/// ```swift
/// let masking = MLMMasking(tokenizer: tok, seed: 7)
/// let batch = try masking.batch([ids1, ids2], stream: 0)
/// ```
public struct MLMMasking: Sendable {
    public var probability: Double = 0.15
    public var maskFraction: Double = 0.8
    /// Share of the picked tokens replaced by a random token (the rest stay unchanged).
    public var randomFraction: Double = 0.1
    public var wholeWord = false
    public var seed: UInt64
    public let maskID: Int
    public let padID: Int
    public let vocabularySize: Int
    /// Ids never picked: `[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]` and other added tokens.
    public let specialIDs: Set<Int>
    /// Ids that continue the previous token's word (`##…` pieces), for whole-word masking.
    public let continuationIDs: Set<Int>

    /// Masking for `tokenizer`'s vocabulary. Throws when it has no `[MASK]` token.
    public init(tokenizer: WordPieceTokenizer, seed: UInt64, vocabularySize: Int? = nil) throws {
        let mask = tokenizer.addedTokens.first { $0.content == "[MASK]" }?.id ?? tokenizer.vocabulary.id(of: "[MASK]")
        guard let mask else { throw BertError.badInput("the tokenizer has no [MASK] token, so it cannot be used for masked-LM training") }
        let vocabSize = vocabularySize ?? tokenizer.vocabulary.count
        self.init(maskID: mask, padID: tokenizer.padID, vocabularySize: vocabSize,
                  specialIDs: Set(tokenizer.addedTokens.map(\.id) + [tokenizer.clsID, tokenizer.sepID, tokenizer.padID, mask]),
                  continuationIDs: Set(tokenizer.vocabulary.tokens.indices.filter {
                      tokenizer.vocabulary.tokens[$0].hasPrefix(tokenizer.vocabulary.continuingSubwordPrefix)
                  }), seed: seed)
    }

    /// Masking over explicit ids (tests).
    public init(maskID: Int, padID: Int, vocabularySize: Int, specialIDs: Set<Int>, continuationIDs: Set<Int> = [], seed: UInt64) {
        self.maskID = maskID
        self.padID = padID
        self.vocabularySize = vocabularySize
        self.specialIDs = specialIDs
        self.continuationIDs = continuationIDs
        self.seed = seed
    }

    /// Masks one sequence: the corrupted ids and the picked positions (indices into `ids`).
    public func mask(_ ids: [Int], stream: UInt64) -> (ids: [Int], picked: [Int]) {
        var rng = SplitMix64(seed: seed).fork(stream)
        var pick = [Bool](repeating: false, count: ids.count)
        if wholeWord {
            var i = 0
            while i < ids.count {
                guard !specialIDs.contains(ids[i]) else { i += 1; continue }
                var end = i + 1
                while end < ids.count, continuationIDs.contains(ids[end]), !specialIDs.contains(ids[end]) { end += 1 }
                if Double(rng.nextUnitFloat()) < probability { for j in i..<end { pick[j] = true } }
                i = end
            }
        } else {
            for i in ids.indices where !specialIDs.contains(ids[i]) {
                pick[i] = Double(rng.nextUnitFloat()) < probability
            }
        }
        var out = ids
        var picked: [Int] = []
        // The random token share is taken from what is left after [MASK], as transformers does
        // (Bernoulli(0.5) of the remaining 20% gives 10%).
        let randomGivenNotMasked = maskFraction < 1 ? randomFraction / (1 - maskFraction) : 0
        for i in ids.indices where pick[i] {
            picked.append(i)
            if Double(rng.nextUnitFloat()) < maskFraction {
                out[i] = maskID
            } else if Double(rng.nextUnitFloat()) < randomGivenNotMasked {
                out[i] = Int(rng.next() % UInt64(vocabularySize))
            }
        }
        return (out, picked)
    }

    /// Masks and pads `sequences` (each already with `[CLS]`/`[SEP]`) into one batch. Stream
    /// `streams[i]` masks sequence `i`.
    public func batch(_ sequences: [[Int]], streams: [UInt64]) throws -> MaskedBatch {
        precondition(sequences.count == streams.count, "MLMMasking.batch: one stream per sequence")
        let length = sequences.map(\.count).max() ?? 0
        var ids: [Int] = [], attention: [Int] = [], positions: [Int] = [], targets: [Int] = []
        for (row, (seq, stream)) in zip(sequences, streams).enumerated() {
            let (masked, picked) = mask(seq, stream: stream)
            ids += masked + [Int](repeating: padID, count: length - seq.count)
            attention += [Int](repeating: 1, count: seq.count) + [Int](repeating: 0, count: length - seq.count)
            for p in picked {
                positions.append(row * length + p)
                targets.append(seq[p])
            }
        }
        let input = try BertInput(inputIDs: ids, batch: sequences.count, length: length, attentionMask: attention)
        return MaskedBatch(input: input, positions: positions, targets: targets)
    }
}

import Core

/// One padded batch of token ids for a BERT-family model, row-major `[batch, length]`.
///
/// ```swift
/// let batch = tokenizer.encodeBatch(["Hello!", "The cat sat."])
/// let input = try BertInput(batch)
/// let hidden = try model(input).lastHiddenState    // [2, T, C]
/// ```
public struct BertInput: Sendable, Equatable {
    public let batch: Int
    public let length: Int
    /// `[batch · length]` token ids.
    public let inputIDs: [Int]
    /// `[batch · length]` 1 (attend) / 0 (padding).
    public let attentionMask: [Int]
    /// `[batch · length]` segment ids (all 0 for single sentences).
    public let tokenTypeIDs: [Int]

    /// Checks that the arrays fill `[batch, length]` and the mask is 1/0. A nil mask attends
    /// everywhere; nil token types are all 0.
    public init(inputIDs: [Int], batch: Int, length: Int, attentionMask: [Int]? = nil, tokenTypeIDs: [Int]? = nil) throws {
        guard batch > 0, length > 0 else { throw BertError.badInput("empty batch [\(batch), \(length)]; give at least one token") }
        let n = batch * length
        guard inputIDs.count == n else {
            throw BertError.badInput("\(inputIDs.count) token ids do not fill [\(batch), \(length)]")
        }
        let mask = attentionMask ?? [Int](repeating: 1, count: n)
        guard mask.count == n else { throw BertError.badInput("attention mask has \(mask.count) entries, ids have \(n)") }
        if let bad = mask.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw BertError.badInput("attention mask value \(mask[bad]) at position \(bad) is not 0 or 1")
        }
        let types = tokenTypeIDs ?? [Int](repeating: 0, count: n)
        guard types.count == n else { throw BertError.badInput("token type ids have \(types.count) entries, ids have \(n)") }
        self.batch = batch
        self.length = length
        self.inputIDs = inputIDs
        self.attentionMask = mask
        self.tokenTypeIDs = types
    }

    /// A tokenizer's padded batch.
    public init(_ encoded: EncodedBatch) throws {
        try self.init(inputIDs: encoded.inputIDs, batch: encoded.batchSize, length: encoded.sequenceLength,
                      attentionMask: encoded.attentionMask, tokenTypeIDs: encoded.tokenTypeIDs)
    }

    /// Whether every position is attended (no padding): the encoder can then skip the mask.
    public var isUnpadded: Bool { !attentionMask.contains(0) }

    /// The attention mask as a `[batch, length]` tensor of 1/0.
    public var maskTensor: Tensor { Tensor(attentionMask.map(Float.init), shape: [batch, length]) }
}

import Core

/// What CLIP's text tower returns.
public struct CLIPTextOutput {
    /// `[B, T, D]` after `final_layer_norm`.
    public var lastHiddenState: Tensor
    /// `[B, D]`: the hidden state at each row's end-of-text position.
    public var poolerOutput: Tensor
    /// The pooled position of each row.
    public var eosPositions: [Int]
    /// With `outputHiddenStates`: the embeddings followed by every layer's output.
    public var hiddenStates: [Tensor]
}

/// CLIP's text tower (HF `CLIPTextTransformer`, keys under `text_model`): token and position
/// embeddings (`embeddings.token_embedding`, `embeddings.position_embedding`), a pre-norm encoder
/// with a causal mask (`encoder.layers.N`), `final_layer_norm`, and pooling at the end-of-text token.
///
/// Pooling follows Hugging Face: with `eos_token_id == 2` (old configs) the position of the highest
/// id in the row (OpenAI's argmax; `<|endoftext|>` = 49407 is the largest id), otherwise the first
/// position holding `eos_token_id`. A row without it is an error, not a silent position 0.
///
/// ```swift
/// let out = try clip.textModel(inputIds: [[49406, 320, 1125, 49407]])
/// out.poolerOutput                      // [1, 512]
/// ```
public final class CLIPTextTransformer: Module {
    public let config: CLIPTextConfig
    public let tokenEmbedding: Embedding
    public let positionEmbedding: Embedding
    public let encoder: TransformerEncoder
    public let finalLayerNorm: LayerNorm

    public init(config: CLIPTextConfig, seed: UInt64 = 0, at path: ParamPath) throws {
        self.config = config
        tokenEmbedding = try Embedding(count: config.vocabSize, dim: config.hiddenSize, initStd: 0.02,
                                       at: path.pp("embeddings.token_embedding"))
        positionEmbedding = try Embedding(count: config.maxPositions, dim: config.hiddenSize, initStd: 0.01,
                                          at: path.pp("embeddings.position_embedding"))
        encoder = try TransformerEncoder(config: config.layerConfig, layout: .clip, numLayers: config.numLayers,
                                         seed: seed, at: path.pp("encoder"))
        finalLayerNorm = try LayerNorm(dim: config.hiddenSize, eps: config.layerNormEps, at: path.pp("final_layer_norm"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        ModuleTree([("embeddings.token_embedding", tokenEmbedding), ("embeddings.position_embedding", positionEmbedding),
                    ("encoder", encoder), ("final_layer_norm", finalLayerNorm)]).namedChildren()
    }

    /// Where each row is pooled (see the type's notes); throws naming a row that has no end token.
    public func eosPositions(_ inputIds: [[Int]]) throws -> [Int] {
        try inputIds.enumerated().map { row, ids in
            if config.poolsAtArgmax {
                // First position of the maximum, as torch.argmax returns.
                guard let best = ids.indices.max(by: { ids[$0] < ids[$1] || (ids[$0] == ids[$1] && $0 > $1) }) else {
                    throw VisionModelError.badInput(model: "CLIP text tower", what: "row \(row) is empty")
                }
                return best
            }
            guard let p = ids.firstIndex(of: config.eosTokenId) else {
                throw VisionModelError.badInput(model: "CLIP text tower",
                                                what: "row \(row) has no end-of-text token (id \(config.eosTokenId)); tokenize with the end token")
            }
            return p
        }
    }

    /// `inputIds [B][T]` (equal lengths, T ≤ max_position_embeddings) and an optional
    /// `attentionMask [B][T]` of 1/0 → hidden states and pooled features.
    public func callAsFunction(inputIds: [[Int]], attentionMask: [[Int]]? = nil,
                               outputHiddenStates: Bool = false) throws -> CLIPTextOutput {
        let b = inputIds.count
        guard b > 0, let t = inputIds.first?.count, t > 0, inputIds.allSatisfy({ $0.count == t }) else {
            throw VisionModelError.badInput(model: "CLIP text tower", what: "input ids must be a non-empty batch of equal-length, non-empty rows (pad them)")
        }
        guard t <= config.maxPositions else {
            throw VisionModelError.badInput(model: "CLIP text tower", what: "sequence length \(t) exceeds max_position_embeddings \(config.maxPositions); truncate the text")
        }
        var mask: Tensor?
        if let m = attentionMask {
            guard m.count == b, m.allSatisfy({ $0.count == t }) else {
                throw VisionModelError.badInput(model: "CLIP text tower", what: "attention mask must have the shape of the ids [\(b)][\(t)]")
            }
            mask = Tensor(m.flatMap { $0.map { $0 == 0 ? Float(0) : 1 } }, shape: [b, t])
        }
        let positions = (0..<b).flatMap { _ in Array(0..<t) }
        let x = try tokenEmbedding(inputIds.flatMap { $0 }, shape: [b, t]) + positionEmbedding(positions, shape: [b, t])
        let enc = encoder(x, attentionMask: mask, causal: true, outputHiddenStates: outputHiddenStates)
        let last = finalLayerNorm(enc.lastHiddenState)
        let eos = try eosPositions(inputIds)
        let pooled = last.reshaped([b * t, config.hiddenSize]).indexSelect(axis: 0, eos.enumerated().map { $0.offset * t + $0.element })
        return CLIPTextOutput(lastHiddenState: last, poolerOutput: pooled, eosPositions: eos, hiddenStates: enc.hiddenStates)
    }
}

import Core

/// One Whisper decoder layer with Hugging Face's keys (relative to `model.decoder.layers.N`):
/// `x = x + self_attn(self_attn_layer_norm(x))` (causal), `x = x + encoder_attn(encoder_attn_layer_norm(x), encoder)`,
/// `x = x + fc2(gelu(fc1(final_layer_norm(x))))`. Neither attention has a key bias.
///
/// Two forwards share the weights: `callAsFunction` runs whole sequences with autograd (training,
/// teacher forcing) through Core's `MultiHeadAttention`; `step` runs new positions against a
/// `WhisperKVCache` (inference). Both call the same `Linear`s, so LoRA attached to
/// `self_attn.q_proj`, `encoder_attn.v_proj`… acts in both.
public final class WhisperDecoderLayer: Module {
    public let selfAttention: MultiHeadAttention
    public let selfAttentionNorm: LayerNorm
    public let crossAttention: MultiHeadAttention
    public let crossAttentionNorm: LayerNorm
    public let feedForward: FeedForward
    public let finalNorm: LayerNorm

    static let selfKeys = AttentionKeys(query: "self_attn.q_proj", key: "self_attn.k_proj",
                                        value: "self_attn.v_proj", output: "self_attn.out_proj")
    static let crossKeys = AttentionKeys(query: "encoder_attn.q_proj", key: "encoder_attn.k_proj",
                                         value: "encoder_attn.v_proj", output: "encoder_attn.out_proj")

    public init(config c: WhisperConfig, at path: ParamPath) throws {
        let noKeyBias = AttentionBias(key: false)
        selfAttention = try MultiHeadAttention(dim: c.dModel, numHeads: c.decoderHeads, bias: noKeyBias, keys: Self.selfKeys, at: path)
        selfAttention.prefixKey = "self_attn.prefix"
        selfAttentionNorm = try LayerNorm(dim: c.dModel, eps: c.normEps, at: path.pp("self_attn_layer_norm"))
        crossAttention = try MultiHeadAttention(dim: c.dModel, numHeads: c.decoderHeads, bias: noKeyBias, keys: Self.crossKeys, at: path)
        crossAttention.prefixKey = "encoder_attn.prefix"
        crossAttentionNorm = try LayerNorm(dim: c.dModel, eps: c.normEps, at: path.pp("encoder_attn_layer_norm"))
        feedForward = try FeedForward(dim: c.dModel, hidden: c.decoderFFN, activation: c.activation, at: path)
        finalNorm = try LayerNorm(dim: c.dModel, eps: c.normEps, at: path.pp("final_layer_norm"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        var leaves = selfAttention.leaves
        leaves.append(("self_attn_layer_norm", selfAttentionNorm))
        leaves += crossAttention.leaves
        leaves.append(("encoder_attn_layer_norm", crossAttentionNorm))
        leaves += feedForward.leaves
        leaves.append(("final_layer_norm", finalNorm))
        return ModuleTree(leaves).namedChildren()
    }

    /// Whole sequences: `x [B, T, d]`, `memory [B, S, d]` (encoder output, or any concatenation of
    /// streams), `memoryMask [B, S]` of 1 (attend) / 0 (padding).
    public func callAsFunction(_ x: Tensor, memory: Tensor, memoryMask: Tensor? = nil) -> Tensor {
        let training = isTraining
        var h = x + selfAttention.forward(selfAttentionNorm(x), causal: true, training: training)
        h = h + crossAttention.forward(crossAttentionNorm(h), context: memory, attentionMask: memoryMask, training: training)
        return h + feedForward.forward(finalNorm(h), training: training)
    }

    /// New positions `x [N, T, d]` of the cache's N hypotheses, attending to the cached keys and
    /// values of layer `index` (which this call extends by T positions). Inference only.
    func step(_ x: Tensor, cache: WhisperKVCache, index: Int) -> Tensor {
        let p = Self.stepProjection
        let u = selfAttentionNorm(x)
        let attended = cache.appendAndAttend(layer: index, query: p(selfAttention.query, u), key: p(selfAttention.key, u),
                                             value: p(selfAttention.value, u))
        var h = x + p(selfAttention.output, attended)
        let crossed = cache.attendToMemory(layer: index, query: p(crossAttention.query, crossAttentionNorm(h)))
        h = h + p(crossAttention.output, crossed)
        // The feed-forward block of `FeedForward.forward` at inference (its dropout is the identity).
        return h + p(feedForward.fc2, feedForward.activation(p(feedForward.fc1, finalNorm(h))))
    }

    /// `linear(x)` for a decoding step. A few rows (beam hypotheses, greedy windows) through a
    /// layer with no adapter attached, or with adapters switched off, go through
    /// `FewRowsProduct` (one sgemv per row over cache-sized blocks of the weight) plus the bias,
    /// instead of an sgemm that packs the whole weight for 5 rows (C measurement, 1 thread:
    /// the 4 layers' products 3.2 ms per step for 5 rows against 1.4 ms for one). Anything else,
    /// LoRA included, keeps `Linear`'s own forward.
    static func stepProjection(_ linear: Linear, _ x: Tensor) -> Tensor {
        let rows = x.shape.dropLast().reduce(1, *)
        guard rows <= FewRowsProduct.maximumRows, linear.adapters.isEmpty || !linear.adaptersEnabled else { return linear(x) }
        var out = FewRowsProduct.multiply(x, weight: linear.weight)
        if let bias = linear.bias {
            let n = linear.outFeatures
            bias.storage.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    for r in 0..<rows { for j in 0..<n { o[r * n + j] += b[j] } }
                }
            }
        }
        return Tensor(out, shape: Array(x.shape.dropLast()) + [linear.outFeatures])
    }
}

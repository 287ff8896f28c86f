/// Where a transformer layer normalises: after each residual add (BERT, "post-norm") or on
/// each sublayer's input (ViT, CLIP, DINOv2, Whisper, "pre-norm").
public enum NormPlacement: String, Sendable, Codable {
    case postNorm, preNorm
}

/// The checkpoint schema of one encoder layer in a Hugging Face family: where every weight
/// lives relative to the layer (`encoder.layer.3.` + key), which projections have biases,
/// where the norms sit. Written once per family, so PEFT target names (`query`, `q_proj`,
/// `fc1`) and weight loading both follow the real checkpoints.
public struct TransformerLayerLayout: Sendable, Equatable {
    public var attention: AttentionKeys
    public var attentionBias: AttentionBias
    /// Norm around the attention block (post-norm: after the residual; pre-norm: on its input).
    public var attentionNorm: String
    public var ffnIn: String
    public var ffnOut: String
    /// Norm around the feed-forward block.
    public var ffnNorm: String
    public var placement: NormPlacement
    /// DINOv2's per-channel scales on each sublayer output (`layer_scale1`, `layer_scale2`), if any.
    public var layerScale1: String?
    public var layerScale2: String?
    /// Key of the layer list in the encoder (`layer` → `encoder.layer.N`, `layers` → `encoder.layers.N`).
    public var stackKey: String

    public init(attention: AttentionKeys, attentionBias: AttentionBias = .all, attentionNorm: String, ffnIn: String,
                ffnOut: String, ffnNorm: String, placement: NormPlacement, layerScale1: String? = nil,
                layerScale2: String? = nil, stackKey: String) {
        self.attention = attention; self.attentionBias = attentionBias; self.attentionNorm = attentionNorm
        self.ffnIn = ffnIn; self.ffnOut = ffnOut; self.ffnNorm = ffnNorm; self.placement = placement
        self.layerScale1 = layerScale1; self.layerScale2 = layerScale2; self.stackKey = stackKey
    }

    /// HF `BertLayer` (post-norm).
    public static let bert = TransformerLayerLayout(
        attention: AttentionKeys(query: "attention.self.query", key: "attention.self.key",
                                 value: "attention.self.value", output: "attention.output.dense"),
        attentionNorm: "attention.output.LayerNorm", ffnIn: "intermediate.dense", ffnOut: "output.dense",
        ffnNorm: "output.LayerNorm", placement: .postNorm, stackKey: "layer")

    /// HF `ViTLayer` (pre-norm; AST uses the same names).
    public static let vit = TransformerLayerLayout(
        attention: AttentionKeys(query: "attention.attention.query", key: "attention.attention.key",
                                 value: "attention.attention.value", output: "attention.output.dense"),
        attentionNorm: "layernorm_before", ffnIn: "intermediate.dense", ffnOut: "output.dense",
        ffnNorm: "layernorm_after", placement: .preNorm, stackKey: "layer")

    /// HF `CLIPEncoderLayer` (pre-norm), text and vision towers alike.
    public static let clip = TransformerLayerLayout(
        attention: AttentionKeys(query: "self_attn.q_proj", key: "self_attn.k_proj",
                                 value: "self_attn.v_proj", output: "self_attn.out_proj"),
        attentionNorm: "layer_norm1", ffnIn: "mlp.fc1", ffnOut: "mlp.fc2", ffnNorm: "layer_norm2",
        placement: .preNorm, stackKey: "layers")

    /// HF `Dinov2Layer` (pre-norm with layer scale).
    public static let dinov2 = TransformerLayerLayout(
        attention: AttentionKeys(query: "attention.attention.query", key: "attention.attention.key",
                                 value: "attention.attention.value", output: "attention.output.dense"),
        attentionNorm: "norm1", ffnIn: "mlp.fc1", ffnOut: "mlp.fc2", ffnNorm: "norm2", placement: .preNorm,
        layerScale1: "layer_scale1", layerScale2: "layer_scale2", stackKey: "layer")

    /// HF `WhisperEncoderLayer` (pre-norm; `k_proj` has no bias).
    public static let whisperEncoder = TransformerLayerLayout(
        attention: AttentionKeys(query: "self_attn.q_proj", key: "self_attn.k_proj",
                                 value: "self_attn.v_proj", output: "self_attn.out_proj"),
        attentionBias: AttentionBias(key: false),
        attentionNorm: "self_attn_layer_norm", ffnIn: "fc1", ffnOut: "fc2", ffnNorm: "final_layer_norm",
        placement: .preNorm, stackKey: "layers")
}

/// Sizes and numerics of an encoder layer (the parts of a HF config the layer needs).
public struct TransformerLayerConfig: Sendable, Equatable {
    public var dim: Int
    public var numHeads: Int
    public var ffnDim: Int
    public var activation: Activation
    public var normEps: Float
    /// Dropout on each sublayer's output before the residual (`hidden_dropout_prob`, Whisper's `dropout`).
    public var hiddenDropout: Float
    /// Dropout on attention probabilities.
    public var attentionDropout: Float
    /// Dropout after the FFN activation (Whisper's `activation_dropout`).
    public var activationDropout: Float
    /// Initial layer-scale value for fresh weights (DINOv2's `layerscale_value`).
    public var layerScaleInit: Float

    public init(dim: Int, numHeads: Int, ffnDim: Int, activation: Activation = .gelu, normEps: Float = 1e-5,
                hiddenDropout: Float = 0, attentionDropout: Float = 0, activationDropout: Float = 0,
                layerScaleInit: Float = 1) {
        self.dim = dim; self.numHeads = numHeads; self.ffnDim = ffnDim; self.activation = activation
        self.normEps = normEps; self.hiddenDropout = hiddenDropout; self.attentionDropout = attentionDropout
        self.activationDropout = activationDropout; self.layerScaleInit = layerScaleInit
    }
}

/// A learned per-channel scale `lambda1 [dim]` on a sublayer output (DINOv2's `Dinov2LayerScale`).
public final class LayerScale: Module {
    public let lambda1: Tensor
    public init(lambda1: Tensor) { self.lambda1 = lambda1; super.init() }
    public convenience init(dim: Int, initialValue: Float, at path: ParamPath) throws {
        // The store has no constant initializer: a fresh tensor starts at ones and is rescaled.
        let fresh = !path.contains("lambda1")
        let t = try path.get([dim], "lambda1", initializer: .ones)
        if fresh { t.storage = [Float](repeating: initialValue, count: dim) }
        self.init(lambda1: t)
    }
    override public func namedLocalParameters() -> [(String, Tensor)] { [("lambda1", lambda1)] }
    public func callAsFunction(_ x: Tensor) -> Tensor { x * lambda1 }
}

/// One transformer encoder layer: self-attention and feed-forward blocks with residuals, in
/// post-norm (BERT) or pre-norm (ViT/CLIP/DINOv2/Whisper) form, whose module tree has exactly the
/// family's checkpoint keys (`layout`).
///
/// Each block computes a sublayer output `s = dropout(sublayer(u))` from its input `u` (the
/// normalised hidden state in pre-norm, the raw one in post-norm), then optional layer scale,
/// then the `SequenceAdapter` at that site (`adapter.forward(input: u, output: s)`), then the
/// residual add (and the norm, in post-norm).
public final class TransformerEncoderLayer: Module {
    public let layout: TransformerLayerLayout
    public let config: TransformerLayerConfig
    public let attention: MultiHeadAttention
    public let feedForward: FeedForward
    public let attentionNorm: LayerNorm
    public let feedForwardNorm: LayerNorm
    public let layerScale1: LayerScale?
    public let layerScale2: LayerScale?
    /// Dropout on the attention and feed-forward outputs.
    public let attentionOutputDropout: Dropout
    public let feedForwardOutputDropout: Dropout
    /// Sequence adapters by site (registered as `adapters.attention`, `adapters.ffn`).
    public private(set) var adapters: [SublayerSite: any SequenceAdapter] = [:]

    /// Builds a layer at `path` (e.g. `encoder.layer.3`). `seed` derives the dropout streams.
    public init(config c: TransformerLayerConfig, layout: TransformerLayerLayout, seed: UInt64 = 0, at path: ParamPath) throws {
        self.layout = layout
        self.config = c
        var seeds = SplitMix64(seed: seed)
        attention = try MultiHeadAttention(dim: c.dim, numHeads: c.numHeads, bias: layout.attentionBias,
                                           attentionDropout: c.attentionDropout, seed: seeds.next(),
                                           keys: layout.attention, at: path)
        let queryParent = layout.attention.query.split(separator: ".").dropLast().joined(separator: ".")
        attention.prefixKey = queryParent.isEmpty ? "prefix" : queryParent + ".prefix"
        attentionNorm = try LayerNorm(dim: c.dim, eps: c.normEps, at: path.pp(layout.attentionNorm))
        feedForward = try FeedForward(dim: c.dim, hidden: c.ffnDim, activation: c.activation,
                                      activationDropout: c.activationDropout, seed: seeds.next(),
                                      inKey: layout.ffnIn, outKey: layout.ffnOut, at: path)
        feedForwardNorm = try LayerNorm(dim: c.dim, eps: c.normEps, at: path.pp(layout.ffnNorm))
        layerScale1 = try layout.layerScale1.map { try LayerScale(dim: c.dim, initialValue: c.layerScaleInit, at: path.pp($0)) }
        layerScale2 = try layout.layerScale2.map { try LayerScale(dim: c.dim, initialValue: c.layerScaleInit, at: path.pp($0)) }
        attentionOutputDropout = Dropout(p: c.hiddenDropout, seed: seeds.next())
        feedForwardOutputDropout = Dropout(p: c.hiddenDropout, seed: seeds.next())
        super.init()
    }

    /// Checkpoint key of the adapter at `site`, relative to the layer.
    public static func adapterKey(_ site: SublayerSite) -> String {
        site == .attention ? "adapters.attention" : "adapters.ffn"
    }

    /// Installs (or with nil removes) the sequence adapter at `site`.
    public func setAdapter(_ adapter: (any SequenceAdapter)?, at site: SublayerSite) {
        adapters[site] = adapter
    }

    /// Prefix-tuning hook of the self-attention (registered beside the Q/K/V projections).
    public var prefix: (any AttentionPrefix)? {
        get { attention.prefix }
        set { attention.prefix = newValue }
    }

    override public func namedChildren() -> [(String, Module)] {
        var leaves = attention.leaves
        leaves.append((layout.attentionNorm, attentionNorm))
        leaves += feedForward.leaves
        leaves.append((layout.ffnNorm, feedForwardNorm))
        if let k = layout.layerScale1, let m = layerScale1 { leaves.append((k, m)) }
        if let k = layout.layerScale2, let m = layerScale2 { leaves.append((k, m)) }
        for site in SublayerSite.allCases { if let a = adapters[site] { leaves.append((Self.adapterKey(site), a)) } }
        return ModuleTree(leaves).namedChildren()
    }

    /// `x [B, T, C]` → `[B, T, C]`. `attentionMask [B, T]` (1 attend / 0 padding), `causal` for
    /// decoder-style masking.
    public func callAsFunction(_ x: Tensor, attentionMask: Tensor? = nil, causal: Bool = false) -> Tensor {
        let training = isTraining
        func attentionBlock(_ u: Tensor) -> Tensor {
            var s = attentionOutputDropout.applyFused(
                attention.forward(u, attentionMask: attentionMask, causal: causal, training: training), training: training)
            if let ls = layerScale1 { s = ls(s) }
            if let a = adapters[.attention] { s = a.forward(input: u, output: s) }
            return s
        }
        func feedForwardBlock(_ u: Tensor) -> Tensor {
            var s = feedForwardOutputDropout.applyFused(feedForward.forward(u, training: training), training: training)
            if let ls = layerScale2 { s = ls(s) }
            if let a = adapters[.feedForward] { s = a.forward(input: u, output: s) }
            return s
        }
        switch layout.placement {
        case .postNorm:
            let h = attentionNorm(x + attentionBlock(x))
            return feedForwardNorm(h + feedForwardBlock(h))
        case .preNorm:
            let h = x + attentionBlock(attentionNorm(x))
            return h + feedForwardBlock(feedForwardNorm(h))
        }
    }
}

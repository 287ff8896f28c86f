import Core
import Foundation

/// Settings of CLIP's vision tower (`vision_config` in a Hugging Face `CLIPModel` config).
public struct CLIPVisionConfig: Sendable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numLayers = 12
    public var numHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 32
    public var activation = Activation.quickGELU
    public var layerNormEps: Float = 1e-5
    public var attentionDropout: Float = 0

    public init() {}

    public init(json c: JSONConfig) throws {
        hiddenSize = try HFCheckpoint.positive(c, "hidden_size", default: 768)
        intermediateSize = try HFCheckpoint.positive(c, "intermediate_size", default: 3072)
        numLayers = try HFCheckpoint.positive(c, "num_hidden_layers", default: 12)
        numHeads = try HFCheckpoint.positive(c, "num_attention_heads", default: 12)
        numChannels = try HFCheckpoint.positive(c, "num_channels", default: 3)
        imageSize = try HFCheckpoint.positive(c, "image_size", default: 224)
        patchSize = try HFCheckpoint.positive(c, "patch_size", default: 32)
        activation = try HFCheckpoint.activation(c, default: "quick_gelu")
        layerNormEps = try c.float("layer_norm_eps", default: 1e-5)
        attentionDropout = try c.float("attention_dropout", default: 0)
        try checkHeads(hiddenSize, numHeads, c)
        if imageSize < patchSize {
            throw VisionModelError.unsupportedConfig(file: c.file, key: HFCheckpoint.key(c, "image_size"), what: "\(imageSize) is smaller than patch_size \(patchSize)")
        }
    }

    public var layerConfig: TransformerLayerConfig {
        TransformerLayerConfig(dim: hiddenSize, numHeads: numHeads, ffnDim: intermediateSize, activation: activation,
                               normEps: layerNormEps, attentionDropout: attentionDropout)
    }
}

/// Settings of CLIP's text tower (`text_config`).
public struct CLIPTextConfig: Sendable, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var numLayers = 12
    public var numHeads = 8
    /// Longest sequence (77 for OpenAI CLIP).
    public var maxPositions = 77
    public var activation = Activation.quickGELU
    public var layerNormEps: Float = 1e-5
    public var attentionDropout: Float = 0
    /// End-of-text id. Hugging Face's rule: the value 2 (old configs) means "pool at the highest
    /// id in the row" (OpenAI's `argmax`, which finds `<|endoftext|>` = 49407); any other value
    /// means "pool at the first position holding this id".
    public var eosTokenId = 49407

    public init() {}

    public init(json c: JSONConfig) throws {
        vocabSize = try HFCheckpoint.positive(c, "vocab_size", default: 49408)
        hiddenSize = try HFCheckpoint.positive(c, "hidden_size", default: 512)
        intermediateSize = try HFCheckpoint.positive(c, "intermediate_size", default: 2048)
        numLayers = try HFCheckpoint.positive(c, "num_hidden_layers", default: 12)
        numHeads = try HFCheckpoint.positive(c, "num_attention_heads", default: 8)
        maxPositions = try HFCheckpoint.positive(c, "max_position_embeddings", default: 77)
        activation = try HFCheckpoint.activation(c, default: "quick_gelu")
        layerNormEps = try c.float("layer_norm_eps", default: 1e-5)
        attentionDropout = try c.float("attention_dropout", default: 0)
        eosTokenId = try c.int("eos_token_id", default: 49407)
        try checkHeads(hiddenSize, numHeads, c)
    }

    /// Whether pooling uses the argmax of the ids (the legacy `eos_token_id == 2` convention).
    public var poolsAtArgmax: Bool { eosTokenId == 2 }

    public var layerConfig: TransformerLayerConfig {
        TransformerLayerConfig(dim: hiddenSize, numHeads: numHeads, ffnDim: intermediateSize, activation: activation,
                               normEps: layerNormEps, attentionDropout: attentionDropout)
    }
}

/// Settings of a Hugging Face `CLIPModel` (`model_type: "clip"`): both towers, the shared
/// projection width and the initial logit scale.
public struct CLIPConfig: Sendable, Equatable {
    public var text = CLIPTextConfig()
    public var vision = CLIPVisionConfig()
    public var projectionDim = 512
    /// `logit_scale` for fresh weights (ln(1/0.07)); checkpoints store their own.
    public var logitScaleInit: Float = 2.6592

    public init() {}

    public init(json c: JSONConfig) throws {
        text = try CLIPTextConfig(json: c.nested("text_config"))
        vision = try CLIPVisionConfig(json: c.nested("vision_config"))
        projectionDim = try HFCheckpoint.positive(c, "projection_dim", default: 512)
        logitScaleInit = try c.float("logit_scale_init_value", default: 2.6592)
    }
}

private func checkHeads(_ hidden: Int, _ heads: Int, _ c: JSONConfig) throws {
    if hidden % heads != 0 {
        throw VisionModelError.unsupportedConfig(file: c.file, key: HFCheckpoint.key(c, "num_attention_heads"),
                                                 what: "hidden_size \(hidden) is not divisible by \(heads) heads")
    }
}

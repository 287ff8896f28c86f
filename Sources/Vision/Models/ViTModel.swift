import Core
import Foundation

/// The settings of a Hugging Face `ViTModel` (`model_type: "vit"`) that the forward pass needs.
public struct ViTConfig: Sendable, Equatable {
    public var hiddenSize = 768
    public var numLayers = 12
    public var numHeads = 12
    public var intermediateSize = 3072
    public var activation = Activation.gelu
    public var layerNormEps: Float = 1e-12
    public var imageSize = 224
    public var patchSize = 16
    public var numChannels = 3
    public var qkvBias = true
    public var hiddenDropout: Float = 0
    public var attentionDropout: Float = 0
    /// Width of `pooler.dense` (`pooler_output_size`, defaults to `hidden_size`); the pooler's
    /// activation is tanh (`pooler_act`, the only value HF checkpoints use).
    public var poolerOutputSize = 768

    public init() {}

    /// Reads `config.json` (the top level, or the object a composite config nests).
    public init(json c: JSONConfig) throws {
        hiddenSize = try HFCheckpoint.positive(c, "hidden_size", default: 768)
        numLayers = try HFCheckpoint.positive(c, "num_hidden_layers", default: 12)
        numHeads = try HFCheckpoint.positive(c, "num_attention_heads", default: 12)
        intermediateSize = try HFCheckpoint.positive(c, "intermediate_size", default: 3072)
        activation = try HFCheckpoint.activation(c, default: "gelu")
        layerNormEps = try c.float("layer_norm_eps", default: 1e-12)
        imageSize = try HFCheckpoint.positive(c, "image_size", default: 224)
        patchSize = try HFCheckpoint.positive(c, "patch_size", default: 16)
        numChannels = try HFCheckpoint.positive(c, "num_channels", default: 3)
        qkvBias = try c.bool("qkv_bias", default: true)
        hiddenDropout = try c.float("hidden_dropout_prob", default: 0)
        attentionDropout = try c.float("attention_probs_dropout_prob", default: 0)
        poolerOutputSize = try HFCheckpoint.positive(c, "pooler_output_size", default: hiddenSize)
        let poolerAct = try c.string("pooler_act", default: "tanh")
        if poolerAct != "tanh" {
            throw VisionModelError.unsupportedConfig(file: c.file, key: "pooler_act", what: "\"\(poolerAct)\" is not supported (only tanh)")
        }
        if hiddenSize % numHeads != 0 {
            throw VisionModelError.unsupportedConfig(file: c.file, key: "num_attention_heads",
                                                     what: "hidden_size \(hiddenSize) is not divisible by \(numHeads) heads")
        }
        if imageSize < patchSize {
            throw VisionModelError.unsupportedConfig(file: c.file, key: "image_size",
                                                     what: "\(imageSize) is smaller than patch_size \(patchSize)")
        }
    }

    /// The encoder-layer settings.
    public var layerConfig: TransformerLayerConfig {
        TransformerLayerConfig(dim: hiddenSize, numHeads: numHeads, ffnDim: intermediateSize, activation: activation,
                               normEps: layerNormEps, hiddenDropout: hiddenDropout, attentionDropout: attentionDropout)
    }
}

/// Hugging Face `ViTModel`: patch embeddings with a class token and learned positions, a pre-norm
/// transformer encoder (`encoder.layer.N`, BERT-like names), a final `layernorm` and an optional
/// `pooler` (dense + tanh on the class token). The module tree has exactly the checkpoint's keys.
///
/// Images of another size than `image_size` work: the position grid is resized bicubically (HF
/// does this with `interpolate_pos_encoding=True`).
///
/// ```swift
/// let vit = try ViTModel.load(directory: URL(fileURLWithPath: "models/vit-base"))
/// let out = try vit(pixels)            // pixels [B, 3, 224, 224], normalised
/// out.lastHiddenState                  // [B, 197, 768]
/// ```
public final class ViTModel: Module {
    public let config: ViTConfig
    public let embeddings: ViTEmbeddings
    public let encoder: TransformerEncoder
    public let layernorm: LayerNorm
    /// `pooler.dense` (tanh follows), when the checkpoint has a pooler.
    public let pooler: Linear?

    /// Builds the model at `path`. `addPoolingLayer` nil means "if the store holds
    /// `pooler.dense.weight`" (a random store then builds one, as HF's default does).
    public init(config: ViTConfig, addPoolingLayer: Bool? = nil, seed: UInt64 = 0, at path: ParamPath) throws {
        self.config = config
        embeddings = try ViTEmbeddings(dim: config.hiddenSize, channels: config.numChannels, patchSize: config.patchSize,
                                       imageSize: config.imageSize, maskTokenShape: path.contains("embeddings.mask_token") ? [1, 1, config.hiddenSize] : nil,
                                       modelName: "ViTModel", at: path.pp("embeddings"))
        var layout = TransformerLayerLayout.vit
        layout.attentionBias = AttentionBias(query: config.qkvBias, key: config.qkvBias, value: config.qkvBias)
        encoder = try TransformerEncoder(config: config.layerConfig, layout: layout, numLayers: config.numLayers,
                                         seed: seed, at: path.pp("encoder"))
        layernorm = try LayerNorm(dim: config.hiddenSize, eps: config.layerNormEps, at: path.pp("layernorm"))
        let withPooler = addPoolingLayer ?? (path.contains("pooler.dense.weight") || path.store.randomInit != nil)
        pooler = withPooler ? try Linear(inFeatures: config.hiddenSize, outFeatures: config.poolerOutputSize, at: path.pp("pooler.dense")) : nil
        super.init()
    }

    /// Loads a Hugging Face folder (`config.json` + `model.safetensors` or shards). Backbone keys may
    /// sit under a prefix (`vit.` in `ViTForImageClassification`); every key under it must be used.
    public static func load(directory: URL) throws -> ViTModel {
        let config = try ViTConfig(json: HFCheckpoint.config(in: directory))
        let store = try WeightStore.load(directory: directory)
        let prefix = HFCheckpoint.prefix(of: store, anchor: "embeddings.cls_token")
        let model = try ViTModel(config: config, at: ParamPath(store: store, prefix: prefix))
        try HFCheckpoint.verifyUsed(store, prefix: prefix)
        model.eval()
        return model
    }

    override public func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = [("embeddings", embeddings), ("encoder", encoder), ("layernorm", layernorm)]
        if let p = pooler { out += ModuleTree([("pooler.dense", p)]).namedChildren() }
        return out
    }

    /// `pixels [B, C, H, W]` (normalised) → hidden states `[B, 1 + patches, D]` and the pooled class token.
    public func callAsFunction(_ pixels: Tensor, outputHiddenStates: Bool = false) throws -> VisionEncoderOutput {
        let x = try embeddings(pixels)
        let enc = encoder(x, outputHiddenStates: outputHiddenStates)
        let last = layernorm(enc.lastHiddenState)
        let pooled = pooler.map { dense -> Tensor in
            let cls = last.slice(axis: 1, 0..<1).reshaped([last.shape[0], config.hiddenSize])
            return dense(cls).tanh()
        }
        return VisionEncoderOutput(lastHiddenState: last, poolerOutput: pooled, hiddenStates: enc.hiddenStates)
    }
}

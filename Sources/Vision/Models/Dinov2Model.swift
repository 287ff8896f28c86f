import Core
import Foundation

/// The settings of a Hugging Face `Dinov2Model` (`model_type: "dinov2"`).
public struct Dinov2Config: Sendable, Equatable {
    public var hiddenSize = 384
    public var numLayers = 12
    public var numHeads = 6
    /// MLP hidden width = `hidden_size · mlp_ratio` (DINOv2 uses ratio 4).
    public var ffnWidth = 1536
    public var activation = Activation.gelu
    public var layerNormEps: Float = 1e-6
    /// Trained image size: `image_size / patch_size` is the side of the position grid (518/14 = 37).
    public var imageSize = 518
    public var patchSize = 14
    public var numChannels = 3
    public var qkvBias = true
    /// Initial LayerScale value for fresh weights (`layerscale_value`).
    public var layerScaleValue: Float = 1
    public var hiddenDropout: Float = 0
    public var attentionDropout: Float = 0

    public init() {}

    /// Reads `config.json`. SwiGLU feed-forwards (the giant model) and register tokens are other
    /// architectures and are refused with a message.
    public init(json c: JSONConfig) throws {
        hiddenSize = try HFCheckpoint.positive(c, "hidden_size", default: 768)
        numLayers = try HFCheckpoint.positive(c, "num_hidden_layers", default: 12)
        numHeads = try HFCheckpoint.positive(c, "num_attention_heads", default: 12)
        let ratio = try c.double("mlp_ratio", default: 4)
        guard ratio > 0, (Double(hiddenSize) * ratio).rounded() == Double(hiddenSize) * ratio else {
            throw VisionModelError.unsupportedConfig(file: c.file, key: "mlp_ratio", what: "hidden_size × \(ratio) is not a whole number")
        }
        ffnWidth = Int(Double(hiddenSize) * ratio)
        activation = try HFCheckpoint.activation(c, default: "gelu")
        layerNormEps = try c.float("layer_norm_eps", default: 1e-6)
        imageSize = try HFCheckpoint.positive(c, "image_size", default: 224)
        patchSize = try HFCheckpoint.positive(c, "patch_size", default: 14)
        numChannels = try HFCheckpoint.positive(c, "num_channels", default: 3)
        qkvBias = try c.bool("qkv_bias", default: true)
        layerScaleValue = try c.float("layerscale_value", default: 1)
        hiddenDropout = try c.float("hidden_dropout_prob", default: 0)
        attentionDropout = try c.float("attention_probs_dropout_prob", default: 0)
        if try c.bool("use_swiglu_ffn", default: false) {
            throw VisionModelError.unsupportedConfig(file: c.file, key: "use_swiglu_ffn", what: "SwiGLU feed-forward (DINOv2 giant) is not supported")
        }
        if try c.int("num_register_tokens", default: 0) != 0 {
            throw VisionModelError.unsupportedConfig(file: c.file, key: "num_register_tokens", what: "register tokens (Dinov2WithRegisters) are not supported")
        }
        if hiddenSize % numHeads != 0 {
            throw VisionModelError.unsupportedConfig(file: c.file, key: "num_attention_heads",
                                                     what: "hidden_size \(hiddenSize) is not divisible by \(numHeads) heads")
        }
        if imageSize < patchSize {
            throw VisionModelError.unsupportedConfig(file: c.file, key: "image_size", what: "\(imageSize) is smaller than patch_size \(patchSize)")
        }
    }

    /// The encoder-layer settings.
    public var layerConfig: TransformerLayerConfig {
        TransformerLayerConfig(dim: hiddenSize, numHeads: numHeads, ffnDim: ffnWidth, activation: activation,
                               normEps: layerNormEps, hiddenDropout: hiddenDropout, attentionDropout: attentionDropout,
                               layerScaleInit: layerScaleValue)
    }
}

/// Hugging Face `Dinov2Model`: ViT embeddings (with a mask token that only pre-training uses), a
/// pre-norm encoder whose two sublayers are each scaled by a learned LayerScale before the residual
/// add, and a final `layernorm`. `poolerOutput` is the normalised class token.
///
/// For other image sizes the 37×37 position grid is resized bicubically (a = −0.75, half-pixel,
/// no antialias), exactly as the ONNX export of HF's Dinov2 does (`PositionInterpolation`).
///
/// ```swift
/// let dino = try Dinov2Model.load(directory: URL(fileURLWithPath: "models/dinov2-small"))
/// let out = try dino(pixels)           // [B, 3, 224, 224] → lastHiddenState [B, 257, 384]
/// ```
public final class Dinov2Model: Module {
    public let config: Dinov2Config
    public let embeddings: ViTEmbeddings
    public let encoder: TransformerEncoder
    public let layernorm: LayerNorm

    /// Builds the model at `path` (`""` for a bare `Dinov2Model` checkpoint).
    public init(config: Dinov2Config, seed: UInt64 = 0, at path: ParamPath) throws {
        self.config = config
        embeddings = try ViTEmbeddings(dim: config.hiddenSize, channels: config.numChannels, patchSize: config.patchSize,
                                       imageSize: config.imageSize, maskTokenShape: [1, config.hiddenSize],
                                       modelName: "Dinov2Model", at: path.pp("embeddings"))
        var layout = TransformerLayerLayout.dinov2
        layout.attentionBias = AttentionBias(query: config.qkvBias, key: config.qkvBias, value: config.qkvBias)
        encoder = try TransformerEncoder(config: config.layerConfig, layout: layout, numLayers: config.numLayers,
                                         seed: seed, at: path.pp("encoder"))
        layernorm = try LayerNorm(dim: config.hiddenSize, eps: config.layerNormEps, at: path.pp("layernorm"))
        super.init()
    }

    /// Loads a Hugging Face folder (`config.json` + safetensors); backbone keys may sit under a
    /// prefix (`dinov2.` in `Dinov2ForImageClassification`). Every key under it must be used.
    public static func load(directory: URL) throws -> Dinov2Model {
        let config = try Dinov2Config(json: HFCheckpoint.config(in: directory))
        let store = try WeightStore.load(directory: directory)
        let prefix = HFCheckpoint.prefix(of: store, anchor: "embeddings.cls_token")
        let model = try Dinov2Model(config: config, at: ParamPath(store: store, prefix: prefix))
        try HFCheckpoint.verifyUsed(store, prefix: prefix)
        model.eval()
        return model
    }

    override public func namedChildren() -> [(String, Module)] {
        [("embeddings", embeddings), ("encoder", encoder), ("layernorm", layernorm)]
    }

    /// `pixels [B, C, H, W]` (normalised) → `[B, 1 + (H/p)·(W/p), D]` and the class token `[B, D]`.
    public func callAsFunction(_ pixels: Tensor, outputHiddenStates: Bool = false) throws -> VisionEncoderOutput {
        let x = try embeddings(pixels)
        let enc = encoder(x, outputHiddenStates: outputHiddenStates)
        let last = layernorm(enc.lastHiddenState)
        let cls = last.slice(axis: 1, 0..<1).reshaped([last.shape[0], config.hiddenSize])
        return VisionEncoderOutput(lastHiddenState: last, poolerOutput: cls, hiddenStates: enc.hiddenStates)
    }
}

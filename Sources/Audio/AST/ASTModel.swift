import Core
import Foundation

/// The Audio Spectrogram Transformer (Gong et al. 2021) in Hugging Face's `ASTModel` layout:
/// `embeddings`, a ViT-style pre-norm encoder (`encoder.layer.N.attention.attention.query`, …,
/// `layernorm_before`, `layernorm_after`) and a final `layernorm`.
///
/// ```swift
/// let ast = try ASTModel(config: .base(maxLength: 100), at: WeightStore.random(seed: 1).root)
/// let out = try ast(features)            // features [B, 100, 128] from ASTFeatureExtractor
/// out.lastHiddenState                     // [B, 2 + 12·9, 768]
/// ```
public final class ASTModel: Module {
    public let config: ASTConfig
    public let embeddings: ASTEmbeddings
    public let encoder: TransformerEncoder
    /// The final LayerNorm (`layernorm`).
    public let layernorm: LayerNorm

    /// Builds at `path` (the checkpoint root for `ASTModel`, `audio_spectrogram_transformer` inside
    /// `ASTForAudioClassification`).
    public init(config c: ASTConfig, positionPolicy: ASTPositionPolicy = .interpolate, seed: UInt64 = 0, at path: ParamPath) throws {
        try c.validate()
        config = c
        embeddings = try ASTEmbeddings(config: c, positionPolicy: positionPolicy, at: path.pp("embeddings"))
        var layout = TransformerLayerLayout.vit
        if !c.qkvBias { layout.attentionBias = AttentionBias(query: false, key: false, value: false, output: true) }
        encoder = try TransformerEncoder(config: c.layerConfig, layout: layout, numLayers: c.numLayers, seed: seed,
                                         at: path.pp("encoder"))
        layernorm = try LayerNorm(dim: c.hiddenSize, eps: c.layerNormEps, at: path.pp("layernorm"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("embeddings", embeddings), ("encoder", encoder), ("layernorm", layernorm)]
    }

    /// What the model returns.
    public struct Output {
        /// After the final LayerNorm, `[B, T, hidden]` (prompt tokens included when the encoder
        /// has a prompt provider and `keepPrompts` was set).
        public var lastHiddenState: Tensor
        /// HF's `pooler_output`: the mean of the class and distillation tokens, `[B, hidden]`.
        public var poolerOutput: Tensor
    }

    /// `inputValues [B, maxLength, numMelBins]` → hidden states and the pooled output.
    public func callAsFunction(_ inputValues: Tensor) throws -> Output {
        let h = layernorm(encoder(try embeddings(inputValues)).lastHiddenState)
        let pooled = (h.slice(axis: 1, 0..<1) + h.slice(axis: 1, 1..<2)).reshaped([h.shape[0], h.shape[2]]) * 0.5
        return Output(lastHiddenState: h, poolerOutput: pooled)
    }
}

/// HF `ASTForAudioClassification`: `audio_spectrogram_transformer.*` plus the `ASTMLPHead`
/// (`classifier.layernorm`, `classifier.dense`) on the mean of the class and distillation
/// tokens. Loads `MIT/ast-finetuned-audioset-10-10-0.4593` as downloaded.
public final class ASTForAudioClassification: Module {
    public let ast: ASTModel
    public let headNorm: LayerNorm
    public let head: Linear
    private let classifierTree: ModuleTree

    public init(config c: ASTConfig, positionPolicy: ASTPositionPolicy = .interpolate, seed: UInt64 = 0, at path: ParamPath) throws {
        guard !c.labels.isEmpty else {
            throw ASTError.badConfig(file: "config", "an audio classifier needs id2label in config.json (the number of classes)")
        }
        ast = try ASTModel(config: c, positionPolicy: positionPolicy, seed: seed, at: path.pp("audio_spectrogram_transformer"))
        headNorm = try LayerNorm(dim: c.hiddenSize, eps: c.layerNormEps, at: path.pp("classifier.layernorm"))
        head = try Linear(inFeatures: c.hiddenSize, outFeatures: c.labels.count, at: path.pp("classifier.dense"))
        classifierTree = ModuleTree([("layernorm", headNorm), ("dense", head)])
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("audio_spectrogram_transformer", ast), ("classifier", classifierTree)]
    }

    /// Logits `[B, classes]`.
    public func callAsFunction(_ inputValues: Tensor) throws -> Tensor {
        head(headNorm(try ast(inputValues).poolerOutput))
    }
}

/// Loading an AST checkpoint directory (`config.json` + `model.safetensors`).
public enum ASTCheckpoint {
    /// Key prefix of the encoder inside `ASTForAudioClassification` checkpoints.
    public static let classifierPrefix = "audio_spectrogram_transformer"

    /// The encoder of the checkpoint in `directory`, frozen. Works for bare `ASTModel` exports and
    /// for `ASTForAudioClassification` ones (the classifier head is then ignored). `maxLength`
    /// overrides the config's frame count; the position table is adapted with `positionPolicy`.
    public static func loadEncoder(directory: URL, maxLength: Int? = nil, positionPolicy: ASTPositionPolicy = .interpolate) throws -> ASTModel {
        var config = try ASTConfig(contentsOf: directory.appendingPathComponent("config.json"))
        if let m = maxLength { config.maxLength = m }
        try config.validate(file: directory.appendingPathComponent("config.json").path)
        let store = try WeightStore.load(directory: directory)
        let prefixed = store.contains(classifierPrefix + ".embeddings.cls_token")
        let root = prefixed ? store.root.pp(classifierPrefix) : store.root
        guard root.contains("embeddings.cls_token") else {
            throw ASTError.badCheckpoint(file: directory.path, "holds no AST weights (no embeddings.cls_token, with or without the \(classifierPrefix). prefix); point --model at an AST checkpoint")
        }
        let model = try ASTModel(config: config, positionPolicy: positionPolicy, at: root)
        // The stored position table is read directly when it is adapted, and the head is unused here.
        try store.verifyAllUsed(ignoring: ["position_embeddings", "classifier."])
        model.freeze()
        return model
    }
}

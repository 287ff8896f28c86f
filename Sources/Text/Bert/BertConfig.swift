import Core
import Foundation

/// The parts of a Hugging Face BERT `config.json` the encoder needs (`BertConfig` in
/// transformers; MiniLM, BERT, DistilRoBERTa-free BERT variants and most sentence-transformers
/// encoders use it). Defaults are transformers' defaults for absent keys.
///
/// ```swift
/// let config = try BertConfig(contentsOf: folder.appendingPathComponent("config.json"))
/// config.layerConfig   // what Core's TransformerEncoderLayer takes
/// ```
public struct BertConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: Activation
    public var hiddenDropoutProb: Float
    public var attentionProbsDropoutProb: Float
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    /// Std of the normal init for fresh weights (new heads).
    public var initializerRange: Float
    public var padTokenID: Int
    /// Dropout before a token-classification head; nil means `hiddenDropoutProb` (as HF).
    public var classifierDropout: Float?
    /// Label names by id (`id2label`), when the config carries them.
    public var id2label: [Int: String]

    public init(vocabSize: Int = 30522, hiddenSize: Int = 768, numHiddenLayers: Int = 12, numAttentionHeads: Int = 12,
                intermediateSize: Int = 3072, hiddenAct: Activation = .gelu, hiddenDropoutProb: Float = 0.1,
                attentionProbsDropoutProb: Float = 0.1, maxPositionEmbeddings: Int = 512, typeVocabSize: Int = 2,
                layerNormEps: Float = 1e-12, initializerRange: Float = 0.02, padTokenID: Int = 0,
                classifierDropout: Float? = nil, id2label: [Int: String] = [:]) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads; self.intermediateSize = intermediateSize; self.hiddenAct = hiddenAct
        self.hiddenDropoutProb = hiddenDropoutProb; self.attentionProbsDropoutProb = attentionProbsDropoutProb
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps; self.initializerRange = initializerRange; self.padTokenID = padTokenID
        self.classifierDropout = classifierDropout; self.id2label = id2label
    }

    /// Reads `config.json` (any path).
    public init(contentsOf url: URL) throws {
        try self.init(json: try JSONConfig(contentsOf: url))
    }

    /// Reads the keys of a parsed `config.json`. Unknown activations, non-absolute position
    /// embeddings and inconsistent sizes are errors naming the key.
    public init(json c: JSONConfig) throws {
        let file = c.file
        let actName = try c.string("hidden_act", default: "gelu")
        guard let act = Activation(huggingFace: actName) else {
            throw BertError.unsupportedConfig(file: file, key: "hidden_act",
                                              problem: "activation '\(actName)' is not supported (use gelu, gelu_new, relu, silu or quick_gelu)")
        }
        let positions = try c.string("position_embedding_type", default: "absolute")
        guard positions == "absolute" else {
            throw BertError.unsupportedConfig(file: file, key: "position_embedding_type",
                                              problem: "'\(positions)' position embeddings are not supported (only absolute)")
        }
        if let type = try c.optionalString("model_type"), !Self.supportedModelTypes.contains(type) {
            throw BertError.unsupportedConfig(file: file, key: "model_type",
                                              problem: "'\(type)' is not a BERT-family encoder (supported: \(Self.supportedModelTypes.sorted().joined(separator: ", ")))")
        }
        var labels: [Int: String] = [:]
        if let map = try c.optionalStringMap("id2label") {
            for (k, v) in map {
                guard let id = Int(k), id >= 0 else {
                    throw BertError.unsupportedConfig(file: file, key: "id2label", problem: "label id '\(clippedForMessage(k))' is not a non-negative integer")
                }
                labels[id] = v
            }
        }
        self.init(
            vocabSize: try c.int("vocab_size", default: 30522), hiddenSize: try c.int("hidden_size", default: 768),
            numHiddenLayers: try c.int("num_hidden_layers", default: 12),
            numAttentionHeads: try c.int("num_attention_heads", default: 12),
            intermediateSize: try c.int("intermediate_size", default: 3072), hiddenAct: act,
            hiddenDropoutProb: try c.float("hidden_dropout_prob", default: 0.1),
            attentionProbsDropoutProb: try c.float("attention_probs_dropout_prob", default: 0.1),
            maxPositionEmbeddings: try c.int("max_position_embeddings", default: 512),
            typeVocabSize: try c.int("type_vocab_size", default: 2), layerNormEps: try c.float("layer_norm_eps", default: 1e-12),
            initializerRange: try c.float("initializer_range", default: 0.02), padTokenID: try c.int("pad_token_id", default: 0),
            classifierDropout: try c.optionalFloat("classifier_dropout"), id2label: labels)
        try validate(file: file)
    }

    /// `model_type` values whose checkpoints use BERT's layer schema and absolute positions.
    public static let supportedModelTypes: Set<String> = ["bert"]

    /// Checks sizes are positive and consistent; `file` names the source in the error.
    public func validate(file: String = "config.json") throws {
        let sizes: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
            ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize),
        ]
        for (key, v) in sizes where v <= 0 || v > 1 << 24 {
            throw BertError.unsupportedConfig(file: file, key: key, problem: "\(v) is not a sensible size (must be in 1...\(1 << 24))")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw BertError.unsupportedConfig(file: file, key: "num_attention_heads",
                                              problem: "hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
        for (key, p) in [("hidden_dropout_prob", hiddenDropoutProb), ("attention_probs_dropout_prob", attentionProbsDropoutProb),
                         ("classifier_dropout", classifierDropout ?? 0)] where !(p >= 0 && p < 1) {
            throw BertError.unsupportedConfig(file: file, key: key, problem: "dropout \(p) is outside [0, 1)")
        }
        guard layerNormEps > 0, layerNormEps.isFinite else {
            throw BertError.unsupportedConfig(file: file, key: "layer_norm_eps", problem: "\(layerNormEps) must be a positive number")
        }
    }

    /// The per-layer settings Core's encoder layer takes.
    public var layerConfig: TransformerLayerConfig {
        TransformerLayerConfig(dim: hiddenSize, numHeads: numAttentionHeads, ffnDim: intermediateSize, activation: hiddenAct,
                               normEps: layerNormEps, hiddenDropout: hiddenDropoutProb,
                               attentionDropout: attentionProbsDropoutProb)
    }
}

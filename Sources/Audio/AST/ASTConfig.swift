import Core
import Foundation

/// The parts of a Hugging Face `ASTConfig` (`model_type: audio-spectrogram-transformer`) the
/// model needs. Field names follow the JSON keys; defaults are those of
/// `MIT/ast-finetuned-audioset-10-10-0.4593` (AST-base: 12 layers, width 768, 16×16 patches
/// with stride 10 in both axes over 1024 frames × 128 mel bins).
public struct ASTConfig: Sendable, Equatable {
    public var hiddenSize = 768
    public var numLayers = 12
    public var numHeads = 12
    public var intermediateSize = 3072
    public var activation: Activation = .gelu
    public var layerNormEps: Float = 1e-12
    public var patchSize = 16
    public var frequencyStride = 10
    public var timeStride = 10
    /// Frames per example (`max_length`): the time extent the position embeddings cover.
    public var maxLength = 1024
    public var numMelBins = 128
    public var qkvBias = true
    /// Class names by index (`id2label`); empty for a bare encoder checkpoint.
    public var labels: [String] = []

    public init() {}

    /// AST-base shapes for `maxLength` frames (for random-weight models and benchmarks).
    public static func base(maxLength: Int = 1024) -> ASTConfig {
        var c = ASTConfig()
        c.maxLength = maxLength
        return c
    }

    /// Patches along the mel axis: `(numMelBins − patch) / frequencyStride + 1`.
    public var frequencyPatches: Int { (numMelBins - patchSize) / frequencyStride + 1 }
    /// Patches along time: `(maxLength − patch) / timeStride + 1`.
    public var timePatches: Int { (maxLength - patchSize) / timeStride + 1 }
    /// Tokens the encoder sees: the patches plus the class and distillation tokens.
    public var sequenceLength: Int { frequencyPatches * timePatches + 2 }

    /// The encoder-layer sizes.
    public var layerConfig: TransformerLayerConfig {
        TransformerLayerConfig(dim: hiddenSize, numHeads: numHeads, ffnDim: intermediateSize,
                               activation: activation, normEps: layerNormEps)
    }

    /// Reads `config.json` of an AST checkpoint. Missing keys take the AST-base defaults; values
    /// that cannot describe a model (a patch larger than the spectrogram, a width not divisible
    /// by the heads, an unknown activation) are an error naming the key.
    public init(contentsOf url: URL) throws {
        let json = try JSONConfig(contentsOf: url)
        try self.init(json: json)
    }

    /// Reads the fields from a parsed config.
    public init(json: JSONConfig) throws {
        let d = ASTConfig()
        hiddenSize = try json.int("hidden_size", default: d.hiddenSize)
        numLayers = try json.int("num_hidden_layers", default: d.numLayers)
        numHeads = try json.int("num_attention_heads", default: d.numHeads)
        intermediateSize = try json.int("intermediate_size", default: d.intermediateSize)
        let act = try json.string("hidden_act", default: "gelu")
        guard let a = Activation(huggingFace: act) else {
            throw ASTError.badConfig(file: json.file, "hidden_act '\(act)' is not supported (use gelu, gelu_new, relu or silu)")
        }
        activation = a
        layerNormEps = try json.float("layer_norm_eps", default: d.layerNormEps)
        patchSize = try json.int("patch_size", default: d.patchSize)
        frequencyStride = try json.int("frequency_stride", default: d.frequencyStride)
        timeStride = try json.int("time_stride", default: d.timeStride)
        maxLength = try json.int("max_length", default: d.maxLength)
        numMelBins = try json.int("num_mel_bins", default: d.numMelBins)
        qkvBias = try json.bool("qkv_bias", default: true)
        if let map = try json.optionalStringMap("id2label") {
            var pairs: [(Int, String)] = []
            for (k, v) in map {
                guard let i = Int(k) else { throw ASTError.badConfig(file: json.file, "id2label key '\(k)' is not an integer") }
                pairs.append((i, v))
            }
            pairs.sort { $0.0 < $1.0 }
            guard pairs.enumerated().allSatisfy({ $0.offset == $0.element.0 }) else {
                throw ASTError.badConfig(file: json.file, "id2label keys must be 0…\(pairs.count - 1) without gaps")
            }
            labels = pairs.map(\.1)
        }
        try validate(file: json.file)
    }

    /// Throws when the sizes cannot describe a model.
    public func validate(file: String = "config") throws {
        func bad(_ s: String) -> ASTError { ASTError.badConfig(file: file, s) }
        guard hiddenSize > 0, numLayers > 0, numHeads > 0, intermediateSize > 0 else {
            throw bad("hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive")
        }
        guard hiddenSize % numHeads == 0 else { throw bad("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numHeads)") }
        guard patchSize > 0, frequencyStride > 0, timeStride > 0 else { throw bad("patch_size and the strides must be positive") }
        guard numMelBins >= patchSize else { throw bad("num_mel_bins \(numMelBins) is smaller than patch_size \(patchSize)") }
        guard maxLength >= patchSize else { throw bad("max_length \(maxLength) is smaller than patch_size \(patchSize)") }
    }
}

/// Errors from building or loading an AST. One line naming the file or setting and what to do.
public enum ASTError: Error, CustomStringConvertible, Equatable {
    case badConfig(file: String, String)
    case badInput(String)
    case badCheckpoint(file: String, String)

    public var description: String {
        switch self {
        case let .badConfig(file, s): return "\(file): \(s)"
        case let .badInput(s): return s
        case let .badCheckpoint(file, s): return "\(file): \(s)"
        }
    }
}

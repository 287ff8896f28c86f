import Core
import Foundation

/// Sizes of a Whisper model (the architecture part of a Hugging Face `WhisperConfig`).
/// tiny.en: d_model 384, 4 + 4 layers, 6 heads, FFN 1536, 80 mel bins, 1500 encoder positions
/// (30 s at 50 Hz), 448 decoder positions, 51864 tokens.
///
/// ```swift
/// let cfg = try WhisperConfig(huggingFace: modelDir.appendingPathComponent("config.json"))
/// ```
public struct WhisperConfig: Sendable, Equatable {
    public var dModel: Int
    public var encoderLayers: Int
    public var decoderLayers: Int
    public var encoderHeads: Int
    public var decoderHeads: Int
    public var encoderFFN: Int
    public var decoderFFN: Int
    public var melBins: Int
    /// Encoder positions: frames after the stride-2 convolution (1500 = 30 s).
    public var maxSourcePositions: Int
    /// Decoder positions (prompt + generated tokens).
    public var maxTargetPositions: Int
    public var vocabSize: Int
    public var activation: Activation
    /// LayerNorm epsilon. Neither config gives it; 1e-5 (PyTorch's default) reproduces both references.
    public var normEps: Float

    public init(dModel: Int, encoderLayers: Int, decoderLayers: Int, encoderHeads: Int, decoderHeads: Int,
                encoderFFN: Int, decoderFFN: Int, melBins: Int = 80, maxSourcePositions: Int = 1500,
                maxTargetPositions: Int = 448, vocabSize: Int, activation: Activation = .gelu, normEps: Float = 1e-5) {
        self.dModel = dModel; self.encoderLayers = encoderLayers; self.decoderLayers = decoderLayers
        self.encoderHeads = encoderHeads; self.decoderHeads = decoderHeads
        self.encoderFFN = encoderFFN; self.decoderFFN = decoderFFN; self.melBins = melBins
        self.maxSourcePositions = maxSourcePositions; self.maxTargetPositions = maxTargetPositions
        self.vocabSize = vocabSize; self.activation = activation; self.normEps = normEps
    }

    /// Whisper tiny / tiny.en sizes (vocabulary 51864 for English-only, 51865 multilingual).
    public static let tinyEnglish = WhisperConfig(dModel: 384, encoderLayers: 4, decoderLayers: 4, encoderHeads: 6,
                                                  decoderHeads: 6, encoderFFN: 1536, decoderFFN: 1536, vocabSize: 51864)

    /// Reads a Hugging Face `config.json` (`model_type` "whisper").
    public init(huggingFace url: URL) throws {
        try self.init(huggingFace: try JSONConfig(contentsOf: url))
    }

    /// Reads a parsed Hugging Face `config.json`; errors name `c.file`.
    public init(huggingFace c: JSONConfig) throws {
        let url = URL(fileURLWithPath: c.file)
        let actName = try c.string("activation_function", default: "gelu")
        guard let act = Activation(huggingFace: actName) else {
            throw WhisperLoadError(path: url.path, problem: "activation_function '\(actName)' is not supported (expected gelu)")
        }
        if try c.bool("scale_embedding", default: false) {
            throw WhisperLoadError(path: url.path, problem: "scale_embedding = true is not supported (no Whisper checkpoint uses it)")
        }
        self.init(dModel: try c.int("d_model"), encoderLayers: try c.int("encoder_layers"),
                  decoderLayers: try c.int("decoder_layers"), encoderHeads: try c.int("encoder_attention_heads"),
                  decoderHeads: try c.int("decoder_attention_heads"), encoderFFN: try c.int("encoder_ffn_dim"),
                  decoderFFN: try c.int("decoder_ffn_dim"), melBins: try c.int("num_mel_bins", default: 80),
                  maxSourcePositions: try c.int("max_source_positions", default: 1500),
                  maxTargetPositions: try c.int("max_target_positions", default: 448),
                  vocabSize: try c.int("vocab_size"), activation: act)
        try validate(source: url.path)
    }

    /// Checks that the sizes can build a model (positive, widths divisible by the head counts).
    public func validate(source: String) throws {
        let sizes = [dModel, encoderLayers, decoderLayers, encoderHeads, decoderHeads, encoderFFN, decoderFFN,
                     melBins, maxSourcePositions, maxTargetPositions, vocabSize]
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw WhisperLoadError(path: source, problem: "model sizes must be positive, got \(self)")
        }
        guard dModel % encoderHeads == 0, dModel % decoderHeads == 0 else {
            throw WhisperLoadError(path: source, problem: "d_model \(dModel) is not divisible by the head counts \(encoderHeads)/\(decoderHeads)")
        }
    }

    /// Layer config of the encoder layers.
    public var encoderLayerConfig: TransformerLayerConfig {
        TransformerLayerConfig(dim: dModel, numHeads: encoderHeads, ffnDim: encoderFFN, activation: activation, normEps: normEps)
    }
}

/// A Whisper model folder or file that cannot be used: the path, the problem, what to do.
public struct WhisperLoadError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }
}

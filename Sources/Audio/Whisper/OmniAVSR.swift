import Core
import Foundation

/// The three Omni-AVSR tasks; a training batch belongs to one of them.
public enum AVSRTask: String, CaseIterable, Sendable {
    case asr, vsr, avsr

    /// The paper's loss weights: L = (1.0·L_ASR + 1.5·L_VSR + 1.0·L_AVSR) / 3.
    public var lossWeight: Float { self == .vsr ? 1.5 : 1.0 }
}

/// Omni-AVSR's model with the Whisper decoder standing in for the paper's decoder-only LLM: the
/// Whisper decoder already cross-attends to audio features and knows English text, so a
/// concatenated memory of compressed audio and visual tokens can be read through its
/// cross-attention with nothing else to learn but the projectors, the modality embeddings and
/// the LoRAs (an LLM of several billion parameters does not fit this CPU-only setting).
///
/// - Audio: frozen Whisper encoder output (50 Hz) → `audio` branch (rates {1, 4, 16} by default,
///   residual zero-initialised projectors).
/// - Video: features of a frozen vision encoder (computed by the caller, e.g. DINOv2 in Vision,
///   25 fps) → `video` branch (rates {1, 2, 5}).
/// - Memory = concat(audio tokens, video tokens) along time, with a mask for padding; the
///   decoder's self- and cross-attention q and v carry an Omni-LoRA (`TaskRoutedLoRA`: S, T or ST).
public final class OmniAVSR: Module {
    public let whisper: WhisperModel
    public let audio: MatryoshkaBranch
    public let video: MatryoshkaBranch?
    /// Whether video tokens get Whisper's encoder position at their time (`videoTimeEmbedding`).
    public let videoTimePositions: Bool
    /// Frames of context on each side stacked onto every video frame before compression (0 = none).
    public let videoContext: Int
    /// Trainable time rows of the video tokens (`video_positions [rows, d]`, initialised from the
    /// encoder's position table), when `learnedVideoPositions`; nil = the frozen table itself.
    /// The encoder's *output* carries its time in a form its 4 layers made of the input rows;
    /// video tokens that should look like those outputs (`VideoDistillation`) need a table that
    /// can learn it.
    public let videoPositionTable: Tensor?
    /// The Omni-LoRAs on the decoder, by module path (`layers.0.self_attn.q_proj`, …).
    public private(set) var loras: [(path: String, adapter: TaskRoutedLoRA)] = []

    /// Wraps a (frozen) Whisper model. `videoDim` nil builds an audio-only model. LoRA rank =
    /// round(d / reductionFactor) and scale = alpha / reductionFactor (the adapter library's convention).
    /// `videoHidden` is the video projectors' hidden width (nil = the decoder width); `videoContext`
    /// = c stacks the features of the c frames before and after onto each frame (`temporalContext`),
    /// so the video projector's input is `(2c + 1)·videoDim` wide.
    public init(whisper: WhisperModel, videoDim: Int?, audioRates: [Int] = [1, 4, 16], videoRates: [Int] = [1, 2, 5],
                loraMode: TaskLoRAMode = .sharedAndTask, reductionFactor: Int = 8, alpha: Float = 8, seed: UInt64 = 0,
                videoTimePositions: Bool = true, videoHidden: Int? = nil, videoContext: Int = 0,
                learnedVideoPositions: Bool = false) throws {
        // One Omni-AVSR per Whisper instance: the LoRAs are attached to its decoder's linears.
        if whisper.decoder.layers.items.first?.selfAttention.query.adapters.contains(where: { $0.name == "omni" }) == true {
            throw WhisperDecodeError("this Whisper model already carries an Omni-AVSR adapter; load a fresh copy of the model for another one")
        }
        self.whisper = whisper
        self.videoTimePositions = videoTimePositions
        guard videoContext >= 0 else { throw WhisperDecodeError("video context must be ≥ 0 frames, got \(videoContext)") }
        self.videoContext = videoContext
        let table = whisper.encoder.embedPositions.weight
        videoPositionTable = learnedVideoPositions && videoTimePositions && videoDim != nil
            ? Tensor(table.storage, shape: table.shape, requiresGrad: true) : nil
        whisper.freeze()
        let d = whisper.config.dModel
        let root = SplitMix64(seed: seed)
        audio = try MatryoshkaBranch(inDim: d, dim: d, rates: audioRates, residual: true, seed: root.fork(1).state)
        video = try videoDim.map { try MatryoshkaBranch(inDim: $0 * (2 * videoContext + 1), dim: d, rates: videoRates, hidden: videoHidden, residual: false, seed: root.fork(2).state) }
        super.init()
        let scaling = LoRAScaling.reductionFactor(reductionFactor)
        let rank = scaling.rank(configured: 0, inFeatures: d)
        for (i, layer) in whisper.decoder.layers.items.enumerated() {
            let targets: [(String, Linear)] = [("self_attn.q_proj", layer.selfAttention.query), ("self_attn.v_proj", layer.selfAttention.value),
                                               ("encoder_attn.q_proj", layer.crossAttention.query), ("encoder_attn.v_proj", layer.crossAttention.value)]
            for (name, linear) in targets {
                let path = "layers.\(i).\(name)"
                let lora = try TaskRoutedLoRA(inFeatures: linear.inFeatures, outFeatures: linear.outFeatures,
                                              tasks: AVSRTask.allCases.map(\.rawValue), mode: loraMode, rank: rank,
                                              scaling: scaling.scale(alpha: alpha, rank: rank), seed: root.fork(Self.fnv1a(path)).state,
                                              key: path)
                linear.attach(lora, name: "omni")
                loras.append((path, lora))
            }
        }
    }

    override public func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = [("whisper", whisper), ("audio", audio)]
        if let v = video { out.append(("video", v)) }
        return out
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        videoPositionTable.map { [("video_positions", $0)] } ?? []
    }

    /// FNV-1a of a name: a stable per-module seed (Swift's `hashValue` changes between runs).
    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    /// Routes every Omni-LoRA to `task`.
    public func setTask(_ task: AVSRTask) { for (_, l) in loras { l.task = task.rawValue } }

    /// Which modalities a task reads.
    public static func uses(_ task: AVSRTask) -> (audio: Bool, video: Bool) {
        switch task {
        case .asr: return (true, false)
        case .vsr: return (false, true)
        case .avsr: return (true, true)
        }
    }

    /// Whisper's encoder position rows at the centre times of `count` video windows of `rate`
    /// frames, `[count, d]` (frozen). The decoder finds its place in the audio through the
    /// positions the encoder mixed into its states; video tokens have none of their own, so
    /// without this the cross-attention sees an unordered bag of mouth shapes. Frames are 25 fps
    /// and encoder positions 50 Hz: window i covers positions [2ri, 2r(i+1)), centre 2ri + r
    /// (clamped to the table), so a video token carries the time of the audio it goes with.
    public func videoTimeEmbedding(count: Int, rate: Int) -> Tensor {
        if let learned = videoPositionTable {
            return learned.indexSelect(axis: 0, (0..<count).map { min(learned.shape[0] - 1, 2 * rate * $0 + rate) })
        }
        let table = whisper.encoder.embedPositions.weight
        let rows = table.shape[0], d = table.shape[1]
        var out = [Float](repeating: 0, count: count * d)
        for i in 0..<count {
            let p = min(rows - 1, 2 * rate * i + rate)
            out.replaceSubrange((i * d)..<((i + 1) * d), with: table.storage[(p * d)..<((p + 1) * d)])
        }
        return Tensor(out, shape: [count, d])
    }

    /// `[B, T, D]` → `[B, T, (2c + 1)·D]`: frame t's row is the concatenation of frames t − c, …, t + c (clamped to the item's valid frames, so padding never
    /// leaks in). A per-frame image encoder (DINOv2) sees one mouth shape; a viseme is a movement
    /// over several frames, which AV-HuBERT's temporal front end and transformer see and this
    /// gives the projector. The input is frozen, so no gradient is recorded.
    public static func temporalContext(_ x: Tensor, lengths: [Int]?, radius c: Int) -> Tensor {
        precondition(x.rank == 3 && c >= 0, "temporalContext: input must be [B, T, D], got \(x.shape)")
        let b = x.shape[0], t = x.shape[1], d = x.shape[2], w = (2 * c + 1) * d
        var out = [Float](repeating: 0, count: b * t * w)
        for i in 0..<b {
            let valid = max(1, min(t, lengths?[i] ?? t))
            for f in 0..<t {
                for k in 0..<(2 * c + 1) {
                    let src = min(valid - 1, max(0, min(f, valid - 1) + k - c))
                    let from = (i * t + src) * d, to = (i * t + f) * w + k * d
                    out.replaceSubrange(to..<(to + d), with: x.storage[from..<(from + d)])
                }
            }
        }
        return Tensor(out, shape: [b, t, w])
    }

    /// The decoder memory for `task`: compressed audio `[B, ⌈Ta/ra⌉, d]` and/or video tokens, concatenated,
    /// with a `[B, S]` mask (1 real, 0 padding) from the valid lengths (nil lengths = all valid).
    public func memory(task: AVSRTask, audioStates: Tensor?, audioLengths: [Int]? = nil, audioRate: Int,
                       videoFeatures: Tensor?, videoLengths: [Int]? = nil, videoRate: Int) throws -> (memory: Tensor, mask: Tensor) {
        let use = Self.uses(task)
        var parts: [Tensor] = [], masks: [[[Float]]] = []
        func add(_ x: Tensor, _ lengths: [Int]?, _ rate: Int, _ branch: MatryoshkaBranch) throws {
            guard branch.rates.contains(rate) else { throw WhisperDecodeError("rate \(rate) is not one of the trained rates \(branch.rates)") }
            var tokens = branch(x, rate: rate)
            if branch === video && videoTimePositions { tokens = tokens + videoTimeEmbedding(count: tokens.shape[1], rate: rate) }
            let lens = lengths ?? [Int](repeating: x.shape[1], count: x.shape[0])
            masks.append(lens.map { len in (0..<tokens.shape[1]).map { $0 < MatryoshkaBranch.pooledLength(len, rate: rate) ? 1 : 0 } })
            parts.append(tokens)
        }
        if use.audio {
            guard let a = audioStates else { throw WhisperDecodeError("task \(task.rawValue) needs audio features") }
            try add(a, audioLengths, audioRate, audio)
        }
        if use.video {
            guard let v = videoFeatures, let branch = video else { throw WhisperDecodeError("task \(task.rawValue) needs video features and a video branch") }
            try add(videoContext > 0 ? Self.temporalContext(v, lengths: videoLengths, radius: videoContext) : v, videoLengths, videoRate, branch)
        }
        let batch = parts[0].shape[0]
        guard parts.allSatisfy({ $0.shape[0] == batch }) else { throw WhisperDecodeError("audio and video batches differ: \(parts.map(\.shape))") }
        let mask = (0..<batch).flatMap { b in masks.flatMap { $0[b] } }
        let memory = parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 1)
        return (memory, Tensor(mask, shape: [batch, memory.shape[1]]))
    }

    /// Teacher-forced cross-entropy of `targets` for one task's batch. `sequences` are
    /// `prompt + transcript ids + end of text`, right-padded with -1 to one length; the loss covers
    /// the positions after the prompt (padding ignored).
    public func loss(task: AVSRTask, memory: Tensor, mask: Tensor, sequences: [[Int]], promptLength: Int) throws -> Tensor {
        setTask(task)
        let b = sequences.count, t = (sequences.map(\.count).max() ?? 1) - 1
        guard b == memory.shape[0], t >= promptLength else { throw WhisperDecodeError("\(b) sequences for a memory batch of \(memory.shape[0])") }
        var inputs: [Int] = [], targets: [Int] = []
        for s in sequences {
            let padded = s + [Int](repeating: -1, count: t + 1 - s.count)
            inputs += padded.prefix(t).map { max($0, 0) }  // padding ids are never attended to by real positions
            for (i, y) in padded.dropFirst().enumerated() { targets.append(i + 1 < promptLength ? -100 : (y < 0 ? -100 : y)) }
        }
        let hidden = try whisper.decoder.forward(tokens: inputs, batch: b, memory: memory, memoryMask: mask)
        let logits = whisper.decoder.logits(hidden).reshaped([b * t, whisper.config.vocabSize])
        return logits.crossEntropy(targets: targets, ignoreIndex: -100)
    }

    /// The paper's step loss over one batch per task: Σ weight_task · L_task / 3.
    public static func combinedLoss(_ losses: [AVSRTask: Tensor]) -> Tensor {
        var total: Tensor?
        for task in AVSRTask.allCases {
            guard let l = losses[task] else { continue }
            let term = l * task.lossWeight
            total = total.map { $0 + term } ?? term
        }
        return (total ?? Tensor(scalar: 0)) * (1 / Float(AVSRTask.allCases.count))
    }
}

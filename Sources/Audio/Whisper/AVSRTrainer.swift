import Core
import Foundation

/// Training settings of `avsr-tune train` (recorded in the adapter folder).
public struct AVSRTrainingOptions: Codable, Sendable, Equatable {
    public var epochs = 3
    public var batchSize = 8
    public var learningRate = 1e-3
    /// Fraction of the steps with linear warm-up (then cosine decay to 0).
    public var warmupFraction = 0.1
    public var seed: UInt64 = 42
    public var audioRates = [1, 4, 16]
    public var videoRates = [1, 2, 5]
    /// `shared`, `task` or `shared+task` (Omni-LoRA S, T, ST).
    public var loraMode = "shared+task"
    public var reductionFactor = 8
    public var alpha: Float = 8
    /// Video tokens carry Whisper's encoder position of their time (nil in files written before
    /// this option existed = no positions).
    public var videoPositions: Bool? = true
    /// Per-frame visual feature: `cls` (DINOv2's class token), `patch-mean` (mean of the patch
    /// tokens) or `cls+patch-mean` (both, concatenated); nil = `cls`.
    public var visualFeatures: String? = "cls"
    /// The tasks to train (`asr`, `vsr`, `avsr`); nil = every task the data supports (the paper's
    /// joint training). A subset is a diagnostic, e.g. `vsr` alone to see whether the visual path learns.
    public var tasks: [String]? = nil
    /// AdamW weight decay and second-moment decay; nil (files written before these options) = the
    /// paper's 0.1 and 0.98.
    public var weightDecay: Double? = 0.1
    public var beta2: Double? = 0.98
    /// Hidden width of the video projectors (nil = the decoder width); the paper's is 2× its input.
    public var videoHidden: Int? = nil
    /// Frames of context stacked on each side of every video frame (nil = 0; `OmniAVSR.temporalContext`).
    public var videoContext: Int? = nil
    /// Cross-modal pre-training of the video branch on the clean audio's encoder states before the
    /// joint loss (`VideoDistillation`); nil = none.
    public var videoDistillation: VideoDistillation.Options? = nil
    /// Video time rows are trainable (`OmniAVSR.videoPositionTable`); nil = the frozen encoder table.
    public var learnedVideoPositions: Bool? = nil
    public init() {}
}

/// One training or evaluation utterance, reduced to what the trainable part sees: the frozen
/// Whisper encoder's output (computed once; the encoder never changes), optional visual features,
/// and the transcript's token ids (no special tokens).
public struct AVSRExample: Sendable {
    /// `[S, d]` Whisper encoder states of the utterance's 30 s window.
    public var audioStates: Tensor?
    /// `[T, dv]` frozen visual-encoder features (25 fps), when the utterance has video.
    public var videoFeatures: Tensor?
    public var targets: [Int]
    /// Duration of the recording in seconds, when known (bounds the decoded length).
    public var seconds: Double?
    public init(audioStates: Tensor?, videoFeatures: Tensor? = nil, targets: [Int], seconds: Double? = nil) {
        self.audioStates = audioStates
        self.videoFeatures = videoFeatures
        self.targets = targets
        self.seconds = seconds
    }
}

/// Omni-AVSR training and inference on precomputed frozen-encoder outputs.
///
/// Each step draws one batch and one compression rate per modality uniformly from the trained
/// rates (Matryoshka training, the paper's "optimized" variant), shared by every task the data
/// supports (ASR always; VSR and AVSR on the batch's examples that have video; `options.tasks` may narrow
/// them), and minimises the paper's `(1.0·L_ASR + 1.5·L_VSR + 1.0·L_AVSR)/3` with
/// AdamW over the Omni-LoRAs, the rate projectors and the modality embeddings. Batches are a
/// seeded shuffle per epoch (the last partial batch is kept).
public enum AVSRTrainer {
    /// Whisper encoder states `[S, d]` of each 16 kHz recording's first 30 s window.
    public static func encodeAudio(model: WhisperModel, recordings: [[Float]], batch: Int = 4,
                                   log: (String) -> Void = { _ in }) throws -> [Tensor] {
        let features = WhisperLogMel(melBins: model.config.melBins)
        var out: [Tensor] = []
        let started = Date()
        var start = 0
        while start < recordings.count {
            let group = recordings[start..<min(start + batch, recordings.count)]
            let mels = try group.map { try features.compute(Array($0.prefix(features.chunkSamples)), padding: .chunk) }
            let frames = mels[0].shape[1]
            let x = Tensor(Array(mels.map(\.storage).joined()), shape: [mels.count, model.config.melBins, frames])
            let states = withoutGrad { model.encoder.encode(x) }
            for b in 0..<group.count {
                out.append(states.slice(axis: 0, b..<(b + 1)).reshaped(Array(states.shape.dropFirst())))
            }
            start += group.count
            if start % 40 < batch || start == recordings.count {
                let rate = Double(start) / max(Date().timeIntervalSince(started), 1e-9)
                log(String(format: "  encoded %d/%d utterances (%.1f/s, ETA %.0f s)", start, recordings.count, rate,
                           Double(recordings.count - start) / max(rate, 1e-9)))
            }
        }
        return out
    }

    /// Stacks `[S_i, d]` tensors into `[B, max S, d]`, zero-padding the shorter ones at the end;
    /// returns the valid lengths (for the memory mask).
    static func stack(_ xs: [Tensor]) throws -> (Tensor, [Int]) {
        guard let first = xs.first, xs.allSatisfy({ $0.rank == 2 && $0.shape[1] == first.shape[1] }) else {
            throw WhisperDecodeError("cannot batch features of different widths \(Set(xs.map(\.shape)))")
        }
        let width = first.shape[1], longest = xs.map { $0.shape[0] }.max()!
        var data = [Float](repeating: 0, count: xs.count * longest * width)
        for (b, x) in xs.enumerated() {
            data.replaceSubrange((b * longest * width)..<(b * longest * width + x.count), with: x.storage)
        }
        return (Tensor(data, shape: [xs.count, longest, width]), xs.map { $0.shape[0] })
    }

    /// Trains `model` on `examples`; `prompt` is the decoder prompt (start of transcript, no
    /// timestamps), `endOfText` ends every target. Returns the loss of every step.
    @discardableResult
    public static func train(model: OmniAVSR, examples: [AVSRExample], prompt: [Int], endOfText: Int,
                             options o: AVSRTrainingOptions, log: (String) -> Void) throws -> [Float] {
        try train(model: model, examples: examples, prompt: prompt, endOfText: endOfText, options: o, run: TrainingRun(), log: log).losses
    }

    /// The batch order of `task` (index into the trained tasks) in `epoch` (1-based): a pure
    /// function of (seed, epoch, task), so a resumed run rebuilds it without stored state.
    static func order(count: Int, seed: UInt64, epoch: Int, task: Int) -> [Int] {
        var rng = SplitMix64(seed: seed ^ 0x0D0E_5EED).fork(UInt64(epoch) << 8 | UInt64(task))
        return Array(0..<count).shuffledSeeded(&rng)
    }

    /// The generator of optimizer step `step` (0-based), which draws that step's compression
    /// rates: again a pure function of (seed, step), so a resume draws the same rates.
    static func stepRNG(seed: UInt64, step: Int) -> SplitMix64 {
        SplitMix64(seed: seed ^ 0x2A7E_5EED).fork(UInt64(step))
    }

    /// The settings a resume must match: the training options, the prompt and end token, the
    /// number of examples and a fingerprint of their targets and features (FNV-1a over every
    /// target id and every 61st feature value: enough to tell another data set or noise
    /// condition apart without hashing ~10^8 floats).
    static func runConfig(options o: AVSRTrainingOptions, examples: [AVSRExample], prompt: [Int], endOfText: Int) throws -> [String: String] {
        // One key per option, so a refusal names the option that differs.
        var config = ["prompt": "\(prompt) \(endOfText)", "examples": "\(examples.count)"]
        if let fields = try JSONSerialization.jsonObject(with: JSONEncoder().encode(o)) as? [String: Any] {
            for (k, v) in fields { config["option." + k] = "\(v)" }
        }
        var h = FNV1a64()
        for x in examples {
            for t in x.targets { h.mix(UInt64(t)) }
            h.mix(0xFFFF)
            for f in [x.audioStates, x.videoFeatures] {
                guard let f else { h.mix(0); continue }
                for d in f.shape { h.mix(UInt64(d)) }
                h.mix(stride(from: 0, to: f.count, by: 61).map { f.storage[$0] })
            }
        }
        config["data"] = h.hex
        return config
    }

    /// What a training run did: the loss of every step it ran (a resumed run: the steps after
    /// the resume) and its speed.
    public struct Report: Sendable {
        public var losses: [Float]
        /// Optimizer steps run in this process and their wall time.
        public var steps: Int
        public var seconds: Double
        /// Utterances per step summed over the tasks (a step trains one batch per task).
        public var utterances: Int
        /// Each task's (unweighted) loss at every step, by task name.
        public var taskLosses: [String: [Float]] = [:]
        public var stepsPerSecond: Double { Double(steps) / max(seconds, 1e-9) }
        public var utterancesPerSecond: Double { Double(utterances) / max(seconds, 1e-9) }
    }

    /// Trains with checkpoints and resume: `run.checkpointFolder` gets a `TrainingCheckpoint`
    /// every `run.checkpointEvery` steps and at the end (trainable weights incl. projectors,
    /// modality embeddings and Omni-LoRAs, AdamW moments and step; the position, from which the
    /// schedule, the batch order and the rate draws are rebuilt, as they are pure functions of
    /// the seed and the position); `run.resumeFrom` continues such a run bit-identically, and
    /// refuses a checkpoint from other options or data, naming the difference.
    public static func train(model: OmniAVSR, examples: [AVSRExample], prompt: [Int], endOfText: Int,
                             options o: AVSRTrainingOptions, run: TrainingRun, logEvery: Int = 10, log: (String) -> Void) throws -> Report {
        guard !examples.isEmpty else { throw WhisperDecodeError("no training utterances") }
        guard o.epochs >= 1, o.batchSize >= 1, o.learningRate > 0 else {
            throw WhisperDecodeError("epochs, batch size and learning rate must be positive")
        }
        // Utterances without video (frames missing) train the audio-only task; the video tasks of
        // a step read the batch's utterances that have it.
        let hasVideo = model.video != nil && examples.contains { $0.videoFeatures != nil }
        let hasAudio = examples.allSatisfy { $0.audioStates != nil }
        var tasks = AVSRTask.allCases.filter {
            let use = OmniAVSR.uses($0)
            return (!use.audio || hasAudio) && (!use.video || hasVideo)
        }
        guard !tasks.isEmpty else { throw WhisperDecodeError("the examples have neither audio states nor video features for every utterance") }
        if let wanted = o.tasks {
            for name in wanted where AVSRTask(rawValue: name) == nil {
                throw WhisperDecodeError("unknown task '\(name)' (use asr, vsr, avsr)")
            }
            tasks = tasks.filter { wanted.contains($0.rawValue) }
            guard !tasks.isEmpty else { throw WhisperDecodeError("none of the tasks \(wanted) can be trained on these examples (vsr and avsr need video features)") }
        }
        let params = model.trainableParameters()
        let opt = AdamW(learningRate: o.learningRate, beta2: o.beta2 ?? 0.98, weightDecay: o.weightDecay ?? 0.1)
        let stepsPerEpoch = (examples.count + o.batchSize - 1) / o.batchSize
        let total = stepsPerEpoch * o.epochs
        let schedule = LRSchedule.cosine(warmup: Int(Double(total) * o.warmupFraction), total: total)
        let session = try TrainingSession(command: "avsr-tune train", model: model, parameters: params, optimizer: opt,
                                          config: try runConfig(options: o, examples: examples, prompt: prompt, endOfText: endOfText),
                                          folder: run.checkpointFolder, every: run.checkpointEvery, world: run.world)
        var at = TrainingPosition()
        if let dir = run.resumeFrom {
            let ckpt = try session.resume(from: dir, within: TrainingExtent(epochs: o.epochs, batchesPerEpoch: stepsPerEpoch, steps: total))
            at = ckpt.position
            log("resumed from \(TrainingCheckpoint.file(in: dir).path) at step \(at.step)/\(total)")
        }
        var step = at.step
        var losses: [Float] = []
        var utterances = 0
        var perTask: [String: [Float]] = [:]
        let started = Date()
        log("training \(params.reduce(0) { $0 + $1.1.count }) parameters on \(examples.count) utterances, tasks \(tasks.map(\.rawValue)), \(total) steps")
        for epoch in stride(from: max(1, at.epoch), through: o.epochs, by: 1) {
            // As the paper: one shuffled order, and every task of a step reads the same batch at
            // the same (audio rate, video rate), drawn once per step.
            let epochOrder = order(count: examples.count, seed: o.seed, epoch: epoch, task: 0)
            for s in 0..<stepsPerEpoch where !at.alreadyTrained(epoch: epoch, batch: s) {
                opt.learningRate = schedule.learningRate(at: step, base: o.learningRate)
                var rng = stepRNG(seed: o.seed, step: step)
                let audioRate = model.audio.sampleRate(using: &rng)
                let videoRate = model.video?.sampleRate(using: &rng) ?? 1
                var taskLosses: [AVSRTask: Tensor] = [:]
                for task in tasks {
                    let use = OmniAVSR.uses(task)
                    let batch = epochOrder[(s * o.batchSize)..<min((s + 1) * o.batchSize, examples.count)].map { examples[$0] }
                        .filter { !use.video || $0.videoFeatures != nil }
                    if batch.isEmpty { continue }
                    let audio = use.audio ? try stack(batch.map { $0.audioStates! }) : nil
                    let video = use.video ? try stack(batch.map { $0.videoFeatures! }) : nil
                    let (memory, mask) = try model.memory(task: task, audioStates: audio?.0, audioLengths: audio?.1, audioRate: audioRate,
                                                          videoFeatures: video?.0, videoLengths: video?.1, videoRate: videoRate)
                    let sequences = batch.map { prompt + $0.targets + [endOfText] }
                    taskLosses[task] = try model.loss(task: task, memory: memory, mask: mask, sequences: sequences, promptLength: prompt.count)
                    utterances += batch.count
                }
                let loss = OmniAVSR.combinedLoss(taskLosses)
                for (task, l) in taskLosses { perTask[task.rawValue, default: []].append(l.item) }
                loss.backward()
                opt.step(params)
                opt.zeroGrad(params)
                losses.append(loss.item)
                step += 1
                if s + 1 < stepsPerEpoch {
                    try session.checkpointIfDue(TrainingPosition(step: step, epoch: epoch, batchInEpoch: s + 1))
                } else if epoch < o.epochs {
                    try session.checkpointIfDue(TrainingPosition(step: step, epoch: epoch + 1))
                }
                if step % max(1, logEvery) == 0 || step == total {
                    let elapsed = Date().timeIntervalSince(started), done = Double(losses.count)
                    let recent = losses.suffix(10)
                    let split = tasks.map { t -> String in
                        let r = perTask[t.rawValue, default: []].suffix(10)
                        return String(format: "%@ %.3f", t.rawValue, r.reduce(0, +) / Float(max(1, r.count)))
                    }.joined(separator: ", ")
                    log(String(format: "  epoch %d step %d/%d  loss %.4f (%@)  %.3f steps/s  %.1f utterances/s  ETA %.0f s", epoch, step, total,
                               recent.reduce(0, +) / Float(recent.count), split, done / max(elapsed, 1e-9), Double(utterances) / max(elapsed, 1e-9),
                               elapsed / max(done, 1) * Double(total - step)))
                }
            }
        }
        try session.checkpoint(TrainingPosition(step: step, epoch: o.epochs + 1, finished: true))
        return Report(losses: losses, steps: losses.count, seconds: Date().timeIntervalSince(started), utterances: utterances, taskLosses: perTask)
    }

    /// Most tokens a transcript of `seconds` of speech may have: 8 per second (about three times
    /// a fast speaker's rate in Whisper tokens) plus 8. Without such a bound a decoder that is
    /// unsure of a noisy or silent input can loop ("the the the …") up to the global maximum,
    /// and the insertions push the WER far above 1; the guard treats ASR, VSR and AVSR alike.
    public static func tokenBudget(seconds: Double) -> Int { 8 + Int((8 * max(0, seconds)).rounded(.up)) }

    /// Greedy (or beam) transcripts of `examples` for `task` at the given rates, `batch` at a time.
    /// An example that knows its duration may have at most `tokenBudget(seconds:)` tokens (each
    /// its own budget, also inside a batch); with `fallback` (the default), a hypothesis cut off
    /// at its budget or looping is decoded again by Whisper's temperature fallback (`WhisperFallback`).
    public static func transcribe(model: OmniAVSR, examples: [AVSRExample], task: AVSRTask, audioRate: Int, videoRate: Int,
                                  options: WhisperDecodingOptions, batch: Int = 8,
                                  fallback: WhisperFallback? = WhisperFallback()) throws -> [[Int]] {
        try transcribeWithAttempts(model: model, examples: examples, task: task, audioRate: audioRate, videoRate: videoRate,
                                   options: options, batch: batch, fallback: fallback).map(\.tokens)
    }

    /// `transcribe`, also returning how many decoding attempts each example took (1 = kept its
    /// first hypothesis).
    public static func transcribeWithAttempts(model: OmniAVSR, examples: [AVSRExample], task: AVSRTask, audioRate: Int, videoRate: Int,
                                              options: WhisperDecodingOptions, batch: Int = 8,
                                              fallback: WhisperFallback? = WhisperFallback()) throws -> [(tokens: [Int], attempts: Int)] {
        model.setTask(task)
        let use = OmniAVSR.uses(task)
        var out: [(tokens: [Int], attempts: Int)] = []
        var start = 0
        // Decoding reads the whole memory (no padding mask), so utterances with video, whose
        // lengths differ, are decoded one at a time; audio states all have Whisper's 30 s length.
        let step = use.video ? 1 : batch
        while start < examples.count {
            let group = Array(examples[start..<min(start + step, examples.count)])
            let memory: Tensor = try withoutGrad {
                let audio = use.audio ? try stack(group.map { $0.audioStates! }).0 : nil
                let video = use.video ? try stack(group.map { $0.videoFeatures! }).0 : nil
                return try model.memory(task: task, audioStates: audio, audioRate: audioRate, videoFeatures: video, videoRate: videoRate).memory
            }
            let caps = group.map { x in min(options.maxLength, x.seconds.map { tokenBudget(seconds: $0) } ?? options.maxLength) }
            out += try model.whisper.decode(memory: memory, options: options, fallback: fallback, maxLengths: caps)
                .map { ($0.result.tokens, $0.attempts) }
            start += group.count
        }
        return out
    }
}

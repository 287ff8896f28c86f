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
    public init(audioStates: Tensor?, videoFeatures: Tensor? = nil, targets: [Int]) {
        self.audioStates = audioStates
        self.videoFeatures = videoFeatures
        self.targets = targets
    }
}

/// Omni-AVSR training and inference on precomputed frozen-encoder outputs.
///
/// Each step draws one batch per task the data supports (ASR always; VSR and AVSR when every
/// example has video), a compression rate per modality uniformly from the trained rates
/// (Matryoshka training), and minimises the paper's `(1.0·L_ASR + 1.5·L_VSR + 1.0·L_AVSR)/3` with
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
        guard !examples.isEmpty else { throw WhisperDecodeError("no training utterances") }
        guard o.epochs >= 1, o.batchSize >= 1, o.learningRate > 0 else {
            throw WhisperDecodeError("epochs, batch size and learning rate must be positive")
        }
        let hasVideo = model.video != nil && examples.allSatisfy { $0.videoFeatures != nil }
        let hasAudio = examples.allSatisfy { $0.audioStates != nil }
        let tasks = AVSRTask.allCases.filter {
            let use = OmniAVSR.uses($0)
            return (!use.audio || hasAudio) && (!use.video || hasVideo)
        }
        guard !tasks.isEmpty else { throw WhisperDecodeError("the examples have neither audio states nor video features for every utterance") }
        let params = model.trainableParameters()
        let opt = AdamW(learningRate: o.learningRate, weightDecay: 0.01)
        let stepsPerEpoch = (examples.count + o.batchSize - 1) / o.batchSize
        let total = stepsPerEpoch * o.epochs
        let schedule = LRSchedule.cosine(warmup: Int(Double(total) * o.warmupFraction), total: total)
        var rng = SplitMix64(seed: o.seed)
        var losses: [Float] = []
        let started = Date()
        log("training \(params.reduce(0) { $0 + $1.1.count }) parameters on \(examples.count) utterances, tasks \(tasks.map(\.rawValue)), \(total) steps")
        for epoch in 0..<o.epochs {
            // One shuffled order per task, so each task sees every utterance once per epoch.
            let orders: [[Int]] = tasks.map { _ in Array(0..<examples.count).shuffledSeeded(&rng) }
            for s in 0..<stepsPerEpoch {
                let step = epoch * stepsPerEpoch + s
                opt.learningRate = schedule.learningRate(at: step, base: o.learningRate)
                var taskLosses: [AVSRTask: Tensor] = [:]
                for (t, task) in tasks.enumerated() {
                    let batch = orders[t][(s * o.batchSize)..<min((s + 1) * o.batchSize, examples.count)].map { examples[$0] }
                    let use = OmniAVSR.uses(task)
                    let audioRate = model.audio.sampleRate(using: &rng)
                    let videoRate = model.video?.sampleRate(using: &rng) ?? 1
                    let audio = use.audio ? try stack(batch.map { $0.audioStates! }) : nil
                    let video = use.video ? try stack(batch.map { $0.videoFeatures! }) : nil
                    let (memory, mask) = try model.memory(task: task, audioStates: audio?.0, audioLengths: audio?.1, audioRate: audioRate,
                                                          videoFeatures: video?.0, videoLengths: video?.1, videoRate: videoRate)
                    let sequences = batch.map { prompt + $0.targets + [endOfText] }
                    taskLosses[task] = try model.loss(task: task, memory: memory, mask: mask, sequences: sequences, promptLength: prompt.count)
                }
                let loss = OmniAVSR.combinedLoss(taskLosses)
                loss.backward()
                opt.step(params)
                opt.zeroGrad(params)
                losses.append(loss.item)
                if (step + 1) % 10 == 0 || step + 1 == total {
                    let elapsed = Date().timeIntervalSince(started), perStep = elapsed / Double(step + 1)
                    let recent = losses.suffix(10)
                    log(String(format: "  epoch %d step %d/%d  loss %.4f  %.2f s/step  ETA %.0f s", epoch + 1, step + 1, total,
                               recent.reduce(0, +) / Float(recent.count), perStep, perStep * Double(total - step - 1)))
                }
            }
        }
        return losses
    }

    /// Greedy (or beam) transcripts of `examples` for `task` at the given rates, `batch` at a time.
    public static func transcribe(model: OmniAVSR, examples: [AVSRExample], task: AVSRTask, audioRate: Int, videoRate: Int,
                                  options: WhisperDecodingOptions, batch: Int = 8) throws -> [[Int]] {
        model.setTask(task)
        let use = OmniAVSR.uses(task)
        var out: [[Int]] = []
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
            out += try model.whisper.decode(memory: memory, options: options).map(\.tokens)
            start += group.count
        }
        return out
    }
}

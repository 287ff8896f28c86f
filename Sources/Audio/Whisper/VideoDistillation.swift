import Core
import Foundation

/// Cross-modal pre-training of Omni-AVSR's video branch: every rate's projector learns to
/// produce, from the mouth features alone, the frozen Whisper encoder's states of the **clean**
/// audio at the same time (mean-squared error, padding left out).
///
/// Why: the Whisper decoder already reads encoder states; a video token that looks like the audio
/// state of its 40 ms is readable by it before any LoRA step, and the mapping is local in time,
/// so it carries over to sentences never seen in training — which a decoder that must learn
/// viseme-to-word reading from 120 prompts does not (the README's VSR ≈ 1.0 WER). It stands in
/// for what the paper's visual encoder brings: AV-HuBERT was pre-trained to predict targets
/// derived from the audio (clusters of audio features) from the lips, on 1,759 h of talking faces.
///
/// Alignment: frames are 25 fps and encoder states 50 Hz, so video window i of rate r (frames
/// [ri, r(i+1))) covers states [2ri, 2r(i+1)); its target is their mean (the last window of an
/// utterance: the states it covers, cut at the encoder's length). The target is the whole
/// video token the decoder reads, modality embedding and time position included.
public enum VideoDistillation {
    /// Settings of the pre-training stage (recorded with the adapter's training options).
    public struct Options: Codable, Sendable, Equatable {
        public var epochs = 20
        public var batchSize = 8
        public var learningRate = 1e-3
        public var seed: UInt64 = 42
        public init() {}
    }

    /// `[⌈T/r⌉, d]`: the mean of `states` `[S, d]` over each video window of `rate` frames of an
    /// utterance with `frames` video frames (2 states per frame).
    public static func targets(states: Tensor, frames: Int, rate: Int) -> Tensor {
        precondition(states.rank == 2 && frames >= 1 && rate >= 1, "VideoDistillation.targets: states must be [S, d], frames and rate ≥ 1")
        let s = states.shape[0], d = states.shape[1], count = MatryoshkaBranch.pooledLength(frames, rate: rate)
        var out = [Float](repeating: 0, count: count * d)
        for i in 0..<count {
            let lo = min(s - 1, 2 * rate * i), hi = max(lo + 1, min(s, 2 * rate * (i + 1), 2 * frames))
            let w = 1 / Float(hi - lo)
            for p in lo..<hi {
                for c in 0..<d { out[i * d + c] += w * states.storage[p * d + c] }
            }
        }
        return Tensor(out, shape: [count, d])
    }

    /// Mean over channels of the variance of the rate-1 targets of `examples`: the error of a
    /// constant prediction, the scale against which the distillation loss reads.
    public static func targetVariance(_ examples: [AVSRExample]) -> Double {
        var sum: [Double] = [], squares: [Double] = [], n = 0.0
        for x in examples {
            guard let s = x.audioStates, let v = x.videoFeatures else { continue }
            let y = targets(states: s, frames: v.shape[0], rate: 1), d = y.shape[1]
            if sum.isEmpty { sum = [Double](repeating: 0, count: d); squares = sum }
            for r in 0..<y.shape[0] {
                for c in 0..<d {
                    let value = Double(y.storage[r * d + c])
                    sum[c] += value; squares[c] += value * value
                }
            }
            n += Double(y.shape[0])
        }
        guard n > 1 else { return .nan }
        return zip(sum, squares).map { $1 / n - ($0 / n) * ($0 / n) }.reduce(0, +) / Double(sum.count)
    }

    /// Mean squared error per valid token and channel between the video tokens of `batch` at
    /// `rate` and their clean-audio targets.
    public static func loss(model: OmniAVSR, batch: [AVSRExample], rate: Int) throws -> Tensor {
        guard model.video != nil else { throw WhisperDecodeError("video distillation needs a model with a video branch") }
        let features = try batch.map { x -> Tensor in
            guard let v = x.videoFeatures, x.audioStates != nil else {
                throw WhisperDecodeError("video distillation needs clean audio states and video features for every utterance")
            }
            return v
        }
        let (video, lengths) = try AVSRTrainer.stack(features)
        let (tokens, mask) = try model.memory(task: .vsr, audioStates: nil, audioRate: 1, videoFeatures: video, videoLengths: lengths, videoRate: rate)
        let b = tokens.shape[0], t = tokens.shape[1], d = tokens.shape[2]
        var target = [Float](repeating: 0, count: b * t * d)
        for (i, x) in batch.enumerated() {
            let y = targets(states: x.audioStates!, frames: lengths[i], rate: rate)
            target.replaceSubrange((i * t * d)..<(i * t * d + y.count), with: y.storage)
        }
        let valid = mask.storage.reduce(0, +)
        let diff = (tokens - Tensor(target, shape: [b, t, d])) * mask.reshaped([b, t, 1])
        return diff.square().sum() * (1 / (valid * Float(d)))
    }

    /// Trains the video branch (projectors, modality embedding and learned time rows, if any;
    /// nothing else moves) on
    /// `examples` (clean audio states + video features), drawing one rate per step from the
    /// branch's rates; AdamW, cosine schedule with 10 % warm-up. Returns every step's loss.
    @discardableResult
    public static func train(model: OmniAVSR, examples: [AVSRExample], options o: Options, log: (String) -> Void) throws -> [Float] {
        guard let branch = model.video else { throw WhisperDecodeError("video distillation needs a model with a video branch") }
        guard !examples.isEmpty, o.epochs >= 1, o.batchSize >= 1, o.learningRate > 0 else {
            throw WhisperDecodeError("video distillation needs examples and positive epochs, batch size and learning rate")
        }
        let params = branch.trainableParameters() + (model.videoPositionTable.map { [("video_positions", $0)] } ?? [])
        let opt = AdamW(learningRate: o.learningRate, weightDecay: 0)
        let perEpoch = (examples.count + o.batchSize - 1) / o.batchSize, total = perEpoch * o.epochs
        let schedule = LRSchedule.cosine(warmup: max(1, total / 10), total: total)
        var rng = SplitMix64(seed: o.seed ^ 0xD157_111E)
        var losses: [Float] = []
        let started = Date()
        log(String(format: "video distillation: %d parameters, %d utterances, %d steps; target variance %.4f (the error of predicting the mean token)",
                   params.reduce(0) { $0 + $1.1.count }, examples.count, total, targetVariance(examples)))
        for epoch in 1...o.epochs {
            let order = Array(0..<examples.count).shuffledSeeded(&rng)
            for s in 0..<perEpoch {
                let step = losses.count
                opt.learningRate = schedule.learningRate(at: step, base: o.learningRate)
                let rate = branch.sampleRate(using: &rng)
                let batch = order[(s * o.batchSize)..<min((s + 1) * o.batchSize, examples.count)].map { examples[$0] }
                let loss = try Self.loss(model: model, batch: batch, rate: rate)
                loss.backward()
                opt.step(params)
                opt.zeroGrad(params)
                losses.append(loss.item)
                if (step + 1) % 50 == 0 || step + 1 == total {
                    let elapsed = Date().timeIntervalSince(started)
                    let recent = losses.suffix(50)
                    log(String(format: "  distill epoch %d step %d/%d  mse %.4f  %.1f steps/s  ETA %.0f s", epoch, step + 1, total,
                               recent.reduce(0, +) / Float(recent.count), Double(step + 1) / max(elapsed, 1e-9),
                               elapsed / Double(step + 1) * Double(total - step - 1)))
                }
            }
        }
        return losses
    }
}

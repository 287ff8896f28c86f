import Core
import Foundation

/// PeftCD's training settings, scaled to CPU runs (the paper: 15 000 steps, batch 32).
public struct ChangeTrainOptions: Codable, Sendable, Equatable {
    public var steps = 300
    public var batchSize = 4
    public var learningRate = 3e-4
    public var weightDecay = 1e-4
    /// Linear warmup steps (PeftCD: 3 000 of 15 000, i.e. a fifth).
    public var warmupSteps: Int?
    public var minLearningRate = 3e-5
    public var gradientClip: Float = 1
    /// Learning rate of the decoder when it should differ from the encoder adapters' (nil: the
    /// same). The decoder starts from random weights while the adapters start at (or near) the
    /// identity, so short runs want it higher; the schedule scales both alike.
    public var decoderLearningRate: Double?
    /// PeftCD's cross-entropy, or cross-entropy + soft Dice for short schedules (see `ChangeLoss`).
    public var loss = ChangeLoss.crossEntropy
    /// Square model input (a multiple of the patch size); larger tiles are randomly cropped.
    public var size = 224
    /// Validation every this many steps (0: only at the end); the best validation IoU is kept.
    public var evalEvery = 100
    /// Sliding-window stride for validation (default: half the window).
    public var stride: Int?
    public var augmentation = ChangeAugmentation()
    public var seed: UInt64 = 1

    public init() {}

    public var warmup: Int { warmupSteps ?? steps / 5 }
    public var windowStride: Int { stride ?? max(1, size / 2) }

    /// PeftCD's schedule: linear warmup, then `(1 − progress)³`, never below `minLearningRate`.
    public func learningRate(at step: Int) -> Double {
        if step < warmup { return learningRate * Double(step + 1) / Double(warmup) }
        let progress = Double(step - warmup) / Double(max(1, steps - warmup))
        let floor = minLearningRate / learningRate
        return learningRate * max(pow(max(0, 1 - progress), 3), floor)
    }
}

/// One validation point of a training run.
public struct ChangeValidation: Codable, Sendable {
    public var step: Int
    public var loss: Double
    public var matrix: BinaryConfusionMatrix
    public var iou: Double { matrix.iou }
}

/// What a run did.
public struct ChangeTrainReport: Codable, Sendable {
    public var steps: Int
    public var finalLoss: Double
    public var validations: [ChangeValidation]
    public var bestStep: Int?
    public var trainablePercent: Double
    public var trainable: Int
    public var seconds: Double
    public var pairsPerSecond: Double
}

/// Trains a `ChangeDetectionNetwork` on in-memory pairs: random crops, joint augmentation,
/// PeftCD's loss, AdamW with warmup + cubic decay and gradient clipping, validation by sliding
/// window, and the parameters of the best validation IoU restored at the end.
public enum ChangeTrainer {
    public static func train(network: ChangeDetectionNetwork, train pairs: ChangePairSource, validation: ChangePairSource,
                             options o: ChangeTrainOptions, normalization: Normalization, run: ChangeTrainingRun = ChangeTrainingRun(),
                             log: (String) -> Void = { _ in }) throws -> ChangeTrainReport {
        guard !pairs.isEmpty else { throw DatasetError("no training pairs") }
        guard o.size % network.encoder.patchSize == 0 else {
            throw DatasetError("--size \(o.size) must be a multiple of the model's patch size \(network.encoder.patchSize) (e.g. \(o.size / network.encoder.patchSize * network.encoder.patchSize))")
        }
        let params = network.trainableParameters()
        // Two parameter groups: the decoder (random init) and the encoder adapters.
        let isDecoder = { (name: String) in name.hasPrefix("decoder.") || name.contains(".decoder.") }
        // One optimizer for the session (so both groups' AdamW state is checkpointed and resumed).
        let decoderScale = (o.decoderLearningRate ?? o.learningRate) / o.learningRate
        let opt = OptimizerGroups([
            .init(AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay), scale: 1) { !isDecoder($0) },
            .init(AdamW(learningRate: o.learningRate * decoderScale, weightDecay: o.weightDecay), scale: decoderScale) { isDecoder($0) },
        ])
        var rng = SplitMix64(seed: o.seed)
        var validations: [ChangeValidation] = []
        var best: (iou: Double, step: Int, values: [[Float]])?
        let savedNamed = network.namedParameters().filter { k, t in t.requiresGrad || k.contains("running_") }
        let saved = savedNamed.map(\.1)
        let buffers = savedNamed.filter { !$0.1.requiresGrad }
        var lastLoss = 0.0, recent: [Double] = []
        let session = try TrainingSession(command: "change-detect train", model: network, parameters: params, optimizer: opt,
                                          config: try ChangeTrainingRun.config(options: o, train: pairs.count, validation: validation.count),
                                          folder: run.checkpointFolder, every: run.checkpointEvery)
        var firstStep = 0
        if let dir = run.resumeFrom {
            // The crops and augmentations come from one generator, saved in the progress record;
            // weights, AdamW and dropout generators come back through the session.
            let file = TrainingCheckpoint.file(in: dir).path
            let checkpoint = try session.resume(from: dir, within: TrainingExtent(steps: o.steps))
            let p = try ChangeTrainingProgress.decode(checkpoint.progress, file: file)
            func tensor(_ key: String, like t: Tensor) throws -> [Float] {
                guard let v = checkpoint.extraTensors[key], v.count == t.count else {
                    throw DatasetError("\(file): the checkpoint lacks '\(key)'; train into a new --out folder")
                }
                return v.storage
            }
            for (name, t) in buffers { t.storage = try tensor("buffer/" + name, like: t) }
            if let iou = p.bestIoU, let step = p.bestStep {
                best = (Double(bitPattern: iou), step, try savedNamed.map { try tensor("best/" + $0.0, like: $0.1) })
            }
            rng.state = UInt64(p.rng, radix: 16) ?? 0
            lastLoss = Double(bitPattern: p.lastLoss)
            recent = p.recent.map(Double.init(bitPattern:))
            validations = p.validations
            firstStep = min(checkpoint.position.step, o.steps)
            log("resumed from \(file) at step \(firstStep)/\(o.steps)")
        }
        func progress() throws -> String {
            try ChangeTrainingProgress(rng: rng.state, lastLoss: lastLoss, recent: recent, validations: validations,
                                       best: best.map { ($0.iou, $0.step) }).json()
        }
        func tensors() -> [String: Tensor] {
            var out: [String: Tensor] = [:]
            for (name, t) in buffers { out["buffer/" + name] = Tensor(t.storage, shape: t.shape) }
            if let best { for ((name, t), v) in zip(savedNamed, best.values) { out["best/" + name] = Tensor(v, shape: t.shape) } }
            return out
        }
        let start = Date()
        for step in firstStep..<o.steps {
            opt.learningRate = o.learningRate(at: step)
            var items: [PairPlanes] = []
            for _ in 0..<o.batchSize {
                let p = try pairs.planes(Int(rng.next() % UInt64(pairs.count)))
                let left = p.width > o.size ? Int(rng.next() % UInt64(p.width - o.size + 1)) : 0
                let top = p.height > o.size ? Int(rng.next() % UInt64(p.height - o.size + 1)) : 0
                items.append(o.augmentation.apply(p.cropped(left: left, top: top, size: o.size), using: &rng))
            }
            let (a, b, labels) = PairPlanes.batch(items, normalization: normalization)
            network.train()
            let (la, lb) = try network.streams(before: a, after: b)
            let loss = ChangeDetectionNetwork.loss(la, lb, labels: labels, kind: o.loss)
            opt.zeroGrad(params)
            loss.backward()
            _ = clipGradNorm(params, maxNorm: o.gradientClip)
            opt.step(params)
            lastLoss = Double(loss.storage[0])
            recent.append(lastLoss)
            if recent.count > 10 { recent.removeFirst() }
            if (step + 1) % 10 == 0 || step == 0 {
                log(String(format: "step %d/%d  loss %.4f  (mean of last %d: %.4f)  lr %.2e", step + 1, o.steps, lastLoss, recent.count,
                           recent.reduce(0, +) / Double(recent.count), opt.learningRate))
            }
            let due = o.evalEvery > 0 ? (step + 1) % o.evalEvery == 0 : false
            if !validation.isEmpty && (due || step + 1 == o.steps) {
                let cm = try ChangeInference.evaluate(network: network, pairs: validation, window: o.size, stride: o.windowStride, normalization: normalization)
                validations.append(ChangeValidation(step: step + 1, loss: lastLoss, matrix: cm))
                log(String(format: "  validation at step %d: IoU %.4f  F1 %.4f  (%d pairs)", step + 1, cm.iou, cm.f1, validation.count))
                if best == nil || cm.iou > best!.iou { best = (cm.iou, step + 1, saved.map(\.storage)) }
            }
            if step + 1 < o.steps { try session.checkpointIfDue(TrainingPosition(step: step + 1), progress: try progress(), extraTensors: tensors()) }
        }
        try session.checkpoint(TrainingPosition(step: o.steps, finished: true), progress: try progress(), extraTensors: tensors())
        let seconds = Date().timeIntervalSince(start)
        if let best {
            for (t, v) in zip(saved, best.values) { t.storage = v }
            log("kept the parameters of step \(best.step) (best validation IoU \(String(format: "%.4f", best.iou)))")
        }
        let counts = network.parameterCounts()
        return ChangeTrainReport(steps: o.steps, finalLoss: lastLoss, validations: validations, bestStep: best?.step,
                                 trainablePercent: counts.total == 0 ? 0 : 100 * Double(counts.trainable) / Double(counts.total),
                                 trainable: counts.trainable, seconds: seconds,
                                 pairsPerSecond: Double(o.steps * o.batchSize) / max(seconds, 1e-9))
    }
}

import Core
import Foundation

/// Training settings. Defaults are PETL-AST's (methods.md §5): AdamW betas (0.9, 0.98), eps 1e-6,
/// weight decay 0.1, cosine annealing over all steps without warmup, batch 32, the method's
/// learning rate, seed 10.
public struct AudioTrainOptions: Codable, Sendable, Equatable {
    public var epochs = 10
    public var batchSize = 32
    /// nil: the method's default learning rate.
    public var learningRate: Double?
    public var weightDecay = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.98
    public var eps = 1e-6
    public var seed: UInt64 = 10
    /// SpecAugment on training inputs each epoch (AST's ESC-50/US8K setting: F 24, T 80).
    public var specAugment = false
    public var frequencyMask = 24
    public var timeMask = 80
    public init() {}
}

/// Accuracy, per-class accuracy and the confusion matrix of one evaluation.
public struct AudioEvaluation: Codable, Sendable, Equatable {
    public var accuracy: Double
    /// Per class (nil when the class has no clip in the set).
    public var perClassAccuracy: [Double?]
    /// `confusion[true][predicted]` counts.
    public var confusion: [[Int]]
    public var count: Int
    public var loss: Double

    /// Builds the summary from predictions.
    public init(predictions: [Int], labels: [Int], classes: Int, loss: Double) {
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (p, y) in zip(predictions, labels) { confusion[y][p] += 1 }
        let correct = zip(predictions, labels).filter { $0 == $1 }.count
        self.confusion = confusion
        count = labels.count
        accuracy = labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
        perClassAccuracy = confusion.enumerated().map { i, row in
            let n = row.reduce(0, +)
            return n == 0 ? nil : Double(row[i]) / Double(n)
        }
        self.loss = loss
    }
}

/// One epoch's numbers.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var validationAccuracy: Double
    public var validationLoss: Double
    public var seconds: Double
}

/// The outcome of `AudioClassificationTask.train`.
public struct AudioTrainReport: Codable, Sendable {
    public var history: [EpochRecord]
    /// 1-based epoch whose weights were kept (best validation accuracy, then lowest loss).
    public var bestEpoch: Int
    public var trainSeconds: Double
    public var trainExamples: Int
}

/// The training loop, evaluation and prediction for a `PETLClassifier` on loaded clips.
public enum AudioClassificationTask {
    /// Trains `model` on `train`, selecting the epoch with the best `validation` accuracy; the
    /// model ends holding a copy of that epoch's weights (copied values, not references, so the
    /// kept epoch really is the best one — PETL-AST's code keeps the last). `progress` receives one
    /// line per epoch (for stderr; rank 0 only).
    ///
    /// `run` adds checkpoints (every N steps and at the end), resume, and data parallelism: every
    /// rank builds the same shuffled global batch (and SpecAugments all of it, so the generator
    /// stays in step), takes its `DataShard` slice, and the gradients of the mean loss over the
    /// slices are averaged weighted by slice size, so N ranks take the single-process steps.
    /// Conformer adapters' BatchNorms use each rank's own batch statistics (as PyTorch DDP without
    /// SyncBatchNorm); their running statistics are averaged over the ranks in the same
    /// all-reduce, weighted like the gradients, so every rank holds the same model.
    public static func train(_ model: PETLClassifier, train: LoadedClips, validation: LoadedClips, options o: AudioTrainOptions,
                             run: AudioTrainingRun = AudioTrainingRun(), progress: (String) -> Void = { _ in }) throws -> AudioTrainReport {
        guard !train.features.isEmpty else { throw AudioDatasetError("no training clips could be loaded") }
        guard o.epochs >= 1, o.batchSize >= 1 else { throw AudioDatasetError("--epochs and --batch must be at least 1") }
        let trainable = model.trainable
        let lr = o.learningRate ?? model.config.method.defaultLearningRate
        let optimizer = AdamW(learningRate: lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay)
        let n = train.features.count
        let stepsPerEpoch = (n + o.batchSize - 1) / o.batchSize
        let total = stepsPerEpoch * o.epochs
        let schedule = LRSchedule.cosine(warmup: 0, total: total)
        let world = run.world
        func say(_ line: String) { if world.isLeader { progress(line) } }
        let session = try TrainingSession(command: "audio-adapt train", model: model, parameters: trainable, optimizer: optimizer,
                                          config: try AudioTrainingRun.config(options: o, petl: model.config, labels: model.labels,
                                                                              train: train, validation: validation),
                                          folder: run.checkpointFolder, every: run.checkpointEvery, world: world)
        let saved = model.stateToSave()
        // Buffers training changes (BatchNorm running statistics): checkpointed, and averaged over ranks.
        let buffers = saved.filter { !$0.1.requiresGrad }
        let cacheEncodings = model.encoderIsFrozen && !o.specAugment
        let start = Date()  // training time includes computing the cached encoder outputs
        let trainInputs = cacheEncodings ? try encodeAll(model, train.features, batchSize: o.batchSize, world: world) : train.features
        let validationInputs = cacheEncodings && !validation.features.isEmpty
            ? try encodeAll(model, validation.features, batchSize: o.batchSize, world: world) : validation.features
        let augment = SpecAugment(frequencyMaskParameter: o.frequencyMask, timeMaskParameter: o.timeMask,
                                  fillValue: model.backbone.frontEnd.maskFill)
        var rng = SplitMix64(seed: o.seed ^ 0x7EA1_5EED)
        var step = 0
        var history: [EpochRecord] = []
        var best: (accuracy: Double, loss: Double, epoch: Int, state: [[Float]])?
        var resumed: (position: TrainingPosition, record: AudioTrainingProgress)?
        if let dir = run.resumeFrom {
            let checkpoint = try session.resume(from: dir, within: TrainingExtent(epochs: o.epochs, batchesPerEpoch: stepsPerEpoch, steps: total))
            let file = TrainingCheckpoint.file(in: dir).path
            let record = try AudioTrainingProgress.decode(checkpoint.progress, file: file)
            for (name, t) in buffers {
                guard let v = checkpoint.extraTensors["buffer/" + name], v.count == t.count else {
                    throw AudioDatasetError("\(file): the checkpoint lacks the buffer '\(name)'; train into a new --out folder")
                }
                t.storage = v.storage
            }
            if let b = record.best {
                let state = try saved.map { name, t -> [Float] in
                    guard let v = checkpoint.extraTensors["best/" + name], v.count == t.count else {
                        throw AudioDatasetError("\(file): the checkpoint lacks the best-epoch tensor '\(name)'; train into a new --out folder")
                    }
                    return v.storage
                }
                best = (b.accuracy, b.loss, b.epoch, state)
            }
            history = record.history
            step = checkpoint.position.step
            resumed = (checkpoint.position, record)
            say("resumed from \(file) at step \(step)/\(total) (epoch \(min(checkpoint.position.epoch, o.epochs)))")
        }
        if world.size > 1 {
            say("data parallel, \(world.size) ranks: each takes its slice of the \(o.batchSize)-clip batch; \(session.reducer.bytesPerStep(extras: 1 + buffers.reduce(0) { $0 + $1.1.count })) bytes all-reduced per step")
        }
        func progressRecord(epochRNG: UInt64, lossSum: Double) throws -> String {
            try AudioTrainingProgress(epochRNG: epochRNG, rng: rng.state, lossSum: lossSum, history: history,
                                      best: best.map { ($0.accuracy, $0.loss, $0.epoch) }).json()
        }
        func tensors() -> [String: Tensor] {
            var out: [String: Tensor] = [:]
            for (name, t) in buffers { out["buffer/" + name] = Tensor(t.storage, shape: t.shape) }
            if let b = best { for ((name, t), values) in zip(saved, b.state) { out["best/" + name] = Tensor(values, shape: t.shape) } }
            return out
        }
        let firstEpoch = resumed?.position.epoch ?? 1
        for epoch in firstEpoch..<(o.epochs + 1) {
            let epochStart = Date()
            let resumingHere = epoch == firstEpoch ? resumed : nil
            if let r = resumingHere { rng.state = r.record.epochRNGState }
            let epochRNG = rng.state
            var order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var lossSum = 0.0
            if let r = resumingHere, r.position.batchInEpoch > 0 {   // mid-epoch: after the shuffle and the batches' SpecAugment draws
                rng.state = r.record.rngState
                lossSum = Double(bitPattern: r.record.lossSum)
            }
            for s in (resumingHere?.position.batchInEpoch ?? 0)..<stepsPerEpoch {
                let idx = Array(order[(s * o.batchSize)..<min(n, (s + 1) * o.batchSize)])
                var items = idx.map { trainInputs[$0] }
                if o.specAugment && model.backbone.frontEnd.isTimeMajor && !cacheEncodings {
                    items = items.map { augment($0, using: &rng) }
                }
                let mine = DataShard.range(count: idx.count, rank: world.rank, size: world.size)
                optimizer.learningRate = schedule.learningRate(at: step, base: lr)
                model.setTraining(true)
                for (_, p) in trainable { p.zeroGrad() }
                var localLoss: Float = 0
                if !mine.isEmpty {
                    let batch = stackBatch(Array(items[mine]))
                    let logits = cacheEncodings ? model.head(model.pool(encoded: batch)) : try model(batch)
                    let loss = logits.crossEntropy(targets: mine.map { train.labels[idx[$0]] })
                    loss.backward()
                    localLoss = loss.item
                }
                var stepLoss = localLoss
                if world.size > 1 {
                    let w = Float(mine.count)
                    var extras = [localLoss * w]
                    for (_, t) in buffers { extras += t.storage.map { $0 * w } }
                    let reduced = try session.averageGradients(localWeight: Double(mine.count), extras: extras)
                    let totalWeight = Float(reduced.total)
                    stepLoss = reduced.sums[0] / totalWeight
                    var offset = 1
                    for (_, t) in buffers {
                        t.storage = reduced.sums[offset..<(offset + t.count)].map { $0 / totalWeight }
                        offset += t.count
                    }
                }
                optimizer.step(trainable)
                lossSum += Double(stepLoss) * Double(idx.count)
                step += 1
                if s + 1 < stepsPerEpoch {
                    try session.checkpointIfDue(TrainingPosition(step: step, epoch: epoch, batchInEpoch: s + 1),
                                                progress: try progressRecord(epochRNG: epochRNG, lossSum: lossSum), extraTensors: tensors())
                }
            }
            let v = validation.features.isEmpty
                ? nil : try evaluate(model, inputs: validationInputs, labels: validation.labels, encoded: cacheEncodings, batchSize: o.batchSize)
            let record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(n), validationAccuracy: v?.accuracy ?? 0,
                                     validationLoss: v?.loss ?? 0, seconds: Date().timeIntervalSince(epochStart))
            history.append(record)
            say(String(format: "epoch %d/%d  train loss %.4f  val acc %.4f  val loss %.4f  lr %.2e  %.1fs",
                       epoch, o.epochs, record.trainLoss, record.validationAccuracy, record.validationLoss,
                       optimizer.learningRate, record.seconds))
            let isBetter = best.map { record.validationAccuracy > $0.accuracy || (record.validationAccuracy == $0.accuracy && record.validationLoss < $0.loss) } ?? true
            if isBetter { best = (record.validationAccuracy, record.validationLoss, epoch, saved.map { $0.1.storage }) }
            if epoch < o.epochs {
                try session.checkpointIfDue(TrainingPosition(step: step, epoch: epoch + 1),
                                            progress: try progressRecord(epochRNG: rng.state, lossSum: 0), extraTensors: tensors())
            }
        }
        try session.checkpoint(TrainingPosition(step: step, epoch: o.epochs + 1, finished: true),
                               progress: try progressRecord(epochRNG: rng.state, lossSum: 0), extraTensors: tensors())
        if let b = best { for ((_, t), values) in zip(saved, b.state) { t.storage = values } }
        model.setTraining(false)
        return AudioTrainReport(history: history, bestEpoch: best?.epoch ?? o.epochs,
                                trainSeconds: Date().timeIntervalSince(start), trainExamples: n)
    }

    /// Accuracy, per-class accuracy and confusion of `model` on `clips` (evaluation mode).
    public static func evaluate(_ model: PETLClassifier, clips: LoadedClips, batchSize: Int = 32) throws -> AudioEvaluation {
        try evaluate(model, inputs: clips.features, labels: clips.labels, encoded: false, batchSize: batchSize)
    }

    static func evaluate(_ model: PETLClassifier, inputs: [Tensor], labels: [Int], encoded: Bool, batchSize: Int) throws -> AudioEvaluation {
        model.setTraining(false)
        var predictions: [Int] = [], lossSum = 0.0
        try withoutGrad {
            for start in stride(from: 0, to: inputs.count, by: batchSize) {
                let range = start..<min(inputs.count, start + batchSize)
                let batch = stackBatch(Array(inputs[range]))
                let logits = encoded ? model.head(model.pool(encoded: batch)) : try model(batch)
                lossSum += Double(logits.crossEntropy(targets: Array(labels[range])).item) * Double(range.count)
                predictions += logits.argmaxLastAxis()
            }
        }
        return AudioEvaluation(predictions: predictions, labels: labels, classes: model.labels.count,
                               loss: inputs.isEmpty ? 0 : lossSum / Double(inputs.count))
    }

    /// Class probabilities for each input, sorted best first, at most `top` per input.
    public static func predict(_ model: PETLClassifier, inputs: [Tensor], top: Int = 5) throws -> [[(label: String, probability: Double)]] {
        model.setTraining(false)
        return try withoutGrad {
            try inputs.map { x in
                let probs = try model(stackBatch([x])).softmax().storage
                return probs.enumerated().sorted { $0.element > $1.element }.prefix(max(1, top)).map { (model.labels[$0.offset], Double($0.element)) }
            }
        }
    }

    /// Encoder outputs (before the final LN) of every input, computed once without gradients.
    static func encodeAll(_ model: PETLClassifier, _ inputs: [Tensor], batchSize: Int) throws -> [Tensor] {
        model.setTraining(false)
        var out: [Tensor] = []
        try withoutGrad {
            for start in stride(from: 0, to: inputs.count, by: batchSize) {
                let encoded = try model.encode(stackBatch(Array(inputs[start..<min(inputs.count, start + batchSize)])))
                let per = encoded.count / encoded.shape[0]
                let shape = Array(encoded.shape.dropFirst())
                for b in 0..<encoded.shape[0] { out.append(Tensor(Array(encoded.storage[(b * per)..<((b + 1) * per)]), shape: shape)) }
            }
        }
        return out
    }

    /// Same-shape tensors stacked on a new leading axis (data only, no autograd).
    static func stackBatch(_ items: [Tensor]) -> Tensor {
        precondition(!items.isEmpty, "stackBatch: empty batch")
        let shape = items[0].shape
        var values: [Float] = []
        values.reserveCapacity(items.count * items[0].count)
        for t in items {
            precondition(t.shape == shape, "stackBatch: shapes differ (\(t.shape) vs \(shape))")
            values += t.storage
        }
        return Tensor(values, shape: [items.count] + shape)
    }
}

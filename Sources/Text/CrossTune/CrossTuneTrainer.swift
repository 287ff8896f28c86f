import Core
import Foundation

/// Settings of CrossTune training on cached features.
public struct CrossTuneOptions: Sendable, Equatable {
    public var epochs = 60
    public var learningRate = 1e-3
    public var weightDecay = 0.01
    public var batchSize = 16
    public var hiddenDim = 128
    public var heads = 4
    /// Dropout on the input token features while training.
    public var dropout: Float = 0.1
    /// Label queries from the descriptions (false: learned label vectors, the ablation).
    public var useDescriptions = true
    public var seed: UInt64 = 42
    public init() {}
}

/// Accuracy and macro-averaged F1 of predicted class indices.
public struct ClassificationScores: Sendable, Equatable {
    public var accuracy: Double
    public var macroF1: Double

    /// Scores `predictions` against `targets` over `classes` classes. A class that is never
    /// predicted nor present contributes F1 0 only if present (absent classes are skipped).
    public init(predictions: [Int], targets: [Int], classes: Int) {
        precondition(predictions.count == targets.count, "ClassificationScores: \(predictions.count) predictions for \(targets.count) targets")
        var tp = [Int](repeating: 0, count: classes), fp = tp, fn = tp
        var correct = 0
        for (p, t) in zip(predictions, targets) {
            if p == t { correct += 1; tp[t] += 1 } else { fp[p] += 1; fn[t] += 1 }
        }
        accuracy = targets.isEmpty ? 0 : Double(correct) / Double(targets.count)
        var f1s: [Double] = []
        for c in 0..<classes where tp[c] + fn[c] > 0 {
            let denom = Double(2 * tp[c] + fp[c] + fn[c])
            f1s.append(denom == 0 ? 0 : Double(2 * tp[c]) / denom)
        }
        macroF1 = f1s.isEmpty ? 0 : f1s.reduce(0, +) / Double(f1s.count)
    }
}

/// Trains a `CrossTuneNetwork` with AdamW and cross-entropy on the K-shot set, scoring the dev
/// set after every epoch and keeping the weights of the best dev accuracy (ties: the lower dev
/// loss). Everything is seeded: the initialisation and the batch order.
public final class CrossTuneTrainer {
    public let options: CrossTuneOptions
    public let network: CrossTuneNetwork
    public private(set) var bestEpoch = 0
    public private(set) var bestDevAccuracy = 0.0

    /// `labelFeatures` `[C, d]` (pooled descriptions) is used when `options.useDescriptions`.
    public init(options: CrossTuneOptions, featureDim: Int, numClasses: Int, labelFeatures: Tensor?) throws {
        self.options = options
        network = try CrossTuneNetwork(featureDim: featureDim, hiddenDim: options.hiddenDim, heads: options.heads,
                                       numClasses: numClasses, labelFeatures: options.useDescriptions ? labelFeatures : nil, dropout: options.dropout,
                                       seed: options.seed)
    }

    /// Trains on `(train, trainLabels)` and selects on `(dev, devLabels)`.
    ///
    /// `run` adds checkpoints (every N steps and at the end), resume and data parallelism:
    /// every rank shuffles the same way, takes its `DataShard` slice of each batch, and the
    /// gradients of the mean loss over the slices are averaged weighted by slice size, so N
    /// ranks take the single-process AdamW steps (dropout masks differ per rank, as in any
    /// data-parallel run). All ranks score dev (identical weights, identical choices).
    /// `labelFeatures` only enters the resume config (the network already holds it).
    public func fit(train: [TokenFeatures], trainLabels: [Int], dev: [TokenFeatures], devLabels: [Int], labelFeatures: Tensor? = nil,
                    run: CrossTuneRun = CrossTuneRun(), log: (String) -> Void = { _ in }) throws {
        guard !train.isEmpty, train.count == trainLabels.count, dev.count == devLabels.count else {
            throw CrossTuneError("CrossTune: \(train.count) training feature sets for \(trainLabels.count) labels")
        }
        let params = network.trainableParameters()
        let optimizer = AdamW(learningRate: options.learningRate, weightDecay: options.weightDecay, decayRule: .excludeBiasAndNorm)
        let world = run.world
        let session = try TrainingSession(command: "crosstune train", model: network, parameters: params, optimizer: optimizer,
                                          config: CrossTuneRun.config(options: options, train: train, trainLabels: trainLabels, dev: dev,
                                                                      devLabels: devLabels, labelFeatures: labelFeatures),
                                          folder: run.checkpointFolder, every: run.checkpointEvery, world: world)
        var best: (acc: Double, loss: Double, weights: [[Float]])?
        var rng = SplitMix64(seed: options.seed).fork(0xc1055)
        let epochs = max(options.epochs, 1)
        let stepsPerEpoch = (train.count + options.batchSize - 1) / options.batchSize
        var step = 0
        var resumed: (position: TrainingPosition, progress: CrossTuneProgress)?
        if let dir = run.resumeFrom {
            let file = TrainingCheckpoint.file(in: dir).path
            let checkpoint = try session.resume(from: dir, within: TrainingExtent(epochs: epochs, batchesPerEpoch: stepsPerEpoch, steps: epochs * stepsPerEpoch))
            let progress = try CrossTuneProgress.decode(checkpoint.progress, file: file)
            if let a = progress.bestAccuracy, let l = progress.bestLoss {
                let weights = try params.map { name, p -> [Float] in
                    guard let t = checkpoint.extraTensors["best/" + name], t.count == p.count else {
                        throw CrossTuneError("\(file): the checkpoint lacks the best-epoch tensor '\(name)'; train into a new --out folder")
                    }
                    return t.storage
                }
                best = (Double(bitPattern: a), Double(bitPattern: l), weights)
            }
            bestEpoch = progress.bestEpoch
            bestDevAccuracy = best?.acc ?? 0
            step = checkpoint.position.step
            resumed = (checkpoint.position, progress)
            if world.isLeader { log("crosstune: resumed from \(file) at step \(step)") }
        }
        func progress(_ epochRNG: UInt64, _ lossSum: Double) throws -> String {
            try CrossTuneProgress(epochRNG: epochRNG, lossSum: lossSum, best: best.map { ($0.acc, $0.loss) }, bestEpoch: bestEpoch).json()
        }
        func bestTensors() -> [String: Tensor] {
            guard let best else { return [:] }
            var out: [String: Tensor] = [:]
            for ((name, p), w) in zip(params, best.weights) { out["best/" + name] = Tensor(w, shape: p.shape) }
            return out
        }
        let firstEpoch = resumed.map { $0.position.finished ? epochs + 1 : $0.position.epoch } ?? 1
        for epoch in firstEpoch..<(epochs + 1) {
            network.train()
            let resumingHere = epoch == firstEpoch ? resumed : nil
            if let r = resumingHere, let state = UInt64(r.progress.epochRNG, radix: 16) { rng.state = state }
            let epochRNG = rng.state
            var order = Array(train.indices)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var lossSum = 0.0
            let firstBatch = resumingHere?.position.batchInEpoch ?? 0
            if let r = resumingHere, firstBatch > 0 { lossSum = Double(bitPattern: r.progress.lossSum) }
            for b in firstBatch..<stepsPerEpoch {
                let start = b * options.batchSize
                let idx = Array(order[start..<min(start + options.batchSize, order.count)])
                let mine = DataShard.range(count: idx.count, rank: world.rank, size: world.size)
                var localLoss: Float = 0
                if !mine.isEmpty {
                    let (x, mask) = paddedFeatureBatch(mine.map { train[idx[$0]] })
                    let loss = network(x, mask: mask).crossEntropyLoss(targets: mine.map { trainLabels[idx[$0]] })
                    guard loss.item.isFinite else { throw CrossTuneError("CrossTune training diverged at epoch \(epoch); lower --lr") }
                    localLoss = loss.item
                    loss.backward()
                }
                let reduced = try session.averageGradients(localWeight: Double(mine.count), extras: [localLoss * Float(mine.count)])
                let stepLoss = world.size > 1 ? reduced.sums[0] / Float(reduced.total) : localLoss
                lossSum += Double(stepLoss) * Double(idx.count)
                optimizer.step(params)
                optimizer.zeroGrad(params)
                step += 1
                if b + 1 < stepsPerEpoch {
                    try session.checkpointIfDue(TrainingPosition(step: step, epoch: epoch, batchInEpoch: b + 1), progress: try progress(epochRNG, lossSum),
                                                extraTensors: bestTensors())
                }
            }
            network.eval()
            let (devPred, devLoss) = try evaluate(dev, labels: devLabels)
            let acc = ClassificationScores(predictions: devPred, targets: devLabels, classes: network.numClasses).accuracy
            if best == nil || acc > best!.acc || (acc == best!.acc && devLoss < best!.loss) {
                best = (acc, devLoss, params.map { $0.1.storage })
                bestEpoch = epoch
                bestDevAccuracy = acc
            }
            if world.isLeader && (epoch == 1 || epoch % 10 == 0 || epoch == options.epochs) {
                log(String(format: "crosstune: epoch %d train loss %.4f dev loss %.4f dev acc %.3f", epoch, lossSum / Double(train.count), devLoss, acc))
            }
            if epoch < epochs {
                try session.checkpointIfDue(TrainingPosition(step: step, epoch: epoch + 1), progress: try progress(rng.state, 0), extraTensors: bestTensors())
            }
        }
        try session.checkpoint(TrainingPosition(step: step, epoch: epochs + 1, finished: true), progress: try progress(rng.state, 0),
                               extraTensors: bestTensors())
        if let best { for (p, w) in zip(params, best.weights) { p.1.storage = w } }
        network.eval()
    }

    /// Class probabilities `[N][C]`, in batches, without recording gradients.
    public func probabilities(_ items: [TokenFeatures]) -> [[Float]] {
        withoutGrad {
            var out: [[Float]] = []
            for start in stride(from: 0, to: items.count, by: 64) {
                let (x, mask) = paddedFeatureBatch(Array(items[start..<min(start + 64, items.count)]))
                let p = network(x, mask: mask).softmax()
                let c = network.numClasses
                for r in 0..<(p.count / c) { out.append(Array(p.storage[(r * c)..<((r + 1) * c)])) }
            }
            return out
        }
    }

    /// Predicted classes and the mean cross-entropy.
    public func evaluate(_ items: [TokenFeatures], labels: [Int]) throws -> ([Int], Double) {
        let probs = probabilities(items)
        let pred = probs.map { argmax($0) }
        var loss = 0.0
        for (p, y) in zip(probs, labels) { loss -= Double(log(max(p[y], 1e-12))) }
        return (pred, labels.isEmpty ? 0 : loss / Double(labels.count))
    }
}

/// Index of the largest value (first on ties).
public func argmax(_ v: [Float]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}

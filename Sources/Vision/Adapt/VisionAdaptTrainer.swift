import Core
import Foundation

/// What a training run did.
public struct TrainingSummary: Codable, Sendable, Equatable {
    public var iterations: Int
    public var batchSize: Int
    public var images: Int
    public var firstLoss: Float?
    public var finalLoss: Float?
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// The few-shot training loop: AdamW, cosine schedule to `minLearningRate` over all
/// iterations (CLIP-SVD's `CosineAnnealingLR(T_max = iterations, eta_min = 1e-6)`),
/// cross-entropy on the classifier's logits. Batches walk through seeded per-epoch
/// permutations of the support set (wrapping into the next epoch, so every batch is full);
/// each image is augmented with its own generator forked from (seed, position in the
/// stream), so results do not depend on how many threads run the augmentation.
public enum VisionAdaptTrainer {
    /// `[B, 3, S, S]` pixels: each image augmented (`augment`) or preprocessed for evaluation.
    static func pixels(_ images: [Image], size: Int, backbone: VisionBackbone, augmentation: TrainAugmentation?, seeds: [UInt64]) -> Tensor {
        let plane = 3 * size * size
        var storage = [Float](repeating: 0, count: images.count * plane)
        let pre = backbone.preprocessor(size: size)
        storage.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            parallelChunks(images.count, costPerItem: 200_000) { range in
                for i in range {
                    var rng = SplitMix64(seed: seeds[i])
                    let t = augmentation.map { $0(images[i], using: &rng) } ?? pre(images[i])
                    t.storage.withUnsafeBufferPointer { src in
                        (out.base + i * plane).update(from: src.baseAddress!, count: plane)
                    }
                }
            }
        }
        return Tensor(storage, shape: [images.count, 3, size, size])
    }

    /// Indices of batch `step`: positions `step·B ..< (step+1)·B` of the endless stream of
    /// per-epoch permutations of `0..<n` (epoch e shuffled with `seed` forked by e).
    static func batchIndices(step: Int, batch: Int, n: Int, seed: UInt64) -> [Int] {
        var out: [Int] = []
        var cachedEpoch = -1
        var perm: [Int] = []
        for p in (step * batch)..<((step + 1) * batch) {
            let epoch = p / n
            if epoch != cachedEpoch {
                var rng = SplitMix64(seed: seed).fork(UInt64(epoch))
                perm = Array(0..<n)
                for i in stride(from: n - 1, to: 0, by: -1) { perm.swapAt(i, randomIndex(below: i + 1, using: &rng)) }
                cachedEpoch = epoch
            }
            out.append(perm[p % n])
        }
        return out
    }

    /// Trains `model` on decoded support `images` with `labels`. `log` receives progress lines.
    ///
    /// `run` adds checkpoints (every N steps and at the end), resume, and data parallelism:
    /// every rank builds the same global batch and its augmentation seeds, takes its slice
    /// (`DataShard`), and the gradients of the mean loss over the slices are averaged weighted
    /// by slice size, so N ranks take the single-process steps. The batch order and each
    /// image's augmentation are pure functions of (seed, step), and the learning rate of the
    /// step, so a resumed run continues bit-identically.
    public static func train(_ model: VisionAdaptModel, images: [Image], labels: [Int], run: VisionTrainingRun = VisionTrainingRun(),
                             log: (String) -> Void) throws -> TrainingSummary {
        let o = model.options
        let total = o.resolvedIterations
        let batch = min(o.batchSize, images.count)
        let params = model.trainableParameters()
        guard !params.isEmpty else { throw DatasetError("method \(o.method.rawValue) has no trainable parameters") }
        guard !images.isEmpty else { throw DatasetError("no training images") }
        let opt = AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay)
        let schedule = LRSchedule.cosine(warmup: 0, total: total, minLR: o.minLearningRate)
        let size = model.imageSize
        let streamSeed = SplitMix64(seed: o.seed).fork(0x5A_4D_50_4C)   // batch order
        let augmentSeed = SplitMix64(seed: o.seed).fork(0x41_55_47)     // crops and flips
        let augmentation = o.augment ? TrainAugmentation(size: size, interpolation: .bicubic, scale: o.cropScaleMin...1.0,
                                                         normalization: model.backbone.normalization) : nil
        // The backbone module holds every adapter layer and random generator; the head is
        // a pure function of the support features, which the data hash covers.
        let session = try TrainingSession(command: "vision-adapt train", model: model.backbone.module, parameters: params, optimizer: opt,
                                          config: try VisionTrainingRun.config(options: o, images: images, labels: labels),
                                          folder: run.checkpointFolder, every: run.checkpointEvery, world: run.world)
        let world = run.world
        var first: Float?, recent: [Float] = []
        var startStep = 0
        if let dir = run.resumeFrom {
            let checkpoint = try session.resume(from: dir, within: TrainingExtent(steps: total))
            let file = TrainingCheckpoint.file(in: dir).path
            startStep = checkpoint.position.step
            let progress = try VisionTrainingProgress.decode(checkpoint.progress, file: file)
            first = progress.firstLoss
            recent = progress.recentLosses
            if world.isLeader { log("  resumed from \(file) at step \(startStep)/\(total)") }
        }
        if world.size > 1 && world.isLeader {
            log("  data parallel, \(world.size) ranks: each takes its slice of the \(batch)-image batch; \(session.reducer.bytesPerStep(extras: 1)) bytes all-reduced per step")
        }
        model.setTraining(true)
        defer { model.setTraining(false) }
        let start = Date()
        var lastReport = start
        let every = max(1, total / 20)
        for step in startStep..<total {
            let idx = batchIndices(step: step, batch: batch, n: images.count, seed: streamSeed.state)
            let seeds = (0..<batch).map { augmentSeed.fork(UInt64(step * batch + $0)).state }
            let mine = DataShard.range(count: batch, rank: world.rank, size: world.size)
            var localLoss: Float = 0
            if !mine.isEmpty {
                let x = pixels(mine.map { images[idx[$0]] }, size: size, backbone: model.backbone, augmentation: augmentation,
                               seeds: Array(seeds[mine]))
                let loss = try model.logits(x).crossEntropy(targets: mine.map { labels[idx[$0]] })
                localLoss = loss.item
                if localLoss.isFinite { loss.backward() }
            }
            // One process: nothing is exchanged and `stepLoss` is this process's loss.
            let reduced = try session.averageGradients(localWeight: Double(mine.count), extras: [localLoss * Float(mine.count)])
            let stepLoss = world.size > 1 ? reduced.sums[0] / Float(reduced.total) : localLoss
            guard stepLoss.isFinite else {
                throw DatasetError("training diverged at step \(step + 1) (loss \(stepLoss)); lower --lr")
            }
            opt.learningRate = schedule.learningRate(at: step, base: o.learningRate)
            opt.step(params)
            opt.zeroGrad(params)
            if first == nil { first = stepLoss }
            recent.append(stepLoss)
            if recent.count > 20 { recent.removeFirst() }
            try session.checkpointIfDue(TrainingPosition(step: step + 1), progress: try VisionTrainingProgress(first: first, recent: recent).json())
            let now = Date()
            if world.isLeader && (step + 1 == total || (step + 1) % every == 0 || now.timeIntervalSince(lastReport) > 30) {
                lastReport = now
                let elapsed = now.timeIntervalSince(start)
                let done = step + 1 - startStep
                let rate = Double(done * batch) / max(elapsed, 1e-9)
                let eta = elapsed / Double(done) * Double(total - step - 1)
                log(String(format: "  step %d/%d  loss %.4f  lr %.2e  %.1f img/s  eta %.0fs", step + 1, total,
                           recent.reduce(0, +) / Float(recent.count), opt.learningRate, rate, eta))
            }
        }
        try session.checkpoint(TrainingPosition(step: total, finished: true), progress: try VisionTrainingProgress(first: first, recent: recent).json())
        let seconds = Date().timeIntervalSince(start)
        let trained = total - startStep
        return TrainingSummary(iterations: total, batchSize: batch, images: images.count, firstLoss: first, finalLoss: recent.last,
                               seconds: seconds, imagesPerSecond: Double(trained * batch) / max(seconds, 1e-9))
    }

    /// The linear probe: only the head trains, on `features [N, D]` computed once with the
    /// frozen backbone; same optimizer, schedule, batch size and batch order as `train`.
    public static func trainProbe(_ model: VisionAdaptModel, features: Tensor, labels: [Int], log: (String) -> Void) throws -> TrainingSummary {
        guard let head = model.head else { throw DatasetError("the probe needs a class-mean head") }
        let o = model.options
        let total = o.resolvedIterations, n = features.shape[0], batch = min(o.batchSize, n)
        let params = head.trainableParameters()
        let opt = AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay)
        let schedule = LRSchedule.cosine(warmup: 0, total: total, minLR: o.minLearningRate)
        let streamSeed = SplitMix64(seed: o.seed).fork(0x5A_4D_50_4C)
        let start = Date()
        var first: Float?, last: Float?
        let every = max(1, total / 10)
        for step in 0..<total {
            let idx = batchIndices(step: step, batch: batch, n: n, seed: streamSeed.state)
            let loss = head(features.indexSelect(axis: 0, idx)).crossEntropy(targets: idx.map { labels[$0] })
            loss.backward()
            opt.learningRate = schedule.learningRate(at: step, base: o.learningRate)
            opt.step(params)
            opt.zeroGrad(params)
            if first == nil { first = loss.item }
            last = loss.item
            if (step + 1) % every == 0 { log(String(format: "  probe step %d/%d  loss %.4f", step + 1, total, loss.item)) }
        }
        let seconds = Date().timeIntervalSince(start)
        return TrainingSummary(iterations: total, batchSize: batch, images: n, firstLoss: first, finalLoss: last,
                               seconds: seconds, imagesPerSecond: Double(total * batch) / max(seconds, 1e-9))
    }

    /// Frozen features `[N, D]` of `images` with the evaluation preprocessing, in batches.
    public static func features(_ backbone: VisionBackbone, images: [Image], size: Int, batch: Int = 32) throws -> Tensor {
        var rows: [Float] = []
        let d = backbone.featureDim
        rows.reserveCapacity(images.count * d)
        try withoutGrad {
            for start in stride(from: 0, to: images.count, by: batch) {
                let part = Array(images[start..<min(start + batch, images.count)])
                let x = pixels(part, size: size, backbone: backbone, augmentation: nil, seeds: part.map { _ in 0 })
                rows += try backbone.imageFeatures(x).storage
            }
        }
        return Tensor(rows, shape: [images.count, d])
    }
}

import Core
import Foundation

/// What a GenD training run did.
public struct GenDTrainingSummary: Codable, Sendable, Equatable {
    public var method: String
    public var iterations: Int
    public var batchSize: Int
    public var realImages: Int
    public var fakeImages: Int
    public var trainableParameters: Int
    public var totalParameters: Int
    public var trainablePercent: Double
    public var firstLoss: Float?
    public var finalLoss: Float?
    /// Last step's loss terms (CE, uniformity, alignment).
    public var finalTerms: [String: Float]
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// The training loop. Every batch holds `B/2` reals and `B/2` fakes, each side walking its own
/// seeded per-epoch permutation (so the classes are balanced whatever the fake:real ratio of
/// the folder, and every image is seen once per epoch of its class). AdamW with cosine warm
/// restarts; the probe trains its head on cached frozen features with the same batches.
public enum GenDTrainer {
    /// Decodes images with a clear error naming the file (grey and colour may be mixed: all
    /// become RGB in preprocessing).
    public static func decode(_ samples: [DeepfakeSample]) throws -> [Image] {
        try samples.map { try ImageDecoder.decode(contentsOf: $0.url) }
    }

    ///
    /// `run` checkpoints every `checkpointEvery` steps and at the end and continues a killed
    /// run from `resumeFrom` to bit-identical weights. The batches and augmentations are pure
    /// functions of (seed, step), so the checkpoint needs only the trainable tensors, AdamW,
    /// the dropout generators (through `TrainingSession`) and the loss record.
    public static func train(_ model: GenDModel, reals: [Image], fakes: [Image], run: TrainingRun = TrainingRun(),
                             log: (String) -> Void) throws -> GenDTrainingSummary {
        let o = model.options
        guard !reals.isEmpty else { throw DatasetError("no real training images") }
        guard !fakes.isEmpty else { throw DatasetError("no fake training images") }
        let half = o.batchSize / 2
        let params = model.trainableParameters()
        let opt = AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay)
        let schedule = CosineWarmRestarts(cycle: o.resolvedCycle, minLR: o.minLearningRate)
        let realStream = SplitMix64(seed: o.seed).fork(0x5245_414C)   // "REAL"
        let fakeStream = SplitMix64(seed: o.seed).fork(0x4641_4B45)   // "FAKE"
        let augmentSeed = SplitMix64(seed: o.seed).fork(0x41_55_47)
        let augmentation = o.augment ? TrainAugmentation(size: o.imageSize, interpolation: .bicubic, scale: 0.85...1.0,
                                                         normalization: model.backbone.normalization) : nil
        let labels = [Int](repeating: 0, count: half) + [Int](repeating: 1, count: half)

        // The probe: features once (frozen backbone, evaluation preprocessing), then head steps.
        var cached: (real: Tensor, fake: Tensor)?
        if o.method == .probe {
            log("probe: caching frozen features of \(reals.count + fakes.count) images")
            cached = (try VisionAdaptTrainer.features(model.backbone, images: reals, size: o.imageSize),
                      try VisionAdaptTrainer.features(model.backbone, images: fakes, size: o.imageSize))
        }
        model.setTraining(o.method != .probe)
        defer { model.setTraining(false) }
        let start = Date()
        var lastReport = start
        var first: Float?, recent: [Float] = [], terms: [String: Float] = [:]
        let every = max(1, o.iterations / 20)
        let config = try ResumableRunConfig.config(options: o, extra: [
            "data": ResumableRunConfig.fingerprint(images: reals + fakes, labels: [Int](repeating: 0, count: reals.count) + [Int](repeating: 1, count: fakes.count)),
        ])
        let session = try TrainingSession(command: "deepfake-detect train", model: model.backbone.module, parameters: params, optimizer: opt,
                                          config: config, folder: run.checkpointFolder, every: run.checkpointEvery)
        var firstStep = 0
        if let dir = run.resumeFrom {
            let file = TrainingCheckpoint.file(in: dir).path
            let checkpoint = try session.resume(from: dir, within: TrainingExtent(steps: o.iterations))
            guard let p = try? JSONDecoder().decode(GenDTrainingProgress.self, from: Data(checkpoint.progress.utf8)) else {
                throw DatasetError("\(file): the checkpoint's progress record is not deepfake-detect's; train into a new --out folder")
            }
            first = p.first.map(Float.init(bitPattern:))
            recent = p.recent.map(Float.init(bitPattern:))
            terms = p.terms.mapValues(Float.init(bitPattern:))
            firstStep = min(checkpoint.position.step, o.iterations)
            log("resumed from \(file) at step \(firstStep)/\(o.iterations)")
        }
        func progress() throws -> String {
            let p = GenDTrainingProgress(first: first?.bitPattern, recent: recent.map(\.bitPattern), terms: terms.mapValues(\.bitPattern))
            return String(decoding: try JSONEncoder().encode(p), as: UTF8.self)
        }
        for step in firstStep..<o.iterations {
            let ri = VisionAdaptTrainer.batchIndices(step: step, batch: half, n: reals.count, seed: realStream.state)
            let fi = VisionAdaptTrainer.batchIndices(step: step, batch: half, n: fakes.count, seed: fakeStream.state)
            let z: Tensor
            if let cached {
                z = model.embedding(features: Tensor.concat([cached.real.indexSelect(axis: 0, ri), cached.fake.indexSelect(axis: 0, fi)], axis: 0))
            } else {
                let batch = ri.map { reals[$0] } + fi.map { fakes[$0] }
                let seeds = (0..<batch.count).map { augmentSeed.fork(UInt64(step * batch.count + $0)).state }
                let x = VisionAdaptTrainer.pixels(batch, size: o.imageSize, backbone: model.backbone, augmentation: augmentation, seeds: seeds)
                z = try model.embedding(x)
            }
            let logits = model.logits(embedding: z)
            let loss: Tensor
            if o.method.usesSphereLosses {
                let t = o.loss(logits: logits, embeddings: z, labels: labels)
                loss = t.total
                terms = ["ce": t.crossEntropy, "uniformity": t.uniformity, "alignment": t.alignment]
            } else {
                loss = logits.crossEntropy(targets: labels)
                terms = ["ce": loss.item]
            }
            guard loss.item.isFinite else {
                throw DatasetError("training diverged at step \(step + 1) (loss \(loss.item)); lower --lr")
            }
            loss.backward()
            opt.learningRate = schedule.learningRate(at: step, base: o.learningRate)
            opt.step(params)
            opt.zeroGrad(params)
            if first == nil { first = loss.item }
            recent.append(loss.item)
            if recent.count > 10 { recent.removeFirst() }
            if step + 1 < o.iterations { try session.checkpointIfDue(TrainingPosition(step: step + 1), progress: try progress()) }
            let now = Date()
            if step + 1 == o.iterations || (step + 1) % every == 0 || now.timeIntervalSince(lastReport) > 30 {
                lastReport = now
                let elapsed = now.timeIntervalSince(start)
                // The sphere terms are logged too: uniformity near 0 (log 1) means every embedding sits at one point, the
                // collapse that full fine-tuning at a LayerNorm-sized rate shows while CE stays at log 2.
                let sphere = terms["uniformity"].map { String(format: ", unif %.3f, align %.3f", $0, terms["alignment"] ?? 0) } ?? ""
                log(String(format: "  step %d/%d  loss %.4f (ce %.4f%@)  lr %.2e  %.1f img/s  eta %.0fs", step + 1, o.iterations,
                           recent.reduce(0, +) / Float(recent.count), terms["ce"] ?? 0, sphere, opt.learningRate,
                           Double((step + 1) * o.batchSize) / max(elapsed, 1e-9), elapsed / Double(step + 1) * Double(o.iterations - step - 1)))
            }
        }
        try session.checkpoint(TrainingPosition(step: o.iterations, finished: true), progress: try progress())
        let seconds = Date().timeIntervalSince(start)
        return GenDTrainingSummary(
            method: o.method.rawValue, iterations: o.iterations, batchSize: o.batchSize, realImages: reals.count, fakeImages: fakes.count,
            trainableParameters: model.trainableCount, totalParameters: model.totalCount,
            trainablePercent: 100 * Double(model.trainableCount) / Double(max(1, model.totalCount)),
            firstLoss: first, finalLoss: recent.last, finalTerms: terms, seconds: seconds,
            imagesPerSecond: Double(o.iterations * o.batchSize) / max(seconds, 1e-9))
    }

    /// P(fake) of each image (evaluation preprocessing, no gradients), in batches.
    public static func scores(_ model: GenDModel, images: [Image], batch: Int = 16) throws -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(images.count)
        model.setTraining(false)
        try withoutGrad {
            for s in stride(from: 0, to: images.count, by: batch) {
                let part = Array(images[s..<min(s + batch, images.count)])
                let x = VisionAdaptTrainer.pixels(part, size: model.options.imageSize, backbone: model.backbone, augmentation: nil,
                                                  seeds: part.map { _ in 0 })
                out += GenDModel.fakeProbabilities(model.logits(embedding: try model.embedding(x)))
            }
        }
        return out
    }
}

/// The GenD loop's loss record at a checkpoint (Float bit patterns, so a resumed run reports
/// the same first/final loss as an uninterrupted one).
struct GenDTrainingProgress: Codable {
    var first: UInt32?
    var recent: [UInt32]
    var terms: [String: UInt32]
}

import Core
import Foundation

/// One seed's run: what trained, how, and the held-out result.
public struct SeedRun: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var adapter: String
    public var trainableParameters: Int
    public var training: TrainingSummary?
    public var evaluation: EvaluationReport
}

/// The JSON `vision-adapt train` prints.
public struct TrainReport: Codable, Sendable, Equatable {
    public var method: AdaptMethod
    public var model: String
    public var family: BackboneFamily
    public var data: String
    public var shots: Int
    public var imageSize: Int
    public var iterations: Int
    public var evaluatedOn: String
    public var runs: [SeedRun]
    public var accuracy: SeedStatistics
    /// Mean over seeds of each class's accuracy.
    public var perClassAccuracy: [String: Double]
}

/// `vision-adapt`'s jobs as library calls: few-shot training with held-out evaluation over
/// seeds, evaluation of a saved adapter, prediction.
///
/// Evaluation never sees a training image: it uses the `test/` split when the data folder has
/// one, otherwise the training pool minus the K-shot support set of that seed.
public enum VisionAdaptTask {
    /// Trains one adapter per seed (saved to `out`, or `out/seed-N` for several seeds), evaluates
    /// each on held-out images, writes `metrics.json` and `confusion.png` beside each adapter
    /// and `results.json` in `out`. `backbone` builds a fresh backbone for each seed (adapters
    /// modify the module they attach to).
    ///
    /// `evalPerClass` keeps only the first N evaluation images of each class (path order), for
    /// quick runs; nil evaluates them all.
    ///
    /// `checkpointEvery` (nil: no checkpoints) writes `training_checkpoint.safetensors` into
    /// each seed's adapter folder every N steps (0: only at the end); `resume` is the `out` of
    /// an interrupted run: each seed continues from its folder's checkpoint (with several
    /// seeds, a seed that had not started yet starts afresh). Under `world` with several
    /// ranks every rank trains on its slice of each batch and rank 0 alone evaluates and
    /// writes; the other ranks return a report without runs.
    public static func train(data: URL, options base: VisionAdaptOptions, seeds: [UInt64], out: URL, strict: Bool = false,
                             evalPerClass: Int? = nil, checkpointEvery: Int? = nil, resume: URL? = nil,
                             world: any Distributed = SingleProcess(),
                             backbone makeBackbone: () throws -> VisionBackbone, log: (String) -> Void) throws -> TrainReport {
        // Rank 0 alone reports progress.
        func say(_ line: String) { if world.isLeader { log(line) } }
        try base.validate()
        guard !seeds.isEmpty else { throw DatasetError("--seeds is empty") }
        let splits = try ImageFolderSplits(root: data, strict: strict)
        for w in splits.warnings { say("warning: " + w) }
        let classes = splits.train.classes
        guard classes.count >= 2 else { throw DatasetError("\(data.path): only \(classes.count) class found; classification needs at least 2 class folders") }
        var runs: [SeedRun] = []
        var family = BackboneFamily.dinov2, source = "", imageSize = 0
        let evaluatedOn = splits.test != nil ? "test split" : "held-out remainder of the training pool"
        for seed in seeds {
            var options = base
            options.seed = seed
            let (support, rest) = try splits.train.kShot(options.shots, seed: seed)
            var evalSamples = splits.test?.samples ?? rest
            if let limit = evalPerClass {
                var taken = [Int](repeating: 0, count: classes.count)
                evalSamples = evalSamples.filter { s in
                    taken[s.label] += 1
                    return taken[s.label] <= limit
                }
            }
            guard !evalSamples.isEmpty else {
                throw DatasetError("\(data.path): no image left for evaluation (no test/ split and every image is in the \(options.shots)-shot support set); add a test/ folder or lower --shots")
            }
            say("seed \(seed): \(support.count) training images (\(options.shots) per class × \(classes.count) classes), \(evalSamples.count) evaluation images (\(evaluatedOn))")
            let loaded = try ImageFolder.loadImages(support, strict: strict)
            for line in loaded.skipped { say("warning: " + line) }
            let backbone = try makeBackbone()
            family = backbone.family
            source = backbone.source
            let size = options.imageSize ?? backbone.nativeImageSize
            imageSize = size
            say("  frozen features of the support set at \(size) px")
            let features = try VisionAdaptTrainer.features(backbone, images: loaded.images, size: size)
            let model = try VisionAdaptModel.create(backbone: backbone, classes: classes, options: options,
                                                    supportFeatures: features, labels: loaded.labels)
            if let r = model.injection { say("  " + r.description) }
            say("  method \(options.method.rawValue): \(model.trainableCount) trainable values, \(options.resolvedIterations) iterations, batch \(min(options.batchSize, loaded.images.count))")
            var summary: TrainingSummary?
            let dir = seeds.count == 1 ? out : out.appendingPathComponent("seed-\(seed)")
            switch options.method {
            case .zeroshot: summary = nil
            case .probe: summary = try VisionAdaptTrainer.trainProbe(model, features: features, labels: loaded.labels, log: say)
            default:
                var from = resume.map { seeds.count == 1 ? $0 : $0.appendingPathComponent("seed-\(seed)") }
                if let f = from, seeds.count > 1, !TrainingCheckpoint.exists(in: f) { from = nil }
                let run = VisionTrainingRun(checkpointFolder: checkpointEvery == nil ? nil : dir, checkpointEvery: checkpointEvery ?? 0,
                                            resumeFrom: from, world: world)
                summary = try VisionAdaptTrainer.train(model, images: loaded.images, labels: loaded.labels, run: run, log: say)
            }
            guard world.isLeader else { continue }
            try model.save(to: dir, supportFiles: support.map(\.url), dataRoot: data)
            try model.mergeForInference()
            say("  evaluating on \(evalSamples.count) images")
            let report = try model.evaluate(evalSamples, split: evaluatedOn, strict: strict, log: say)
            try write(report, to: dir)
            say("  seed \(seed): " + String(format: "accuracy %.2f%% (%d/%d)", 100 * report.accuracy, report.correct, report.count))
            runs.append(SeedRun(seed: seed, adapter: dir.path, trainableParameters: model.trainableCount, training: summary, evaluation: report))
        }
        var perClass: [String: Double] = [:]
        guard world.isLeader else {
            return TrainReport(method: base.method, model: source, family: family, data: data.path, shots: base.shots, imageSize: imageSize,
                               iterations: base.resolvedIterations, evaluatedOn: evaluatedOn, runs: [],
                               accuracy: SeedStatistics(seeds: [], accuracies: []), perClassAccuracy: [:])
        }
        for (c, name) in classes.enumerated() {
            let values = runs.compactMap { $0.evaluation.perClass[c].accuracy }
            if !values.isEmpty { perClass[name] = values.reduce(0, +) / Double(values.count) }
        }
        let result = TrainReport(method: base.method, model: source, family: family, data: data.path, shots: base.shots, imageSize: imageSize,
                                 iterations: base.method == .zeroshot ? 0 : base.resolvedIterations, evaluatedOn: evaluatedOn, runs: runs,
                                 accuracy: SeedStatistics(seeds: seeds, accuracies: runs.map(\.evaluation.accuracy)), perClassAccuracy: perClass)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try AtomicFile.write(try VisionAdaptOptions.encoder.encode(result), to: out.appendingPathComponent("results.json"))
        return result
    }

    /// Writes `metrics.json` and `confusion.png` (both atomically) into `directory`.
    public static func write(_ report: EvaluationReport, to directory: URL) throws {
        try AtomicFile.write(try VisionAdaptOptions.encoder.encode(report), to: directory.appendingPathComponent("metrics.json"))
        try PNGCodec.write(report.confusionImage(), to: directory.appendingPathComponent("confusion.png"))
    }

    /// The images of `data` an adapter never trained on: the `test/` split if there is one,
    /// else every image of the folder that is not in the adapter's support set.
    public static func heldOut(data: URL, manifest: VisionAdaptManifest, strict: Bool = false) throws -> (samples: [ImageSample], split: String, excluded: Int, warnings: [String]) {
        let splits = try ImageFolderSplits(root: data, strict: strict)
        let classes = manifest.classes
        if splits.test != nil {
            let test = try ImageFolder(root: data.appendingPathComponent("test"), classes: classes, strict: strict)
            return (test.samples, "test split", 0, splits.warnings + test.warnings)
        }
        let root = ImageFolder.isDirectory(data.appendingPathComponent("train")) ? data.appendingPathComponent("train") : data
        let pool = try ImageFolder(root: root, classes: classes, strict: strict)
        let used = Set(manifest.supportFiles)
        let kept = pool.samples.filter { !used.contains($0.url.standardizedFileURL.path) }
        return (kept, "held-out remainder (training images excluded)", pool.samples.count - kept.count, pool.warnings)
    }
}

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
    public static func train(data: URL, options base: VisionAdaptOptions, seeds: [UInt64], out: URL, strict: Bool = false,
                             evalPerClass: Int? = nil, backbone makeBackbone: () throws -> VisionBackbone, log: (String) -> Void) throws -> TrainReport {
        try base.validate()
        guard !seeds.isEmpty else { throw DatasetError("--seeds is empty") }
        let splits = try ImageFolderSplits(root: data, strict: strict)
        for w in splits.warnings { log("warning: " + w) }
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
            log("seed \(seed): \(support.count) training images (\(options.shots) per class × \(classes.count) classes), \(evalSamples.count) evaluation images (\(evaluatedOn))")
            let loaded = try ImageFolder.loadImages(support, strict: strict)
            for line in loaded.skipped { log("warning: " + line) }
            let backbone = try makeBackbone()
            family = backbone.family
            source = backbone.source
            let size = options.imageSize ?? backbone.nativeImageSize
            imageSize = size
            log("  frozen features of the support set at \(size) px")
            let features = try VisionAdaptTrainer.features(backbone, images: loaded.images, size: size)
            let model = try VisionAdaptModel.create(backbone: backbone, classes: classes, options: options,
                                                    supportFeatures: features, labels: loaded.labels)
            if let r = model.injection { log("  " + r.description) }
            log("  method \(options.method.rawValue): \(model.trainableCount) trainable values, \(options.resolvedIterations) iterations, batch \(min(options.batchSize, loaded.images.count))")
            var summary: TrainingSummary?
            switch options.method {
            case .zeroshot: summary = nil
            case .probe: summary = try VisionAdaptTrainer.trainProbe(model, features: features, labels: loaded.labels, log: log)
            default: summary = try VisionAdaptTrainer.train(model, images: loaded.images, labels: loaded.labels, log: log)
            }
            let dir = seeds.count == 1 ? out : out.appendingPathComponent("seed-\(seed)")
            try model.save(to: dir, supportFiles: support.map(\.url), dataRoot: data)
            try model.mergeForInference()
            log("  evaluating on \(evalSamples.count) images")
            let report = try model.evaluate(evalSamples, split: evaluatedOn, strict: strict, log: log)
            try write(report, to: dir)
            log("  seed \(seed): " + String(format: "accuracy %.2f%% (%d/%d)", 100 * report.accuracy, report.correct, report.count))
            runs.append(SeedRun(seed: seed, adapter: dir.path, trainableParameters: model.trainableCount, training: summary, evaluation: report))
        }
        var perClass: [String: Double] = [:]
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

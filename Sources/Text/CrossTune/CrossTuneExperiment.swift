import Core
import Foundation

/// The methods `crosstune compare` runs on the same black-box features and splits.
public enum FewShotMethod: String, Sendable, CaseIterable {
    /// CrossTune on token features with label-description queries.
    case crosstune
    /// Ablation: learned label vectors instead of descriptions.
    case crosstuneNoDescriptions = "crosstune-nodesc"
    /// Ablation: the pooled sentence embedding as a one-token input.
    case crosstunePooled = "crosstune-pooled"
    case linearProbe = "linear-probe"
    case prototype
    case zeroShot = "zero-shot"
    /// The white-box upper bound: LoRA fine-tuning of the encoder itself (needs its weights).
    case loraFineTune = "lora-finetune"
}

/// One method's result on one seed.
public struct FewShotRun: Sendable {
    public var method: FewShotMethod
    public var seed: UInt64
    public var scores: ClassificationScores
    public var trainableParameters: Int
    /// Requests to the black box made while fetching this method's features.
    public var apiCalls: Int
}

/// The K-shot protocol over a black-box feature source: per seed, sample K training and K dev
/// examples per class from the pool, fetch features only through `source`, train each method,
/// and score it on the full test set.
public final class CrossTuneExperiment {
    public let source: any TextFeatureSource
    public let pool: [LabelledText]
    public let test: [LabelledText]
    public let labels: [String]
    public let descriptions: [String]
    public var shots = 16
    public var options = CrossTuneOptions()
    public var log: (String) -> Void = { _ in }
    /// Generated examples added to the training set of the CrossTune methods (the baselines
    /// stay on the plain K-shot set).
    public var augmentation: AugmentationPlan?
    /// Per seed, how many generated examples the switch kept.
    /// The encoder folder for `lora-finetune` (the white-box upper bound; nil refuses it).
    public var whiteBoxModel: String?
    public var whiteBoxOptions = WhiteBoxLoRAOptions()
    public private(set) var switchReports: [(seed: UInt64, report: SwitchReport)] = []
    /// The ranks CrossTune training splits its batches over (`CrossTuneTrainer.fit`).
    public var world: any Distributed = SingleProcess()
    /// Where each CrossTune training run checkpoints (`<root>/<method>-seed-<seed>/`); nil: never.
    public var checkpointRoot: URL?
    /// A checkpoint every this many steps and at the end (0: only at the end).
    public var checkpointEvery = 0
    /// The `checkpointRoot` of an interrupted experiment: runs with a checkpoint there continue
    /// from it (finished ones are restored without training), the others start afresh.
    public var resumeRoot: URL?

    /// `descriptions[i]` describes `labels[i]`. Test labels must all occur in `labels`.
    public init(source: any TextFeatureSource, pool: [LabelledText], test: [LabelledText], labels: [String], descriptions: [String]) throws {
        guard labels.count == descriptions.count else { throw CrossTuneError("\(labels.count) labels but \(descriptions.count) descriptions") }
        if let stray = test.first(where: { !labels.contains($0.label) }) {
            throw CrossTuneError("test label '\(stray.label)' never occurs in the training data (labels: \(labels.joined(separator: ", ")))")
        }
        self.source = source
        self.pool = pool
        self.test = test
        self.labels = labels
        self.descriptions = descriptions
    }

    func ids(_ items: [LabelledText]) -> [Int] { items.map { labels.firstIndex(of: $0.label)! } }

    /// Features through the black box, counting the requests it took.
    func fetch(_ texts: [String], _ kind: FeatureKind, calls: inout Int) throws -> [TokenFeatures] {
        let before = source.apiCalls
        defer { calls += source.apiCalls - before }
        return try source.features(texts, kind: kind)
    }

    /// Runs `methods` for one seed.
    public func run(seed: UInt64, methods: [FewShotMethod]) throws -> [FewShotRun] {
        let split = try FewShotSplit(pool: pool, shots: shots, seed: seed, labels: labels)
        let (trainY, devY, testY) = (ids(split.train), ids(split.dev), ids(test))
        var runs: [FewShotRun] = []
        var augmented: [LabelledText] = []
        let usesCrossTune = methods.contains { [.crosstune, .crosstuneNoDescriptions, .crosstunePooled].contains($0) }
        if let plan = augmentation, usesCrossTune {
            let (before, generatorBefore) = (source.apiCalls, plan.generator.apiCalls)
            let (kept, report) = try plan.augment(split, labels: labels, descriptions: descriptions, source: source, seed: seed)
            augmented = kept
            switchReports.append((seed, report))
            log("crosstune: seed \(seed) augmentation by \(plan.generator.generatorID): kept \(kept.count)/\(report.generated.reduce(0, +))"
                + (plan.threshold.map { " (switch: \(plan.teacher.name) teacher, threshold \($0))" } ?? " (no switch)") + " — \(report.summary); "
                + "\(plan.generator.apiCalls - generatorBefore) generator calls, \(source.apiCalls - before) feature calls for the teacher")
        }
        let augTrain = split.train + augmented
        let augY = ids(augTrain)
        for method in methods {
            var calls = 0
            let started = Date()
            let predictions: [Int]
            let parameters: Int
            switch method {
            case .crosstune, .crosstuneNoDescriptions, .crosstunePooled:
                let kind: FeatureKind = method == .crosstunePooled ? .pooled : .tokens
                let tr = try fetch(augTrain.map(\.text), kind, calls: &calls)
                let dv = try fetch(split.dev.map(\.text), kind, calls: &calls)
                let te = try fetch(test.map(\.text), kind, calls: &calls)
                var o = options
                o.seed = seed
                o.useDescriptions = method != .crosstuneNoDescriptions
                var labelFeatures: Tensor?
                if o.useDescriptions {
                    let desc = try fetch(descriptions, kind, calls: &calls)
                    labelFeatures = Tensor(desc.flatMap(\.mean), shape: [labels.count, tr[0].dim])
                }
                let trainer = try CrossTuneTrainer(options: o, featureDim: tr[0].dim, numClasses: labels.count, labelFeatures: labelFeatures)
                let folder = "\(method.rawValue)-seed-\(seed)"
                var run = CrossTuneRun(checkpointFolder: checkpointRoot?.appendingPathComponent(folder), checkpointEvery: checkpointEvery, world: world)
                if let r = resumeRoot?.appendingPathComponent(folder), TrainingCheckpoint.exists(in: r) { run.resumeFrom = r }
                try trainer.fit(train: tr, trainLabels: augY, dev: dv, devLabels: devY, labelFeatures: labelFeatures, run: run, log: log)
                predictions = try trainer.evaluate(te, labels: testY).0
                parameters = trainer.network.trainableCount
            case .loraFineTune:
                guard let folder = whiteBoxModel else {
                    throw CrossTuneError("lora-finetune trains the encoder itself; give its folder with --model DIR")
                }
                var o = whiteBoxOptions
                o.seed = seed
                let classifier = try WhiteBoxLoRAClassifier(folder: folder, classes: labels.count, options: o)
                try classifier.fit(train: split.train.map(\.text), trainLabels: trainY, dev: split.dev.map(\.text), devLabels: devY, log: log)
                predictions = try classifier.predict(test.map(\.text))
                parameters = classifier.trainableCount
            case .linearProbe, .prototype, .zeroShot:
                let te = try fetch(test.map(\.text), .pooled, calls: &calls).map(\.values)
                if method == .zeroShot {
                    let desc = try fetch(descriptions, .pooled, calls: &calls).map(\.values)
                    predictions = FewShotBaselines.zeroShot(descriptions: desc, test: te)
                    parameters = 0
                } else {
                    let tr = try fetch(split.train.map(\.text), .pooled, calls: &calls).map(\.values)
                    if method == .prototype {
                        predictions = FewShotBaselines.prototype(train: tr, trainLabels: trainY, classes: labels.count, test: te)
                        parameters = 0
                    } else {
                        let dv = try fetch(split.dev.map(\.text), .pooled, calls: &calls).map(\.values)
                        (predictions, parameters) = try FewShotBaselines.linearProbe(train: tr, trainLabels: trainY, dev: dv, devLabels: devY,
                                                                                     classes: labels.count, test: te, seed: seed)
                    }
                }
            }
            let scores = ClassificationScores(predictions: predictions, targets: testY, classes: labels.count)
            log(String(format: "crosstune: seed %llu %@: accuracy %.4f macro-F1 %.4f (%d parameters, %d API calls, %.1f s)",
                       seed, method.rawValue, scores.accuracy, scores.macroF1, parameters, calls, Date().timeIntervalSince(started)))
            runs.append(FewShotRun(method: method, seed: seed, scores: scores, trainableParameters: parameters, apiCalls: calls))
        }
        return runs
    }
}

/// Mean and sample standard deviation.
public func meanStd(_ xs: [Double]) -> (mean: Double, std: Double) {
    guard !xs.isEmpty else { return (0, 0) }
    let m = xs.reduce(0, +) / Double(xs.count)
    guard xs.count > 1 else { return (m, 0) }
    return (m, (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)).squareRoot())
}

import Core
import Foundation
import Text

/// `crosstune compare`: CrossTune, its ablations and the baselines on the black-box features,
/// and the white-box upper bound with any adapter-library method, all on the same K-shot
/// splits and seeds, scored by test accuracy (macro-F1 as a further column). The app's own
/// methods run as `CrossTuneExperiment` runs them (`--epochs` trains the CrossTune network,
/// `--lora-epochs` the white-box encoder); an adapter method (`lora`, `dora`, `randlora`, …)
/// fine-tunes the encoder of `--model` with that adapter (`WhiteBoxLoRAOptions.adapterOverride`)
/// plus the same linear head, keeping the epoch with the best dev accuracy.
final class CrossTuneCompareTask: CompareTask {
    let experiment: CrossTuneExperiment
    let whiteBoxModel: String?
    /// Scalars of the encoder when it is in hand (local endpoint): the denominator of the share.
    let encoderParameters: Int?
    /// Runs made to count a native method's parameters, reused by the seed they ran with.
    private var cached: [String: FewShotRun] = [:]
    /// Every native run, in order (for `results.json`, the per-run file `crosstune` writes).
    private(set) var runs: [FewShotRun] = []
    /// The seed native parameter counts run with (the comparison's first seed).
    let countsSeed: UInt64

    init(experiment: CrossTuneExperiment, whiteBoxModel: String?, encoderParameters: Int?, countsSeed: UInt64) {
        self.experiment = experiment
        self.countsSeed = countsSeed
        self.whiteBoxModel = whiteBoxModel
        self.encoderParameters = encoderParameters
    }

    var metricName: String { "test accuracy" }
    var extraMetricNames: [String] { ["macro-F1"] }
    var stepsName: String { "epochs" }
    var targets: [String] { experiment.whiteBoxOptions.targets }
    var nativeMethods: [String] { FewShotMethod.allCases.map(\.rawValue) }
    /// Every method of the paper's table (the white-box bound only when the encoder is in hand).
    var defaultMethods: [String] {
        FewShotMethod.allCases.map(\.rawValue).filter { $0 != FewShotMethod.loraFineTune.rawValue || whiteBoxModel != nil }
    }

    static func method(_ name: String) throws -> FewShotMethod {
        guard let m = FewShotMethod(rawValue: name) else { throw ArgumentError.badValue("methods", name, expected: "a crosstune method") }
        return m
    }

    func nativeRun(_ name: String, seed: UInt64, epochs: Int) throws -> FewShotRun {
        if let r = cached[name], r.seed == seed { return r }
        experiment.options.epochs = epochs
        guard let r = try experiment.run(seed: seed, methods: [try Self.method(name)]).first else {
            throw ArgumentError.badValue("methods", name, expected: "a method that produces a result")
        }
        cached[name] = r
        return r
    }

    func nativeParameterCounts(_ method: String) throws -> (trainable: Int, total: Int) {
        let r = try nativeRun(method, seed: countsSeed, epochs: experiment.options.epochs)
        return (r.trainableParameters, r.trainableParameters + (encoderParameters ?? 0))
    }

    func runNative(_ method: String, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        let start = Date()
        let r = try nativeRun(method, seed: seed, epochs: steps)
        cached[method] = nil
        runs.append(r)
        return CompareRun(metric: r.scores.accuracy, trainSeconds: Date().timeIntervalSince(start), mergedInferenceSeconds: nil,
                          extras: [r.scores.macroF1])
    }

    func classifier(_ config: AdapterConfig, seed: UInt64) throws -> WhiteBoxLoRAClassifier {
        guard let folder = whiteBoxModel else {
            throw ArgumentError.badValue("methods", config.method.rawValue, expected: "--model DIR (adapter methods fine-tune the encoder itself)")
        }
        var o = experiment.whiteBoxOptions
        o.seed = seed
        o.adapterOverride = config
        return try WhiteBoxLoRAClassifier(folder: folder, classes: experiment.labels.count, options: o)
    }

    func parameterCounts(_ config: AdapterConfig) throws -> (trainable: Int, total: Int) {
        let c = try classifier(config, seed: 0)
        return (c.trainableCount, c.model.parameterCounts().total + c.head.weight.count + (c.head.bias?.count ?? 0))
    }

    /// The white-box run of `CrossTuneExperiment` with `config` as the adapter, then the test
    /// set predicted once more with the adapter merged.
    func run(_ config: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        let split = try FewShotSplit(pool: experiment.pool, shots: experiment.shots, seed: seed, labels: experiment.labels)
        func ids(_ xs: [LabelledText]) -> [Int] { xs.map { experiment.labels.firstIndex(of: $0.label) ?? -1 } }
        let c = try classifier(config, seed: seed)
        let start = Date()
        try c.fit(train: split.train.map(\.text), trainLabels: ids(split.train), dev: split.dev.map(\.text), devLabels: ids(split.dev), log: log)
        let trainSeconds = Date().timeIntervalSince(start)
        let mergeable = AdapterOverride.isMergeable(c.peft)
        if mergeable { try c.peft.merge() }
        let evalStart = Date()
        let predictions = try c.predict(experiment.test.map(\.text))
        let evalSeconds = Date().timeIntervalSince(evalStart)
        let scores = ClassificationScores(predictions: predictions, targets: ids(experiment.test), classes: experiment.labels.count)
        return CompareRun(metric: scores.accuracy, trainSeconds: trainSeconds, mergedInferenceSeconds: mergeable ? evalSeconds : nil,
                          extras: [scores.macroF1])
    }
}

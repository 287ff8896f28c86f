import Audio
import Core
import Foundation

/// `audio-adapt compare`: PETL-AST's methods and the adapter library's on the same clips,
/// folds, seeds and epochs, scored by test accuracy (mean over the folds of a run when
/// `--fold all`; mean ± std over seeds in the table). PETL-AST's own methods (`linear`, `lora`
/// with the reduction-rate convention, `adapter`, `conformer-adapter`, …) run as `train` runs
/// them; adapter-library methods (`dora`, the zoo) replace the LoRA pairs on the attention
/// projections of `--lora-targets` through `PETLConfig.adapterOverride`, with the same final
/// LayerNorm and head.
final class AudioCompareTask: CompareTask {
    let splits: [LoadedSplit]
    let labels: [String]
    let base: PETLConfig
    let options: AudioTrainOptions
    let makeBackbone: () throws -> any PETLBackbone

    init(splits: [LoadedSplit], labels: [String], base: PETLConfig, options: AudioTrainOptions, backbone: @escaping () throws -> any PETLBackbone) {
        self.splits = splits
        self.labels = labels
        self.base = base
        self.options = options
        makeBackbone = backbone
    }

    var metricName: String { "test accuracy" }
    var stepsName: String { "epochs" }
    var targets: [String] { base.loraTargets }
    var nativeMethods: [String] { PETLMethod.allCases.map(\.rawValue) }
    /// Linear probing, the paper's best adapter, PETL-AST's LoRA and BitFit, and three
    /// adapter-library methods that act on the same attention projections.
    var defaultMethods: [String] { ["linear", "bitfit", "lora", "conformer-adapter", "dora", "lokr", "randlora"] }

    func config(native: String?, override: AdapterConfig?, seed: UInt64) throws -> PETLConfig {
        var c = base
        c.method = try native.map { name in
            guard let m = PETLMethod(rawValue: name) else { throw ArgumentError.badValue("methods", name, expected: "a PETL method") }
            return m
        } ?? .lora
        c.seed = seed
        c.adapterOverride = override.map(AdapterOverride.init)
        return c
    }

    func counts(_ c: PETLConfig) throws -> (trainable: Int, total: Int) {
        let model = try PETLClassifier(backbone: try makeBackbone(), labels: labels, config: c)
        return (model.trainableCount, model.backboneParameterCount)
    }

    func parameterCounts(_ config: AdapterConfig) throws -> (trainable: Int, total: Int) {
        try counts(try self.config(native: nil, override: config, seed: 0))
    }

    func nativeParameterCounts(_ method: String) throws -> (trainable: Int, total: Int) {
        try counts(try config(native: method, override: nil, seed: 0))
    }

    func run(_ config: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        try train(try self.config(native: nil, override: config, seed: seed), seed: seed, epochs: steps, log: log)
    }

    func runNative(_ method: String, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        try train(try config(native: method, override: nil, seed: seed), seed: seed, epochs: steps, log: log)
    }

    /// One run: every fold trained from a fresh backbone, merged where the method folds into
    /// the weights, scored on the fold's test clips.
    func train(_ c: PETLConfig, seed: UInt64, epochs: Int, log: (String) -> Void) throws -> CompareRun {
        var o = options
        o.seed = seed
        o.epochs = epochs
        var accuracies: [Double] = [], trainSeconds = 0.0, evalSeconds = 0.0
        var mergeable = true
        for split in splits {
            let model = try PETLClassifier(backbone: try makeBackbone(), labels: labels, config: c)
            let report = try AudioClassificationTask.train(model, train: split.train, validation: split.validation, options: o) { log("  " + $0) }
            trainSeconds += report.trainSeconds
            mergeable = try Self.merge(model)
            let start = Date()
            accuracies.append(try AudioClassificationTask.evaluate(model, clips: split.test, batchSize: o.batchSize).accuracy)
            evalSeconds += Date().timeIntervalSince(start)
        }
        return CompareRun(metric: accuracies.reduce(0, +) / Double(accuracies.count), trainSeconds: trainSeconds,
                          mergedInferenceSeconds: mergeable ? evalSeconds : nil)
    }

    /// Folds what can be folded (LoRA pairs, mergeable overrides); methods that only change
    /// weights (linear, bitfit, full) cost nothing extra anyway. False for prompts, prefixes,
    /// bottleneck adapters and non-mergeable overrides.
    static func merge(_ model: PETLClassifier) throws -> Bool {
        if let peft = model.peft {
            guard AdapterOverride.isMergeable(peft) else { return false }
            try peft.merge()
            return true
        }
        switch model.config.method {
        case .linear, .full, .bitfit: return true
        case .lora:
            for case let lin as Linear in model.backbone.namedModules().map(\.1) where !lin.adapters.isEmpty {
                for a in lin.adapters { lin.merge(name: a.name) }
            }
            return true
        case .prompt, .prefix, .adapter, .conformerAdapter: return false
        }
    }
}

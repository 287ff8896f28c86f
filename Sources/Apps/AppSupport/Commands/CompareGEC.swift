import Core
import Foundation
import Text
import Vision

/// `gec-cl compare`: continual-learning methods and adapter methods through the same domain
/// order, seeds and epochs. The metric is AP (mean F0.5 over the domains after the last one),
/// with BWT and FWT as further columns. The app's own methods (`seq-lora`, `replay`, `ogd`, …)
/// run as `gec-cl run` runs them; an adapter-library method (`dora`, `randlora`, `lokr`, …) runs
/// the `--method` strategy (default seq-lora) with that adapter on the encoder
/// (`GECModelOptions.adapterOverride`). Each run's results, heat map and adapter are written
/// under `--out/<method>[/seed-N]` as before; the shared table, plot and recommendation go to
/// `--out/compare.{md,json,png}`.
final class GECCompareTask: CompareTask {
    let base: GECContinualOptions
    let domains: [GECDomainData.Domain]
    let modelFolder: String
    let out: URL
    let multipleSeeds: Bool
    let log: (String) -> Void

    init(base: GECContinualOptions, domains: [GECDomainData.Domain], modelFolder: String, out: URL, multipleSeeds: Bool,
         log: @escaping (String) -> Void) {
        self.base = base
        self.domains = domains
        self.modelFolder = modelFolder
        self.out = out
        self.multipleSeeds = multipleSeeds
        self.log = log
    }

    var metricName: String { "AP (F0.5)" }
    var extraMetricNames: [String] { ["BWT", "FWT"] }
    var stepsName: String { "epochs" }
    var targets: [String] { base.model.targets }
    var nativeMethods: [String] { GECContinualMethod.allCases.map(\.rawValue) }
    var defaultMethods: [String] { ["seq-lora", "replay", "ogd"] }

    func options(native: String?, override: AdapterConfig?, seed: UInt64, epochs: Int) throws -> GECContinualOptions {
        var o = base
        if let native { o.method = try GECCLCommand.method(native) }
        o.seed = seed
        o.model.seed = seed
        o.epochs = epochs
        o.model.adapterOverride = override
        return o
    }

    /// A tagger as the runner builds it (same tag vocabulary), counted without training.
    func counts(_ o: GECContinualOptions) throws -> (trainable: Int, total: Int) {
        let pairs = domains.flatMap { d in (o.maxTrain.map { Array(d.train.prefix($0)) } ?? d.train).flatMap { e in
            e.references.map { (source: e.sourceTokens, target: GECTokens.split($0)) } } }
        let vocab = GECTagVocabulary.build(pairs: pairs, maxTags: o.maxTags)
        let tagger = try GECTagger(modelFolder: modelFolder, vocabulary: vocab, options: o.resolvedModel,
                                   encoderAdapter: o.method == .olora ? "task0" : "default")
        return (tagger.trainableParameters().reduce(0) { $0 + $1.1.count }, tagger.model.parameterCounts().total)
    }

    func parameterCounts(_ config: AdapterConfig) throws -> (trainable: Int, total: Int) {
        try counts(try options(native: nil, override: config, seed: base.seed, epochs: 1))
    }

    func nativeParameterCounts(_ method: String) throws -> (trainable: Int, total: Int) {
        try counts(try options(native: method, override: nil, seed: base.seed, epochs: 1))
    }

    func run(_ config: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        let method = PeftMethod.zooNames.first { $0.method == config.method }?.name ?? (config.useDoRA ? "dora" : "lora")
        let name = "\(method)-\(base.method.rawValue)"
        return try train(try options(native: nil, override: config, seed: seed, epochs: steps), folder: name)
    }

    func runNative(_ method: String, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        try train(try options(native: method, override: nil, seed: seed, epochs: steps), folder: method)
    }

    /// One continual run, its files written as `gec-cl run` writes them; then the last domain's
    /// test set corrected once more with the encoder adapters merged (the inference-cost column).
    func train(_ o: GECContinualOptions, folder: String) throws -> CompareRun {
        var dir = out.appendingPathComponent(folder)
        if multipleSeeds { dir = dir.appendingPathComponent("seed-\(o.seed)") }
        let runner = GECContinualRunner(options: o, log: log)
        let r = try runner.run(modelFolder: modelFolder, domains: domains)
        try r.write(to: dir)
        try HeatMap.write(r.matrix, to: dir.appendingPathComponent("heatmap.png"))
        if let tagger = runner.tagger { try GECCLCommand.saveAdapter(tagger, to: dir.appendingPathComponent("adapter")) }
        print("wrote \(dir.path)/{results.json, matrix.txt, heatmap.png, adapter/}")
        var merged: Double?
        if let tagger = runner.tagger, let last = domains.last,
           tagger.encoderAdapters.allSatisfy({ name in tagger.peft.adapters(named: name).allSatisfy { $0.adapter.isMergeable } }) {
            try tagger.peft.merge(tagger.encoderAdapters)
            let start = Date()
            _ = try tagger.evaluate(o.maxTest.map { Array(last.test.prefix($0)) } ?? last.test, options: o.correction)
            merged = Date().timeIntervalSince(start)
        }
        return CompareRun(metric: r.averagePerformance, trainSeconds: r.trainSeconds, mergedInferenceSeconds: merged,
                          extras: [r.backwardTransfer ?? .nan, r.forwardTransfer ?? .nan])
    }
}

import Core
import Foundation

/// The cross-family generalisation experiment (GenD's cross-benchmark question on the synthetic
/// data): train each method on some manipulation families of the training identities, then
/// score the held-out identities' reals against *every* family — the unseen families are the
/// "other benchmarks". One row per method: per-family AUROC, the macro AUROC over unseen
/// families (the headline), over seen ones, and the trainable-parameter count.
public enum GenDExperiment {
    public struct Row: Codable, Sendable {
        public var method: String
        public var trainable: Int
        public var trainablePercent: Double
        public var trainSeconds: Double
        /// The learning rate this method trained with (nil in results written before it was recorded).
        public var learningRate: Double?
        public var report: DeepfakeReport
        public var unseenMacroAUROC: Double?
        public var seenMacroAUROC: Double?
    }

    public struct Result: Codable, Sendable {
        public var dataset = "synthetic face manipulations of real photos"
        public var trainFamilies: [String]
        public var unseenFamilies: [String]
        public var options: GenDOptions
        public var rows: [Row]
    }

    /// Runs every method in `methods`. `train` / `test` are the two splits; `trainFamilies` the
    /// fakes used for training. `backbone` makes a fresh backbone per method (tuning changes it).
    /// Each trained detector is saved under `out/<method>` when `out` is given. `learningRates`
    /// overrides `options.learningRate` per method (full fine-tuning moves every weight and
    /// needs a far smaller rate than LayerNorm or head tuning).
    public static func run(train: DeepfakeData, test: DeepfakeData, trainFamilies: [String], methods: [GenDMethod],
                           options: GenDOptions, learningRates: [GenDMethod: Double] = [:], groupBy: String?, out: URL?,
                           backbone: () throws -> VisionBackbone, log: (String) -> Void) throws -> Result {
        let trainData = try train.keeping(families: trainFamilies)
        let reals = try GenDTrainer.decode(trainData.reals)
        let fakes = try GenDTrainer.decode(trainData.fakes)
        let testImages = try GenDTrainer.decode(test.samples)
        let unseen = test.families.filter { !trainFamilies.contains($0) }
        var rows: [Row] = []
        for method in methods {
            var o = options
            o.method = method
            o.learningRate = learningRates[method] ?? options.learningRate
            try o.validate()
            log("== \(method.rawValue) (lr \(o.learningRate), seed \(o.seed)): training on \(reals.count) real + \(fakes.count) fake (\(trainFamilies.joined(separator: ", ")))")
            let model = try GenDModel.create(backbone: try backbone(), options: o)
            let summary = try GenDTrainer.train(model, reals: reals, fakes: fakes, log: log)
            if let out { try model.save(to: out.appendingPathComponent(method.rawValue), trainedFamilies: trainFamilies) }
            if method == .lora, let peft = model.peft { try peft.merge() }
            let scores = try GenDTrainer.scores(model, images: testImages)
            let report = try DeepfakeEvaluation.report(test.samples, scores: scores, groupBy: groupBy)
            func macro(_ fams: [String]) -> Double? {
                let v = fams.compactMap { report.perFamily[$0]?.auroc }
                return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
            }
            let row = Row(method: method.rawValue, trainable: summary.trainableParameters, trainablePercent: summary.trainablePercent,
                          trainSeconds: summary.seconds, learningRate: o.learningRate, report: report, unseenMacroAUROC: macro(unseen),
                          seenMacroAUROC: macro(test.families.filter { trainFamilies.contains($0) }))
            log(String(format: "   %@: unseen macro AUROC %@, seen %@", method.rawValue, fmt(row.unseenMacroAUROC), fmt(row.seenMacroAUROC)))
            rows.append(row)
        }
        return Result(trainFamilies: trainFamilies, unseenFamilies: unseen, options: options, rows: rows)
    }

    static func fmt(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "  -  " }

    /// The table: one row per method, AUROC per test family (unseen ones marked *), macros.
    public static func table(_ r: Result) -> String {
        let families = (r.rows.first.map { Array($0.report.perFamily.keys) } ?? []).sorted()
        var s = "method  trainable (%)          " + families.map { ($0 + (r.unseenFamilies.contains($0) ? "*" : "")).padding(toLength: 13, withPad: " ", startingAt: 0) }.joined()
        s += "unseen-macro  seen-macro  all-fakes AP  EER\n"
        for row in r.rows {
            var line = row.method.padding(toLength: 8, withPad: " ", startingAt: 0)
            line += String(format: "%9d (%8.4f%%)  ", row.trainable, row.trainablePercent)
            for f in families { line += fmt(row.report.perFamily[f]?.auroc).padding(toLength: 13, withPad: " ", startingAt: 0) }
            line += fmt(row.unseenMacroAUROC).padding(toLength: 14, withPad: " ", startingAt: 0)
            line += fmt(row.seenMacroAUROC).padding(toLength: 12, withPad: " ", startingAt: 0)
            line += String(format: "%.3f         %@", row.report.allFakes.averagePrecision, fmt(row.report.allFakes.equalErrorRate))
            s += line + "\n"
        }
        s += "AUROC per test family (fake family vs the same held-out reals); * = family not seen in training.\n"
        s += "all-fakes AP counts every fake family against the reals, so its chance level is the fake share, not 0.5.\n"
        return s
    }
}

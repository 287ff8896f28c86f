import Core
import Foundation

/// What an app gives the shared `compare` command: how to count an adapter's trainable
/// parameters on its model and how to train + score one configuration with one seed.
///
/// ```swift
/// struct MyCompareTask: CompareTask { … }
/// // in the app's command dispatch:
/// case "compare": return try Compare.command(rest, task: MyCompareTask(…), app: "my-app")
/// ```
public protocol CompareTask {
    /// Held-out metric name, e.g. "dev entity F1".
    var metricName: String { get }
    /// Methods run when `--methods` is not given.
    var defaultMethods: [String] { get }
    /// Modules adapted by Linear-targeted methods (the app's usual targets).
    var targets: [String] { get }
    /// `(trainable, total)` parameters with `config` attached (no training).
    func parameterCounts(_ config: AdapterConfig) throws -> (trainable: Int, total: Int)
    /// Trains `config` for `steps` optimiser steps with `seed` and scores the held-out split.
    func run(_ config: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun
}

/// One training run's outcome.
public struct CompareRun: Sendable {
    public var metric: Double
    public var trainSeconds: Double
    /// Seconds of the held-out pass with the adapter merged (nil: not mergeable, run unmerged).
    public var mergedInferenceSeconds: Double?
    public init(metric: Double, trainSeconds: Double, mergedInferenceSeconds: Double?) {
        self.metric = metric
        self.trainSeconds = trainSeconds
        self.mergedInferenceSeconds = mergedInferenceSeconds
    }
}

/// Settings shared by every app's `compare`.
public struct CompareOptions: Sendable {
    public var methods: [String]
    public var seeds: [UInt64] = [1, 2, 3]
    public var steps = 100
    public var rank = 8
    /// Trainable-parameter budget: each method gets the largest size that fits (nil: `rank`).
    public var parameterBudget: Int?
    public var out = "runs/compare"

    public init(methods: [String]) { self.methods = methods }

    /// The options `compare` accepts.
    public static let names: Set<String> = ["methods", "seeds", "steps", "r", "budget", "out"]

    /// Parses `--methods a,b --seeds 1,2,3 --steps N --r N --budget N --out DIR`.
    public static func parse(_ p: Arguments, defaultMethods: [String]) throws -> CompareOptions {
        var o = CompareOptions(methods: p.list("methods", default: defaultMethods).map { $0.lowercased() })
        if let s = p.string("seeds") {
            o.seeds = try s.split(separator: ",").map { part in
                guard let v = UInt64(part.trimmingCharacters(in: .whitespaces)) else { throw ArgumentError.badValue("seeds", s, expected: "comma-separated integers") }
                return v
            }
        }
        o.steps = try p.int("steps", default: o.steps)
        o.rank = try p.int("r", default: o.rank)
        if p.string("budget") != nil { o.parameterBudget = try p.int("budget", default: 0) }
        o.out = p.string("out", default: o.out)
        guard !o.methods.isEmpty, !o.seeds.isEmpty, o.steps > 0, o.rank > 0, (o.parameterBudget ?? 1) > 0 else {
            throw ArgumentError.badValue("compare", "--methods/--seeds/--steps/--r/--budget", expected: "non-empty lists and positive numbers")
        }
        return o
    }
}

/// The shared `compare`: same data, split, seeds and step budget for every method; a table
/// (Markdown + JSON) and a recommendation computed from it.
public enum Compare {
    /// Methods `compare` knows: LoRA, DoRA and the zoo.
    public static var knownMethods: [String] { ["lora", "dora"] + PeftMethod.zooNames.map(\.name) }

    /// The config of `method` at size `size` (rank; coefficient count for LoCA / QWHA).
    public static func config(_ method: String, size: Int, targets: [String], seed: UInt64) throws -> AdapterConfig {
        var c: AdapterConfig
        switch method {
        case "lora", "dora":
            c = AdapterConfig.lora(r: size, alpha: 2 * Float(size), targets: targets)
            c.useDoRA = method == "dora"
        default:
            guard PeftMethod.zooNames.contains(where: { $0.name == method }) else {
                throw ArgumentError.badValue("methods", method, expected: "one of \(knownMethods.joined(separator: ", "))")
            }
            c = try AdapterConfig.zoo(method, r: size, targets: targets)
            if c.method == .loCA || c.method == .walshHadamard { c.r = 1; c.zoo.nFrequency = size }
            if c.method == .triAdaptLoRA { c.zoo.triInitRank = Swift.max(1, size / 4) }
        }
        c.seed = seed
        return c
    }

    /// Sizes tried when fitting a budget, smallest first.
    static func sizes(_ method: String) -> [Int] {
        method == "loca" || method == "qwha" ? (6...16).map { 1 << $0 } : [1, 2, 4, 8, 16, 32, 64, 128]
    }

    /// The largest size of `method` whose trainable count fits `budget`, or nil (with the smallest count).
    static func fit(_ method: String, budget: Int, task: CompareTask) throws -> (size: Int?, smallest: Int) {
        var best: Int?, smallest = Int.max
        for s in sizes(method) {
            guard let n = try? task.parameterCounts(try config(method, size: s, targets: task.targets, seed: 0)).trainable else { continue }
            smallest = Swift.min(smallest, n)
            if n <= budget { best = s } else { break }
        }
        return (best, smallest)
    }

    /// Runs every method over every seed; `log` receives progress (stderr in the apps).
    public static func run(_ task: CompareTask, _ o: CompareOptions, log: (String) -> Void) throws -> CompareReport {
        for m in o.methods where !knownMethods.contains(m) {
            throw ArgumentError.badValue("methods", m, expected: "one of \(knownMethods.joined(separator: ", "))")
        }
        var rows: [CompareReport.Row] = [], notes: [String] = []
        for m in o.methods {
            var size = o.rank
            if let budget = o.parameterBudget {
                let (fit, smallest) = try fit(m, budget: budget, task: task)
                guard let f = fit else {
                    notes.append("\(m): skipped — its smallest configuration trains \(smallest == Int.max ? "?" : String(smallest)) parameters, above the budget of \(budget)")
                    continue
                }
                size = f
            }
            let probe = try config(m, size: size, targets: task.targets, seed: o.seeds[0])
            let counts: (trainable: Int, total: Int)
            do { counts = try task.parameterCounts(probe) } catch {
                notes.append("\(m): skipped — \(error)")
                continue
            }
            var runs: [CompareRun] = []
            for seed in o.seeds {
                log("compare: \(m) (size \(size), \(counts.trainable) trainable) seed \(seed), \(o.steps) steps")
                runs.append(try task.run(try config(m, size: size, targets: task.targets, seed: seed), seed: seed, steps: o.steps, log: log))
                log(String(format: "compare: %@ seed %llu: %@ %.4f (%.1f s)", m, seed, task.metricName, runs.last!.metric, runs.last!.trainSeconds))
            }
            let metrics = runs.map(\.metric)
            let merged = runs.compactMap(\.mergedInferenceSeconds)
            rows.append(.init(method: m, size: size, trainable: counts.trainable, total: counts.total, mean: mean(metrics), std: std(metrics),
                              trainSeconds: mean(runs.map(\.trainSeconds)), peakRSSMiB: NERBench.peakRSSMiB(),
                              mergedInferenceSeconds: merged.isEmpty ? nil : mean(merged)))
        }
        return CompareReport(metricName: task.metricName, seeds: o.seeds, steps: o.steps, budget: o.parameterBudget, rows: rows, notes: notes)
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
    static func std(_ v: [Double]) -> Double {
        guard v.count > 1 else { return 0 }
        let m = mean(v)
        return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
    }

    /// `<app> compare [options]`: parses, runs, writes `compare.md` and `compare.json` into
    /// `--out`, prints the table and the recommendation.
    public static func command(_ args: [String], task: CompareTask, app: String, extraOptions: Set<String> = []) throws -> Int32 {
        let p = try Arguments(args, options: CompareOptions.names.union(extraOptions), flags: [])
        if let extra = p.positional.first { throw ArgumentError.badValue("compare", extra, expected: "options written --name value") }
        let o = try CompareOptions.parse(p, defaultMethods: task.defaultMethods)
        let report = try run(task, o) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let dir = URL(fileURLWithPath: o.out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try AtomicFile.write(Data(report.markdown(title: "\(app) compare").utf8), to: dir.appendingPathComponent("compare.md"))
        try AtomicFile.write(try report.json(), to: dir.appendingPathComponent("compare.json"))
        try report.writePlot(to: dir.appendingPathComponent("compare.png"))
        print(report.markdown(title: "\(app) compare"))
        print("wrote \(dir.appendingPathComponent("compare.md").path), compare.json and compare.png")
        return 0
    }
}

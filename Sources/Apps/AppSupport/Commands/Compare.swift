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

    /// The app's own methods (not adapter-library configs, e.g. a linear probe or a
    /// continual-learning strategy), run by `runNative`. A name listed here wins over an
    /// adapter method of the same name. Default: none.
    var nativeMethods: [String] { get }
    /// Further per-run metrics shown as columns after the main one (mean ± std), in the order
    /// of `CompareRun.extras`. Default: none.
    var extraMetricNames: [String] { get }
    /// What `steps` counts in this app ("steps", "epochs"). Default "steps".
    var stepsName: String { get }
    /// `(trainable, total)` of a native method.
    func nativeParameterCounts(_ method: String) throws -> (trainable: Int, total: Int)
    /// Trains and scores a native method.
    func runNative(_ method: String, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun
}

extension CompareTask {
    public var nativeMethods: [String] { [] }
    public var extraMetricNames: [String] { [] }
    public var stepsName: String { "steps" }
    public func nativeParameterCounts(_ method: String) throws -> (trainable: Int, total: Int) {
        throw ArgumentError.badValue("methods", method, expected: "an adapter method")
    }
    public func runNative(_ method: String, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        throw ArgumentError.badValue("methods", method, expected: "an adapter method")
    }
    /// Every method name this task accepts: its native ones, then the adapter library's.
    public var knownMethods: [String] { nativeMethods + Compare.knownMethods.filter { !nativeMethods.contains($0) } }
}

/// One training run's outcome.
public struct CompareRun: Sendable {
    public var metric: Double
    public var trainSeconds: Double
    /// Seconds of the held-out pass with the adapter merged (nil: not mergeable, run unmerged).
    public var mergedInferenceSeconds: Double?
    /// Values of the task's `extraMetricNames`, in that order.
    public var extras: [Double]
    public init(metric: Double, trainSeconds: Double, mergedInferenceSeconds: Double?, extras: [Double] = []) {
        self.metric = metric
        self.trainSeconds = trainSeconds
        self.mergedInferenceSeconds = mergedInferenceSeconds
        self.extras = extras
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
    /// Wall-clock budget in minutes for the whole comparison: each method gets an equal share
    /// and the largest size whose predicted time fits it (see `CompareBudget`).
    public var minutesBudget: Double?
    public var out = "runs/compare"

    public init(methods: [String]) { self.methods = methods }

    /// The options `compare` accepts.
    public static let names: Set<String> = ["methods", "seeds", "steps", "r", "budget", "out"]

    /// Parses `--methods a,b --seeds 1,2,3 --steps N --r N --budget N|Nmin --out DIR`.
    /// `stepsKey` lets an app keep its own name for the training length (`epochs`);
    /// `defaults` supplies the app's own defaults for seeds, steps and out.
    public static func parse(_ p: Arguments, defaultMethods: [String], stepsKey: String = "steps",
                             defaults: CompareOptions? = nil) throws -> CompareOptions {
        var o = defaults ?? CompareOptions(methods: [])
        o.methods = p.list("methods", default: defaultMethods).map { $0.lowercased() }
        if let s = p.string("seeds") {
            o.seeds = try s.split(separator: ",").map { part in
                guard let v = UInt64(part.trimmingCharacters(in: .whitespaces)) else { throw ArgumentError.badValue("seeds", s, expected: "comma-separated integers") }
                return v
            }
        }
        o.steps = try p.int(stepsKey, default: o.steps)
        o.rank = try p.int("r", default: o.rank)
        if let b = p.string("budget") { try o.setBudget(b) }
        o.out = p.string("out", default: o.out)
        guard !o.methods.isEmpty, !o.seeds.isEmpty, o.steps > 0, o.rank > 0 else {
            throw ArgumentError.badValue("compare", "--methods/--seeds/--\(stepsKey)/--r", expected: "non-empty lists and positive numbers")
        }
        return o
    }

    /// `--budget 20000` (trainable parameters) or `--budget 10min` / `10m` (minutes, decimals allowed).
    public mutating func setBudget(_ text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        for suffix in ["minutes", "min", "m"] where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v.isFinite, v > 0 else {
                throw ArgumentError.badValue("budget", text, expected: "a positive number of trainable parameters, or minutes written like 10min")
            }
            minutesBudget = v
            parameterBudget = nil
            return
        }
        guard let v = Int(t), v > 0 else {
            throw ArgumentError.badValue("budget", text, expected: "a positive number of trainable parameters, or minutes written like 10min")
        }
        parameterBudget = v
        minutesBudget = nil
    }
}

/// The shared `compare`: same data, split, seeds and step budget for every method; a table
/// (Markdown + JSON + PNG) and a recommendation computed from it.
public enum Compare {
    /// Adapter-library methods `compare` knows: LoRA, DoRA and the zoo.
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

    /// Trainable count of `method` at `size`, or nil when that size does not fit the model.
    static func trainable(_ method: String, size: Int, task: CompareTask) -> Int? {
        guard let c = try? config(method, size: size, targets: task.targets, seed: 0) else { return nil }
        return try? task.parameterCounts(c).trainable
    }

    /// The largest size of `method` whose trainable count fits `budget`, or nil (with the smallest count).
    static func fit(_ method: String, budget: Int, task: CompareTask) throws -> (size: Int?, smallest: Int) {
        var best: Int?, smallest = Int.max
        for s in sizes(method) {
            guard let n = trainable(method, size: s, task: task) else { continue }
            smallest = Swift.min(smallest, n)
            if n <= budget { best = s } else { break }
        }
        return (best, smallest)
    }

    /// One method's runs over every seed (size 0 for native methods).
    static func runMethod(_ m: String, size: Int, native: Bool, task: CompareTask, _ o: CompareOptions,
                          log: (String) -> Void) throws -> CompareReport.Row {
        let counts = native ? try task.nativeParameterCounts(m)
            : try task.parameterCounts(try config(m, size: size, targets: task.targets, seed: o.seeds[0]))
        var runs: [CompareRun] = []
        for seed in o.seeds {
            log("compare: \(m)\(native ? "" : " (size \(size))"), \(counts.trainable) trainable, seed \(seed), \(o.steps) \(task.stepsName)")
            let run = native ? try task.runNative(m, seed: seed, steps: o.steps, log: log)
                : try task.run(try config(m, size: size, targets: task.targets, seed: seed), seed: seed, steps: o.steps, log: log)
            guard run.extras.count == task.extraMetricNames.count else {
                throw ArgumentError.badValue("compare", m, expected: "\(task.extraMetricNames.count) extra metrics per run, got \(run.extras.count)")
            }
            runs.append(run)
            log(String(format: "compare: %@ seed %llu: %@ %.4f (%.1f s)", m, seed, task.metricName, run.metric, run.trainSeconds))
        }
        let merged = runs.compactMap(\.mergedInferenceSeconds)
        let extras = task.extraMetricNames.indices.map { i in runs.map { $0.extras[i] }.filter(\.isFinite) }
        return .init(method: m, size: size, trainable: counts.trainable, total: counts.total, mean: mean(runs.map(\.metric)),
                     std: std(runs.map(\.metric)), trainSeconds: mean(runs.map(\.trainSeconds)), peakRSSMiB: NERBench.peakRSSMiB(),
                     mergedInferenceSeconds: merged.isEmpty ? nil : mean(merged),
                     extraMeans: extras.map(mean), extraStds: extras.map(std))
    }

    /// Runs every method over every seed; `log` receives progress (stderr in the apps).
    public static func run(_ task: CompareTask, _ o: CompareOptions, log: (String) -> Void) throws -> CompareReport {
        let known = task.knownMethods
        for m in o.methods where !known.contains(m) {
            throw ArgumentError.badValue("methods", m, expected: "one of \(known.joined(separator: ", "))")
        }
        var rows: [CompareReport.Row] = [], notes: [String] = []
        let plan = try o.minutesBudget.map { try CompareBudget.plan(task, o, minutes: $0, log: log) }
        notes += plan?.notes ?? []
        for m in o.methods {
            let native = task.nativeMethods.contains(m)
            var size = native ? 0 : o.rank
            if let plan {
                guard let s = plan.sizes[m] else { continue }  // skipped, noted by the plan
                size = s
            } else if let budget = o.parameterBudget {
                if native {
                    let n = try task.nativeParameterCounts(m).trainable
                    guard n <= budget else {
                        notes.append("\(m): skipped — it trains \(n) parameters, above the budget of \(budget)")
                        continue
                    }
                } else {
                    let (fit, smallest) = try fit(m, budget: budget, task: task)
                    guard let f = fit else {
                        notes.append("\(m): skipped — its smallest configuration trains \(smallest == Int.max ? "?" : String(smallest)) parameters, above the budget of \(budget)")
                        continue
                    }
                    size = f
                }
            }
            do {
                rows.append(try runMethod(m, size: size, native: native, task: task, o, log: log))
            } catch let e as AdapterError {
                // A method that cannot be built on this model (shapes, factors) is a note, not the end of the table.
                notes.append("\(m): skipped — \(e)")
            }
        }
        return CompareReport(metricName: task.metricName, seeds: o.seeds, steps: o.steps, budget: o.parameterBudget, rows: rows, notes: notes,
                             stepsName: task.stepsName, minutesBudget: o.minutesBudget, extraMetricNames: task.extraMetricNames)
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
    static func std(_ v: [Double]) -> Double {
        guard v.count > 1 else { return 0 }
        let m = mean(v)
        return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
    }

    /// Writes `compare.md`, `compare.json` and `compare.png` into `directory` (atomically).
    public static func write(_ report: CompareReport, title: String, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try AtomicFile.write(Data(report.markdown(title: title).utf8), to: directory.appendingPathComponent("compare.md"))
        try AtomicFile.write(try report.json(), to: directory.appendingPathComponent("compare.json"))
        try report.writePlot(to: directory.appendingPathComponent("compare.png"))
    }

    /// Runs `o` on `task`, writes the three files into `o.out`, prints the table and the
    /// recommendation; returns the report.
    @discardableResult
    public static func runAndWrite(_ task: CompareTask, _ o: CompareOptions, app: String) throws -> CompareReport {
        let report = try run(task, o) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let dir = URL(fileURLWithPath: o.out)
        try write(report, title: "\(app) compare", to: dir)
        print(report.markdown(title: "\(app) compare"))
        print("wrote \(dir.appendingPathComponent("compare.md").path), compare.json and compare.png")
        return report
    }

    /// `<app> compare [options]`: parses, runs, writes `compare.md`, `compare.json` and
    /// `compare.png` into `--out`, prints the table and the recommendation.
    public static func command(_ args: [String], task: CompareTask, app: String, extraOptions: Set<String> = []) throws -> Int32 {
        let p = try Arguments(args, options: CompareOptions.names.union(extraOptions), flags: [])
        if let extra = p.positional.first { throw ArgumentError.badValue("compare", extra, expected: "options written --name value") }
        try runAndWrite(task, try CompareOptions.parse(p, defaultMethods: task.defaultMethods), app: app)
        return 0
    }
}

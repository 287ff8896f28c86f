import Core
import Foundation
import Testing
@testable import AppSupport

/// A stand-in app whose training time is a known function of the adapter size, with one
/// native method and one extra metric: checks the minutes budget, native rows and extra columns
/// against hand-worked numbers.
struct TimedFakeTask: CompareTask {
    var metricName: String { "accuracy" }
    var defaultMethods: [String] { ["probe", "lora"] }
    var targets: [String] { ["q"] }
    var nativeMethods: [String] { ["probe"] }
    var extraMetricNames: [String] { ["BWT"] }
    var stepsName: String { "epochs" }
    /// LoRA trains 100·r parameters; a step costs 0.01 s + 1e-4 s per parameter.
    func parameterCounts(_ c: AdapterConfig) throws -> (trainable: Int, total: Int) { (100 * c.r, 100_000) }
    func nativeParameterCounts(_ method: String) throws -> (trainable: Int, total: Int) { (50, 100_000) }
    func run(_ c: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        CompareRun(metric: 0.7 + 0.01 * Double(c.r), trainSeconds: Double(steps) * (0.01 + 1e-4 * Double(100 * c.r)),
                   mergedInferenceSeconds: 0.1, extras: [-0.01 * Double(seed)])
    }
    func runNative(_ method: String, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        CompareRun(metric: 0.6, trainSeconds: Double(steps) * 0.2, mergedInferenceSeconds: nil, extras: [-0.02])
    }
}

@Suite("compare: native methods, extra metrics and the minutes budget")
struct CompareBudgetTests {
    @Test("native rows have no size, extra metrics become columns with mean ± std")
    func nativeAndExtras() throws {
        var o = CompareOptions(methods: ["probe", "lora"])
        o.seeds = [1, 3]
        o.steps = 10
        let r = try Compare.run(TimedFakeTask(), o) { _ in }
        #expect(r.rows.map(\.method) == ["probe", "lora"] && r.rows[0].size == 0 && r.rows[1].size == 8)
        // lora BWT over seeds 1, 3: −0.01, −0.03 → mean −0.02, sample std 0.01414….
        #expect(Swift.abs(r.rows[1].extraMeans[0] + 0.02) < 1e-12 && Swift.abs(r.rows[1].extraStds[0] - 0.02 / 2.0.squareRoot()) < 1e-12)
        let md = r.markdown(title: "t")
        #expect(md.contains("10 epochs per run") && md.contains("| accuracy (mean ± std) | BWT | train s |"))
        #expect(md.contains("| probe | — | 50 |") && md.contains("| -0.0200 ± 0.0000 |"))
        // probe: not mergeable is shown as a dash for native rows (nothing to merge), lora merged.
        #expect(md.contains("| lora | 8 | 800 | 0.800% | 0.7800 ± 0.0000 | -0.0200 ± 0.0141 |"))
        let json = try JSONSerialization.jsonObject(with: r.json()) as? [String: Any]
        #expect(json?["extra_metrics"] as? [String] == ["BWT"] && json?["steps_name"] as? String == "epochs")
    }

    @Test("--budget parses parameters and minutes; nonsense is a clear error")
    func budgetParsing() throws {
        var o = CompareOptions(methods: ["lora"])
        try o.setBudget("20000")
        #expect(o.parameterBudget == 20000 && o.minutesBudget == nil)
        try o.setBudget("1.5min")
        #expect(o.minutesBudget == 1.5 && o.parameterBudget == nil)
        try o.setBudget("2m")
        #expect(o.minutesBudget == 2)
        for bad in ["0", "-3", "fast", "0min", "xm"] {
            #expect(throws: ArgumentError.self, "\(bad)") { try o.setBudget(bad) }
        }
    }

    @Test("a minutes budget picks the largest size predicted to fit and skips what cannot")
    func minutesBudget() throws {
        // 2 methods × 1 seed, 1 minute → 30 s per run; 100 epochs.
        // lora: t(r) = 100·(0.01 + 0.01·r) s → r = 16: 17 s fits, r = 32: 33 s does not → r 16.
        // probe: 100·0.2 = 20 s fits.
        var o = CompareOptions(methods: ["probe", "lora"])
        o.seeds = [1]
        o.steps = 100
        o.minutesBudget = 1
        let r = try Compare.run(TimedFakeTask(), o) { _ in }
        #expect(r.rows.map(\.method) == ["probe", "lora"] && r.rows[1].size == 16)
        #expect(r.notes.contains { $0.hasPrefix("time budget: 30.0 s per run") })
        #expect(r.recommendation.contains("under the budget of 1 minutes") && !r.recommendation.contains("Skipped"))
        // 0.2 minutes → 6 s per run: lora r = 1 needs 100·0.02 = 2 s (r 4: 5 s fits, r 8: 9 s not) → r 4; probe 20 s → skipped.
        o.minutesBudget = 0.2
        let tight = try Compare.run(TimedFakeTask(), o) { _ in }
        #expect(tight.rows.map(\.method) == ["lora"] && tight.rows[0].size == 4)
        #expect(tight.notes.contains { $0.contains("probe: skipped") && $0.contains("20.0 s") })
        #expect(tight.recommendation.contains("Skipped: 1 method(s)"))
    }

    @Test("a method that cannot be built on the model is skipped with a note, the rest still run")
    func unbuildableSkipped() throws {
        struct Picky: CompareTask {
            var metricName: String { "m" }
            var defaultMethods: [String] { ["lora", "lokr"] }
            var targets: [String] { ["q"] }
            func parameterCounts(_ c: AdapterConfig) throws -> (trainable: Int, total: Int) {
                if c.method == .loKr { throw AdapterError.invalidSetting("'q': 7 has no Kronecker factorisation") }
                return (10, 100)
            }
            func run(_ c: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
                CompareRun(metric: 0.5, trainSeconds: 0, mergedInferenceSeconds: nil)
            }
        }
        var o = CompareOptions(methods: ["lora", "lokr"])
        o.seeds = [1]
        let r = try Compare.run(Picky(), o) { _ in }
        #expect(r.rows.map(\.method) == ["lora"] && r.notes.count == 1 && r.notes[0].contains("lokr: skipped") && r.notes[0].contains("Kronecker"))
    }
}

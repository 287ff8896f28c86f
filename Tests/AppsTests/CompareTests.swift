import Core
import Foundation
import Testing
@testable import AppSupport

/// A stand-in app with hand-set parameter counts and scores, so the table, the budget fit and
/// the recommendation can be checked against hand-worked numbers.
struct FakeCompareTask: CompareTask {
    var metricName: String { "accuracy" }
    var defaultMethods: [String] { ["lora", "dora", "lokr"] }
    var targets: [String] { ["q"] }
    func parameterCounts(_ c: AdapterConfig) throws -> (trainable: Int, total: Int) {
        switch c.method {
        case .loKr: return (30 * c.r, 10_000)
        default: return (100 * c.r + (c.useDoRA ? 50 : 0), 10_000)
        }
    }
    func run(_ c: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        let s = Double(seed)
        let metric: Double
        switch c.method {
        case .loKr: metric = 0.815
        default: metric = c.useDoRA ? [0.81, 0.84, 0.825][Int(seed) - 1] : 0.80 + 0.01 * s
        }
        return CompareRun(metric: metric, trainSeconds: 1, mergedInferenceSeconds: c.method == .loKr ? nil : 0.5)
    }
}

@Suite("compare: table, budget fit and recommendation")
struct CompareTests {
    @Test("means, standard deviations, Pareto front and the computed recommendation")
    func table() throws {
        let r = try Compare.run(FakeCompareTask(), CompareOptions(methods: ["lora", "dora", "lokr"])) { _ in }
        #expect(r.rows.map(\.method) == ["lora", "dora", "lokr"])
        // lora: 0.81, 0.82, 0.83 → mean 0.82, sample std 0.01; dora: 0.81, 0.84, 0.825 → 0.825 ± 0.015.
        #expect(Swift.abs(r.rows[0].mean - 0.82) < 1e-12 && Swift.abs(r.rows[0].std - 0.01) < 1e-12)
        #expect(Swift.abs(r.rows[1].mean - 0.825) < 1e-12 && Swift.abs(r.rows[1].std - 0.015) < 1e-12)
        // r = 8: lora 800, dora 850, lokr 240 parameters; each step up in parameters buys accuracy.
        #expect(r.rows.map(\.trainable) == [800, 850, 240])
        #expect(r.paretoFront == ["lokr", "lora", "dora"])
        // Best dora (0.825 ± 0.015); within one std (≥ 0.81): lora and lokr; cheapest lokr.
        #expect(r.recommendation.contains("dora with 0.8250 ± 0.0150") && r.recommendation.contains("cheapest within one standard deviation of it is lokr"))
        let md = r.markdown(title: "fake compare")
        #expect(md.contains("| lokr | 8 | 240 | 2.400% | 0.8150 ± 0.0000 |") && md.contains("not mergeable"))
        let json = try JSONSerialization.jsonObject(with: r.json()) as? [String: Any]
        #expect((json?["rows"] as? [[String: Any]])?.count == 3)
    }

    @Test("a parameter budget picks each method's largest fitting size and skips what cannot fit")
    func budget() throws {
        var o = CompareOptions(methods: ["lora", "dora", "lokr"])
        o.parameterBudget = 300
        let r = try Compare.run(FakeCompareTask(), o) { _ in }
        // lora 100·r ≤ 300 → r 2; dora 100·r + 50 → r 2; lokr 30·r → r 8.
        #expect(r.rows.map(\.size) == [2, 2, 8])
        o.parameterBudget = 50
        let tight = try Compare.run(FakeCompareTask(), o) { _ in }
        #expect(tight.rows.map(\.method) == ["lokr"] && tight.rows[0].size == 1)
        #expect(tight.notes.count == 2 && tight.notes[0].contains("lora: skipped") && tight.notes[0].contains("100"))
    }

    @Test("an unknown method name lists the known ones")
    func unknown() {
        do {
            _ = try Compare.run(FakeCompareTask(), CompareOptions(methods: ["lora", "superlora"])) { _ in }
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("superlora") && "\(error)".contains("randlora"))
        }
    }
}

@Suite("compare: plot")
struct ComparePlotTests {
    @Test("the plot marks each method at (log params, mean) in its colour")
    func plot() throws {
        let r = try Compare.run(FakeCompareTask(), CompareOptions(methods: ["lora", "dora", "lokr"])) { _ in }
        let img = r.plotImage(width: 640, height: 400)
        #expect(img.width == 640 && img.height == 400 && img.channels == 3)
        // lokr (240 params, the smallest) sits at the left edge of a 10^2…10^3 axis: x = 40 + log10(2.4)·560.
        let x = 40 + Int((log10(240.0) - 2) * 560)
        func colour(_ x: Int, _ y: Int) -> [UInt8] { let o = (y * 640 + x) * 3; return Array(img.pixels[o..<(o + 3)]) }
        let column = (40..<360).map { colour(x, $0) }
        #expect(column.contains([77, 175, 74]), "lokr's colour (third palette entry) in its column")
        #expect(r.markdown(title: "t").contains("lokr: rgb(77, 175, 74)"))
    }
}

import Foundation
import Testing
import Core
import TestSupport

/// TriAdaptLoRA's rank growth driven by the optimizer (`TriAdaptGrowth` via `OptimizerStepHooks`):
/// a plain training loop (`loss.backward(); opt.step(params)`) grows ranks on the schedule, the
/// output does not move at a growth instant, the grown ranks survive save → load, and a resumed
/// run continues the same schedule.
@Suite("TriAdaptLoRA growth during training")
struct TriAdaptGrowthTests {
    /// Two 8 → 8 layers `a`, `b`; the loss only reads `a`, so `b`'s increment stays exactly zero.
    final class Pair {
        let a: Linear, b: Linear, model: ModuleTreeLite, peft: PeftModel
        init(seed: UInt64 = 1, config: AdapterConfig? = nil) throws {
            var rng = SplitMix64(seed: seed)
            a = Linear(inFeatures: 8, outFeatures: 8, using: &rng)
            b = Linear(inFeatures: 8, outFeatures: 8, using: &rng)
            model = ModuleTreeLite([("a", a), ("b", b)])
            peft = PeftModel(model)
            if let config { try peft.addAdapter(config) }
        }
        var adapters: [TriAdaptLoRA] { peft.adapters(named: "default").map { $0.adapter as! TriAdaptLoRA } }
        var ranks: [Int] { adapters.map(\.activeRank) }
    }

    /// Budget 4, start at rank 1, decisions every 2 steps over a 6-step growth phase.
    static func config() throws -> AdapterConfig {
        var c = try AdapterConfig.zoo("triadaptlora", r: 4, targets: ["a", "b"])
        c.zoo.triInitRank = 1
        c.zoo.triGrowthSteps = 6
        c.zoo.triGrowthInterval = 2
        c.seed = 3
        return c
    }

    static let x = randomTensor([4, 8], seed: 11, requiresGrad: false)
    static let y = randomTensor([4, 8], seed: 12, requiresGrad: false)

    /// One training step of mean((a(x) − y)²).
    static func trainStep(_ m: Pair, _ opt: AdamW) {
        let params = m.peft.trainableParameters()
        let loss = (m.a(x) - y).square().mean()
        loss.backward()
        opt.step(params)
        opt.zeroGrad(params)
    }

    @Test("ranks grow on the schedule inside a plain loop; output unchanged and new-slot state zero at each growth")
    func scheduleAndGrowthInstant() throws {
        let m = try Pair(config: Self.config())
        let opt = AdamW(learningRate: 1e-2)
        // A value in a's inactive slot 1: growth must reset it to λ = 0 (else the output would jump).
        m.adapters[0].lambda.storage[1] = 5
        var history: [[Int]] = []
        for _ in 1...8 {
            let before = m.ranks
            Self.trainStep(m, opt)
            let after = m.ranks
            history.append(after)
            for (i, (layer, ad)) in zip([m.a, m.b], m.adapters).enumerated() where after[i] != before[i] {
                let j = after[i] - 1
                #expect(ad.lambda.storage[j] == 0, "new slot starts at λ = 0")
                let grown = withoutGrad { layer(Self.x) }.storage
                ad.activeRank = before[i]
                let old = withoutGrad { layer(Self.x) }.storage
                ad.activeRank = after[i]
                // Exact: the new slot adds (x·q_j)·0·p_j, exact zeros.
                #expect(grown == old, "layer \(i): output moved at the growth instant")
                // The new slot's AdamW moments are zero (P column j, λ[j], Q row j).
                let state = opt.stateDict()
                let names = m.peft.trainableParameters().filter { $0.1 === ad.p || $0.1 === ad.lambda || $0.1 === ad.q }
                for (name, t) in names {
                    guard let mom = state[name + ".exp_avg"]?.storage, let sq = state[name + ".exp_avg_sq"]?.storage else { continue }
                    let idx: [Int] = t === ad.p ? (0..<8).map { $0 * 4 + j } : t === ad.q ? Array((j * 8)..<((j + 1) * 8)) : [j]
                    #expect(idx.allSatisfy { mom[$0] == 0 && sq[$0] == 0 }, "\(name): moments of the new slot")
                }
            }
        }
        // Hand-derived: b's λ never gets a gradient, so its importance is 0 and a's ratio is 1.
        // Decisions at steps 2, 4, 6 with thresholds 1 − t/6 = 2/3, 1/3, 0: a grows at each
        // (1 → 4 = budget); b (ratio 0) only when the threshold reaches 0 at step 6. Steps 7, 8
        // lie past the growth phase.
        #expect(history.map { $0[0] } == [1, 2, 2, 3, 3, 4, 4, 4])
        #expect(history.map { $0[1] } == [1, 1, 1, 1, 1, 2, 2, 2])
        let growth = try #require(m.peft.triAdaptGrowth())
        #expect(growth.step == 8)
        #expect(growth.events.map(\.step) == [2, 4, 6])
        #expect(growth.events.map(\.grown) == [["a"], ["a"], ["a", "b"]])
        // In use: k(in + out + 1) per layer = 4·17 + 2·17.
        #expect(growth.activeParameterCount == 6 * 17)
    }

    @Test("growth is deterministic; save → load keeps the grown ranks, settings and outputs")
    func deterministicAndSaved() throws {
        func trained() throws -> Pair {
            let m = try Pair(config: Self.config())
            let opt = AdamW(learningRate: 1e-2)
            for _ in 1...8 { Self.trainStep(m, opt) }
            return m
        }
        let m1 = try trained(), m2 = try trained()
        #expect(m1.ranks == [4, 2] && m2.ranks == m1.ranks)
        for (p, q) in zip(m1.peft.trainableParameters(), m2.peft.trainableParameters()) {
            #expect(p.0 == q.0 && p.1.storage == q.1.storage, "\(p.0) differs between identical runs")
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try m1.peft.save(to: dir)
        let fresh = try Pair()
        try fresh.peft.load(from: dir)
        #expect(fresh.ranks == [4, 2])
        let cfg = try #require(fresh.peft.config("default"))
        #expect(cfg.zoo.triGrowthSteps == 6 && cfg.zoo.triGrowthInterval == 2 && cfg.zoo.triInitRank == 1)
        for (l1, l2) in [(m1.a, fresh.a), (m1.b, fresh.b)] {
            #expect(withoutGrad { l1(Self.x) }.storage == withoutGrad { l2(Self.x) }.storage)
        }
    }

    @Test("a resumed run (adapter file + AdamW state) continues the same growth schedule")
    func resumeContinuesSchedule() throws {
        let full = try Pair(config: Self.config())
        let optFull = AdamW(learningRate: 1e-2)
        for _ in 1...8 { Self.trainStep(full, optFull) }

        let first = try Pair(config: Self.config())
        let opt1 = AdamW(learningRate: 1e-2)
        for _ in 1...3 { Self.trainStep(first, opt1) }
        #expect(first.ranks == [2, 1])
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try first.peft.save(to: dir)
        let resumed = try Pair()
        try resumed.peft.load(from: dir, trainable: true)
        let opt2 = AdamW(learningRate: 1e-2)
        try opt2.loadStateDict(opt1.stateDict(), for: resumed.peft.trainableParameters())
        for _ in 4...8 { Self.trainStep(resumed, opt2) }
        // The coordinator takes the step from AdamW's restored count: decisions at 4 and 6 as in the full run.
        #expect(resumed.ranks == full.ranks)
        for (p, q) in zip(full.peft.trainableParameters(), resumed.peft.trainableParameters()) {
            #expect(p.0 == q.0 && p.1.storage == q.1.storage, "\(p.0) differs from the uninterrupted run")
        }
    }

    @Test("resetState zeroes only the named elements; adapters without growth register nothing")
    func resetStateAndNoHooks() throws {
        let w = Tensor([1, 2, 3], shape: [3])
        w.requiresGrad = true
        let opt = AdamW(learningRate: 0.1)
        w.accumulateGrad([0.5, -1, 2])
        opt.step([("w", w)])
        opt.resetState("w", elements: [1, 7])  // 7 is out of range: ignored
        let s = opt.stateDict()
        // After one step m = (1 − β₁)·g = 0.1·g, v = (1 − β₂)·g² = 0.001·g².
        #expect(s["w.exp_avg"]!.storage == [Float(0.1) * 0.5, 0, Float(0.1) * 2])
        #expect(s["w.exp_avg_sq"]!.storage[1] == 0 && s["w.exp_avg_sq"]!.storage[0] > 0)
        #expect(s["w.step"]!.item == 1)

        var lora = AdapterConfig.lora(r: 2, alpha: 4, targets: ["a", "b"])
        lora.seed = 1
        let m = try Pair(config: lora)
        #expect(m.peft.triAdaptGrowth() == nil)
    }
}

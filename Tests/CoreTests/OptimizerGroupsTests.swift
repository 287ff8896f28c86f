import Testing
@testable import Core

/// Parameter groups: stepping through `OptimizerGroups` must equal stepping two AdamWs by hand
/// (bit for bit), and saving/restoring its merged state must continue identically (the resume
/// path `TrainingSession` uses with one optimizer).
@Suite struct OptimizerGroupsTests {
    func params() -> [(String, Tensor)] {
        let a = Tensor([0.5, -1, 2], shape: [3]); a.requiresGrad = true
        let d = Tensor([1, 2, -3, 0.25], shape: [4]); d.requiresGrad = true
        return [("enc.w", a), ("decoder.w", d)]
    }
    func setGrads(_ ps: [(String, Tensor)], step: Int) {
        for (i, (_, t)) in ps.enumerated() {
            t.zeroGrad()
            t.accumulateGrad((0..<t.count).map { Float(($0 + 1) * (i + 2)) * 0.1 * Float(step + 1) - 0.3 })
        }
    }
    func grouped() -> OptimizerGroups {
        OptimizerGroups([
            .init(AdamW(learningRate: 1e-2, weightDecay: 0.1), scale: 1) { !$0.hasPrefix("decoder.") },
            .init(AdamW(learningRate: 1e-1, weightDecay: 0.1), scale: 10) { $0.hasPrefix("decoder.") },
        ])
    }

    @Test func equalsTwoOptimizersByHand() {
        let p1 = params(), p2 = params()
        let g = grouped()
        let enc = AdamW(learningRate: 1e-2, weightDecay: 0.1), dec = AdamW(learningRate: 1e-1, weightDecay: 0.1)
        for step in 0..<5 {
            let lr = 1e-2 * Double(5 - step) / 5
            g.learningRate = lr
            enc.learningRate = lr; dec.learningRate = lr * 10
            setGrads(p1, step: step); setGrads(p2, step: step)
            g.step(p1)
            enc.step([p2[0]]); dec.step([p2[1]])
        }
        #expect(p1[0].1.storage == p2[0].1.storage)
        #expect(p1[1].1.storage == p2[1].1.storage)
        #expect(g.learningRate == 1e-2 * 1 / 5)
    }

    @Test func stateRoundTripContinuesIdentically() throws {
        let full = params(), resumed = params()
        let g1 = grouped()
        for step in 0..<6 { setGrads(full, step: step); g1.step(full) }
        let g2 = grouped()
        for step in 0..<3 { setGrads(resumed, step: step); g2.step(resumed) }
        let state = g2.stateDict()
        #expect(state.keys.contains { $0.hasPrefix("decoder.w.") } && state.keys.contains { $0.hasPrefix("enc.w.") })
        let g3 = grouped()
        try g3.loadStateDict(state, for: resumed)
        for step in 3..<6 { setGrads(resumed, step: step); g3.step(resumed) }
        #expect(full[0].1.storage == resumed[0].1.storage)
        #expect(full[1].1.storage == resumed[1].1.storage)
    }
}

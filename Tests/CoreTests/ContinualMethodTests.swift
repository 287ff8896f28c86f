import Foundation
import Testing
import TestSupport
@testable import Core

/// The defining properties of the continual-learning building blocks, against hand-worked
/// numbers and finite differences.
@Suite("Continual-learning methods")
struct ContinualMethodTests {
    static func randomVector(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in rng.nextNormal() }
    }

    // MARK: GEM / A-GEM

    /// Hand-worked: g = (1, 0) against one memory m = (−1, 1): ⟨g, m⟩ = −1 < 0, so g is
    /// projected onto the half-plane ⟨x, m⟩ ≥ 0: g − (⟨g, m⟩/‖m‖²) m = (1, 0) + ½(−1, 1) = (½, ½).
    @Test func gemSingleConstraintHandWorked() {
        let r = GradientEpisodicMemory.project([1, 0], memories: [[-1, 1]])
        #expect(r.projected)
        #expect(abs(r.gradient[0] - 0.5) < 1e-6 && abs(r.gradient[1] - 0.5) < 1e-6)
        #expect(abs(r.dual[0] - 0.5) < 1e-9)
        // No conflict: unchanged.
        let s = GradientEpisodicMemory.project([1, 0], memories: [[1, 1]])
        #expect(!s.projected && s.gradient == [1, 0])
    }

    /// Hand-worked, two constraints. (a) m1 = (−1, 1), m2 = (−1, −1): the feasible cone is
    /// x ≤ −|y|, whose closest point to (1, 0) is the apex (0, 0); dual v = (½, ½) since
    /// (1, 0) + ½(−1, 1) + ½(−1, −1) = 0. (b) m1 = (−1, 2), m2 = (−1, 1): both violated at g, but
    /// the optimum projects on m2 alone, (½, ½), where ⟨(½,½), m1⟩ = ½ ≥ 0: v = (0, ½).
    @Test func gemTwoConstraintsHandWorked() {
        let a = GradientEpisodicMemory.project([1, 0], memories: [[-1, 1], [-1, -1]])
        #expect(abs(a.gradient[0]) < 1e-6 && abs(a.gradient[1]) < 1e-6)
        #expect(abs(a.dual[0] - 0.5) < 1e-9 && abs(a.dual[1] - 0.5) < 1e-9)
        let b = GradientEpisodicMemory.project([1, 0], memories: [[-1, 2], [-1, 1]])
        #expect(abs(b.gradient[0] - 0.5) < 1e-6 && abs(b.gradient[1] - 0.5) < 1e-6)
        #expect(abs(b.dual[0]) < 1e-12 && abs(b.dual[1] - 0.5) < 1e-9)
    }

    /// A GEM step never raises any memory loss to first order: with quadratic memory losses
    /// L_k(θ) = ½‖θ − c_k‖², after θ ← θ − ε g̃ every L_k changes by −ε⟨g̃, ∇L_k⟩ + O(ε²) ≤ O(ε²);
    /// and g̃ is the closest feasible point (KKT: it moves only along memory gradients with v ≥ 0).
    @Test func gemStepNeverIncreasesMemoryLossToFirstOrder() {
        let n = 40
        for trial in 0..<20 {
            let theta = Self.randomVector(n, seed: UInt64(100 + trial))
            let centres = (0..<5).map { Self.randomVector(n, seed: UInt64(1000 * trial + $0)) }
            let memGrads = centres.map { c in zip(theta, c).map { $0 - $1 } }
            let g = Self.randomVector(n, seed: UInt64(7 + trial))
            let r = GradientEpisodicMemory.project(g, memories: memGrads)
            for m in memGrads {
                let d = ParameterVector.dot(r.gradient, m)
                #expect(d >= -1e-4 * ParameterVector.dot(m, m).squareRoot(), "trial \(trial): ⟨g̃, g_k⟩ = \(d)")
            }
            #expect(r.dual.allSatisfy { $0 >= 0 })
            // g̃ − g = Gᵀv: complementary slackness, v_k > 0 only on active constraints.
            for (k, m) in memGrads.enumerated() where r.dual[k] > 1e-9 {
                #expect(abs(ParameterVector.dot(r.gradient, m)) < 1e-3, "trial \(trial): active constraint \(k) not tight")
            }
            let eps: Float = 1e-3
            let stepped = zip(theta, r.gradient).map { $0 - eps * $1 }
            for c in centres {
                func loss(_ t: [Float]) -> Double { 0.5 * zip(t, c).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } }
                let second = 0.5 * Double(eps * eps) * ParameterVector.dot(r.gradient, r.gradient)
                #expect(loss(stepped) - loss(theta) <= second + 1e-5, "trial \(trial)")
            }
        }
    }

    /// The dual QP solver on a hand case: min ½vᵀQv + cᵀv, v ≥ 0 with Q = [[2,0],[0,1]],
    /// c = (−2, 3): unconstrained optimum (1, −3) → clipped coordinate 2 at 0, v = (1, 0).
    @Test func nonnegativeQPHandWorked() {
        let v = NonnegativeQP.solve(q: [[2, 0], [0, 1]], c: [-2, 3])
        #expect(abs(v[0] - 1) < 1e-12 && v[1] == 0)
        // Coupled: Q = [[2,1],[1,2]], c = (−3, −3): v = Q⁻¹(3, 3) = (1, 1).
        let w = NonnegativeQP.solve(q: [[2, 1], [1, 2]], c: [-3, -3])
        #expect(abs(w[0] - 1) < 1e-10 && abs(w[1] - 1) < 1e-10)
    }

    /// A-GEM: g = (1, 0), reference (−1, 1) → (½, ½), orthogonal to the reference.
    @Test func agemProjection() {
        let r = GradientEpisodicMemory.projectAveraged([1, 0], reference: [-1, 1])
        #expect(r.projected && abs(r.gradient[0] - 0.5) < 1e-6 && abs(r.gradient[1] - 0.5) < 1e-6)
        let g = Self.randomVector(30, seed: 3), ref = g.map { -$0 + 0.1 }
        let p = GradientEpisodicMemory.projectAveraged(g, reference: ref)
        #expect(p.projected && abs(ParameterVector.dot(p.gradient, ref)) < 1e-4)
        #expect(!GradientEpisodicMemory.projectAveraged(g, reference: g).projected)
    }

    // MARK: OGD

    @Test func ogdUpdateIsOrthogonalToTheBasis() {
        let n = 64
        let basis = OrthogonalBasis(maxSize: 4)
        let stored = (0..<4).map { Self.randomVector(n, seed: UInt64(50 + $0)) }
        for v in stored { #expect(basis.add(v)) }
        #expect(basis.isFull && !basis.add(Self.randomVector(n, seed: 99)))
        for (i, u) in basis.vectors.enumerated() {
            for (j, w) in basis.vectors.enumerated() {
                #expect(abs(ParameterVector.dot(u, w) - (i == j ? 1 : 0)) < 1e-5)
            }
        }
        let g = Self.randomVector(n, seed: 7)
        let p = basis.project(g)
        for v in stored { #expect(abs(ParameterVector.dot(p, v)) < 1e-4 * ParameterVector.dot(v, v).squareRoot()) }
        // Projection is idempotent and removes nothing orthogonal to the basis.
        let pp = basis.project(p)
        #expect(zip(p, pp).allSatisfy { abs($0 - $1) < 1e-5 })
        // A vector already in the span adds nothing.
        let small = OrthogonalBasis(maxSize: 10)
        small.add(stored[0]); small.add(stored[1])
        #expect(!small.add(ParameterVector.axpy(stored[0], 2, stored[1])))
        #expect(small.vectors.count == 2)
    }

    // MARK: EWC

    /// The penalty's gradient equals central finite differences of the penalty (Double).
    @Test func ewcGradientMatchesFiniteDifferences() {
        let w = Tensor(Self.randomVector(6, seed: 1), shape: [2, 3], requiresGrad: true)
        let b = Tensor(Self.randomVector(2, seed: 2), shape: [2], requiresGrad: true)
        let params = [("w", w), ("b", b)]
        let ewc = EWCPenalty(lambda: 3.5)
        for s in 0..<3 {
            w.gradStorage = Self.randomVector(6, seed: UInt64(10 + s)); b.gradStorage = Self.randomVector(2, seed: UInt64(20 + s))
            ewc.accumulate(params)
        }
        ewc.consolidate(params)
        // Fisher = mean of squares (hand check on one entry).
        let g0 = (0..<3).map { Double(Self.randomVector(6, seed: UInt64(10 + $0))[0]) }
        #expect(abs(Double(ewc.fisher["w"]![0]) - g0.map { $0 * $0 }.reduce(0, +) / 3) < 1e-6)
        w.storage = w.storage.map { $0 + 0.3 }; b.storage = b.storage.map { $0 - 0.2 }
        w.gradStorage = nil; b.gradStorage = nil
        ewc.addGradient(params)
        let analytic = ParameterVector.gradients(params)
        let base = ParameterVector.values(params)
        for i in 0..<base.count {
            let h: Float = 1e-2
            var plus = base, minus = base
            plus[i] += h; minus[i] -= h
            ParameterVector.setValues(params, plus); let fp = ewc.penalty(params)
            ParameterVector.setValues(params, minus); let fm = ewc.penalty(params)
            let numeric = (fp - fm) / Double(2 * h)
            #expect(abs(numeric - Double(analytic[i])) < 1e-3 * max(1, abs(numeric)), "entry \(i): \(numeric) vs \(analytic[i])")
        }
    }

    /// EWC with λ = 0 trains exactly as plain sequential training.
    @Test func ewcWithZeroLambdaEqualsSequential() {
        func train(_ ewc: EWCPenalty?) -> [Float] {
            var rng = SplitMix64(seed: 5)
            let layer = Linear(inFeatures: 4, outFeatures: 3, using: &rng)
            let params = layer.trainableParameters()
            let opt = SGD(learningRate: 0.1)
            for task in 0..<2 {
                for step in 0..<5 {
                    let x = randomTensor([8, 4], seed: UInt64(100 * task + step), requiresGrad: false)
                    let loss = layer(x).square().mean()
                    loss.backward()
                    ewc?.addGradient(params)
                    opt.step(params); opt.zeroGrad(params)
                }
                if let ewc {
                    let x = randomTensor([8, 4], seed: 999, requiresGrad: false)
                    layer(x).square().mean().backward()
                    ewc.accumulate(params); opt.zeroGrad(params)
                    ewc.consolidate(params)
                }
            }
            return ParameterVector.values(params)
        }
        #expect(train(nil) == train(EWCPenalty(lambda: 0)))
        #expect(train(nil) != train(EWCPenalty(lambda: 10)))
    }

    // MARK: Replay

    @Test func reservoirKeepsEachItemWithEqualProbability() {
        // 20 items into a buffer of 5, 4000 seeded runs: each item kept ≈ 5/20 = 25% of runs.
        var kept = [Int](repeating: 0, count: 20)
        for run in 0..<4000 {
            var buffer = ReservoirBuffer<Int>(capacity: 5, seed: UInt64(run))
            for i in 0..<20 { buffer.offer(i) }
            #expect(buffer.items.count == 5 && Set(buffer.items).count == 5)
            for i in buffer.items { kept[i] += 1 }
        }
        // Binomial(4000, 0.25): sd ≈ 27.4; 5 sd bounds.
        for k in kept { #expect(abs(k - 1000) < 137, "\(kept)") }
        var empty = ReservoirBuffer<Int>(capacity: 0, seed: 1)
        empty.offer(3)
        #expect(empty.sample(4).isEmpty)
    }

    // MARK: O-LoRA

    /// ‖A Bᵀ‖²_F by hand: A = [[1,2,0]], B = [[0,1,1]]: A Bᵀ = 2 → 4. Gradient by finite differences.
    @Test func oloraLossValueAndGradient() {
        let a = Tensor([1, 2, 0], shape: [1, 3], requiresGrad: true)
        let b = Tensor([0, 1, 1], shape: [1, 3])
        #expect(OrthogonalLoRA.loss(current: [a], previous: [[b]])?.item == 4)
        let orthogonal = Tensor([1, 0, 0], shape: [1, 3])
        #expect(OrthogonalLoRA.loss(current: [orthogonal], previous: [[b]])?.item == 0)
        let x = randomTensor([4, 6], seed: 3)
        let p1 = randomTensor([4, 6], seed: 4, requiresGrad: false), p2 = randomTensor([4, 6], seed: 5, requiresGrad: false)
        #expect(gradCheck([x]) { xs in OrthogonalLoRA.loss(current: [xs[0]], previous: [[p1], [p2]])! }.passed)
    }
}

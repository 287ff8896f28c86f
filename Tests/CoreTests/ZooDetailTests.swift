import Foundation
import Testing
@testable import Core
import TestSupport

/// Method-specific properties of the zoo adapters, each against an independent construction.
@Suite("Zoo method details")
struct ZooDetailTests {
    func layer(_ inF: Int, _ out: Int, seed: UInt64 = 3) -> Linear {
        var rng = SplitMix64(seed: seed)
        let l = Linear(inFeatures: inF, outFeatures: out, using: &rng)
        l.freeze()
        return l
    }

    @Test("DyLoRA at rank b equals a LoRA built from the leading b ranks with scale α/b")
    func dyloraTruncation() throws {
        let l = layer(8, 12)
        let dy = try DyLoRA(inFeatures: 8, outFeatures: 12, maxRank: 4, minRank: 1, alpha: 8, seed: 1)
        perturb(dy)
        l.attach(dy)
        l.eval()
        let x = randomTensor([3, 8], seed: 2, requiresGrad: false)
        for b in 1...4 {
            dy.evalRank = b
            let got = withoutGrad { l(x) }
            let ref = Linear(weight: l.weight, bias: l.bias)
            ref.attach(LoRA(a: dy.loraA.slice(axis: 0, 0..<b).detached(), b: dy.loraB.slice(axis: 1, 0..<b).detached(), scaling: 8 / Float(b)))
            let want = withoutGrad { ref(x) }
            #expect(maxAbsDifference(got, want)! <= 1e-6, "rank \(b)")
        }
        // Training draws ranks across the whole range; frozen mode leaves lower ranks without gradient.
        l.train()
        var seen = Set<Int>()
        for _ in 0..<40 { _ = withoutGrad { l(x) }; seen.insert(dy.lastSampledRank) }
        #expect(seen == Set(1...4))
        let frozen = try DyLoRA(inFeatures: 8, outFeatures: 12, maxRank: 4, minRank: 4, alpha: 8, frozenLower: true, seed: 1)
        perturb(frozen)  // B ≠ 0, so A receives gradient
        let l2 = layer(8, 12)
        l2.attach(frozen)
        l2.train()
        l2(x).sum().backward()
        let ga = try #require(frozen.loraA.gradStorage)
        #expect(ga[0..<(3 * 8)].allSatisfy { $0 == 0 } && ga[(3 * 8)...].contains { $0 != 0 }, "only row b−1 of A trains")
    }

    @Test("LoLDU's frozen factors reproduce W0 at full rank: P·L·diag(D)·U = W0")
    func lolduReconstruction() throws {
        let l = layer(8, 12)
        let a = try LoLDU(layer: l, rank: 8, alpha: 1)
        let rebuilt = (a.lower * a.z0.reshaped([1, 8])).matmul(a.upper)
        #expect(maxAbsDifference(rebuilt, l.weight)! <= 1e-5, "\(differenceReport(rebuilt, l.weight))")
        // Unit diagonal of U, unit lower L (before the row permutation).
        for c in 0..<8 { #expect(Swift.abs(a.upper.storage[c * 8 + c] - 1) <= 1e-6) }
    }

    @Test("LoKr ΔW equals s·W1[p,u]·W2[q,v] at ((p·k + q), (u·n + v)) (the Kronecker product)")
    func lokrKronecker() throws {
        let l = layer(8, 12)
        let k = try LoKr(inFeatures: 8, outFeatures: 12, rank: 1, alpha: 3, seed: 4)
        perturb(k)
        #expect(k.outSplit == (3, 4) && k.inSplit == (2, 4))  // peft's factorization(12) = (3, 4), (8) = (2, 4)
        let w1 = k.w1.matrix(), w2 = k.w2.matrix()
        let d = withoutGrad { k.deltaWeight(layer: l) }
        for p in 0..<3 { for q in 0..<4 { for u in 0..<2 { for v in 0..<4 {
            let want = 3 * w1.storage[p * 2 + u] * w2.storage[q * 4 + v]
            #expect(Swift.abs(d.storage[(p * 4 + q) * 8 + u * 4 + v] - want) <= 1e-6)
        } } } }
        // peft's factorization: the divisor pair closest to √n, or the given factor.
        #expect(ZooMath.factorization(32) == (4, 8) && ZooMath.factorization(384) == (16, 24) && ZooMath.factorization(7) == (1, 7))
        #expect(ZooMath.factorization(32, factor: 2) == (2, 16))
    }

    @Test("Hadamard matrices: H·Hᵀ = n·I for Sylvester and Paley·Sylvester orders (8, 12, 20, 384)")
    func hadamardOrthogonal() throws {
        for n in [8, 12, 20, 384] {
            let h = try #require(HadamardMatrix(order: n), "order \(n)")
            var worst: Float = 0
            for i in 0..<n {
                for j in 0..<n {
                    var s: Float = 0
                    for t in 0..<n { s += h.entry(i, t) * h.entry(j, t) }
                    worst = Swift.max(worst, Swift.abs(s - (i == j ? Float(n) : 0)))
                }
            }
            #expect(worst == 0, "order \(n): worst deviation \(worst)")
        }
        #expect(HadamardMatrix(order: 6) == nil && HadamardMatrix(order: 10) == nil)
    }

    @Test("QWHA ΔW = (s/√out)·F·H⁻¹ from its definition; LoCA ΔW = α·Cᵀ·S·D with orthonormal DCTs")
    func transformDomainDeltas() throws {
        let l = layer(8, 12)
        let q = try WalshHadamardAdapter(layer: l, count: 6, scaling: 5, locationSeed: 3, zeroInit: false, seed: 2)
        let h = try #require(HadamardMatrix(order: 8))
        // Dense F, then F·H⁻¹ with H⁻¹ = Hᵀ/8 (Sylvester H is symmetric and H·H = 8·I).
        var f = [Float](repeating: 0, count: 12 * 8)
        for k in 0..<6 { f[Int(q.locations.storage[2 * k]) * 8 + Int(q.locations.storage[2 * k + 1])] += 5 * q.coefficients.storage[k] / Float(12).squareRoot() }
        let dq = withoutGrad { q.deltaWeight(layer: l) }
        for p in 0..<12 { for c in 0..<8 {
            let want = (0..<8).reduce(Float(0)) { $0 + f[p * 8 + $1] * h.entry(c, $1) } / 8
            #expect(Swift.abs(dq.storage[p * 8 + c] - want) <= 1e-6)
        } }
        let loca = try LoCA(layer: l, count: 5, alpha: 2, seed: 4)
        perturb(loca)
        let c12 = ZooMath.dctMatrix(12), c8 = ZooMath.dctMatrix(8)
        // Orthonormal: C·Cᵀ = I.
        for i in 0..<8 { for j in 0..<8 {
            let s = (0..<8).reduce(Float(0)) { $0 + c8[i * 8 + $1] * c8[j * 8 + $1] }
            #expect(Swift.abs(s - (i == j ? 1 : 0)) <= 1e-6)
        } }
        var sMat = [Float](repeating: 0, count: 12 * 8)
        for k in 0..<5 { sMat[Int(loca.locations.storage[2 * k]) * 8 + Int(loca.locations.storage[2 * k + 1])] = loca.coefficients.storage[k] }
        let dl = withoutGrad { loca.deltaWeight(layer: l) }
        for p in 0..<12 { for c in 0..<8 {
            var want: Float = 0
            for u in 0..<12 { for v in 0..<8 { want += c12[u * 12 + p] * sMat[u * 8 + v] * c8[v * 8 + c] } }
            #expect(Swift.abs(dl.storage[p * 8 + c] - 2 * want) <= 1e-5)
        } }
    }

    @Test("LoCA location steps lower a quadratic loss; TriAdaptLoRA grows the important layer without changing outputs")
    func locationsAndGrowth() throws {
        // Loss ½‖ΔW − T‖² with T one DCT atom next to the coefficient: moving towards it helps.
        let l = layer(8, 8)
        let loca = LoCA(coefficients: Tensor([1]), locations: Tensor([3, 3], shape: [1, 2]), alpha: 1, outFeatures: 8, inFeatures: 8)
        let c8 = ZooMath.dctMatrix(8)
        var target = [Float](repeating: 0, count: 64)
        for p in 0..<8 { for q in 0..<8 { target[p * 8 + q] = c8[4 * 8 + p] * c8[3 * 8 + q] } }  // atom at (4, 3)
        func lossAndGrad() -> (Float, [Float]) {
            let d = withoutGrad { loca.deltaWeight(layer: l) }.storage
            let g = zip(d, target).map { $0 - $1 }
            return (g.reduce(0) { $0 + $1 * $1 } / 2, g)
        }
        let (before, grad) = lossAndGrad()
        #expect(loca.moveLocations(weightGradient: grad) == 1)
        #expect(loca.locations.storage == [4, 3])
        #expect(lossAndGrad().0 < before)

        let a = try TriAdaptLoRA(inFeatures: 8, outFeatures: 8, budget: 3, initialRank: 1, alpha: 3, seed: 1)
        let b = try TriAdaptLoRA(inFeatures: 8, outFeatures: 8, budget: 3, initialRank: 1, alpha: 3, seed: 2)
        a.lambda.storage[0] = 2
        b.lambda.storage[0] = 0.1
        let la = layer(8, 8), x = randomTensor([2, 8], seed: 5, requiresGrad: false)
        la.attach(a)
        let y0 = withoutGrad { la(x) }
        // Halfway through the phase the threshold is 0.5: only the layer with the larger increment grows.
        let grown = TriAdaptLoRA.grow([("a", a), ("b", b)], step: 5, totalSteps: 10)
        #expect(grown == ["a"] && a.activeRank == 2 && b.activeRank == 1)
        #expect(withoutGrad { la(x) }.storage == y0.storage, "a new slot starts at λ = 0")
    }

    @Test("RandLoRA: every layer's basis is a slice of one shared basis; model-level copies assembled")
    func randloraSharedBasis() throws {
        let small = try RandLoRA(inFeatures: 8, outFeatures: 12, rank: 3, alpha: 1, projectionKey: 5)
        let big = try RandLoRA(inFeatures: 16, outFeatures: 24, rank: 3, alpha: 1, projectionKey: 5)
        // A [r, 1, m]: small m = 8 is the head of big m = 16.
        for k in 0..<3 { for j in 0..<8 { #expect(small.basisA.storage[k * 8 + j] == big.basisA.storage[k * 16 + j]) } }
        // B [M, N, r]: small [12, 3, 3] inside big [24, 6, 3].
        for p in 0..<12 { for q in 0..<3 { for k in 0..<3 { #expect(small.basisB.storage[(p * 3 + q) * 3 + k] == big.basisB.storage[(p * 6 + q) * 3 + k]) } } }
        // Unit standard deviation (the scale peft reaches by dividing each basis by its std).
        let v = big.basisB.storage
        let mean = v.reduce(0, +) / Float(v.count), std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)).squareRoot()
        #expect(Swift.abs(std - 1) < 0.1, "std \(std) over \(v.count) draws")
    }
}

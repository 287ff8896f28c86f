import Foundation
import Testing
import Core
import TestSupport

/// One zoo method on one tiny Linear: how to build it and its parameter-count formula
/// (written out from docs/methods-zoo.md, independently of the adapter's own count).
struct ZooCase: CustomStringConvertible, Sendable {
    let name: String
    let inFeatures: Int
    let outFeatures: Int
    /// Whether the method promises an unchanged model at init.
    let unchangedAtInit: Bool
    let build: @Sendable (Linear) throws -> ZooAdapter
    let formula: Int
    var description: String { "\(name) [\(outFeatures)×\(inFeatures)]" }

    static let all: [ZooCase] = [
        // DyLoRA R = 4: R(in + out).
        ZooCase(name: "dylora", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try DyLoRA(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, maxRank: 4, minRank: 1, alpha: 8, seed: 1) },
                formula: 4 * (8 + 12)),
        // Hydra r = 3 with biases: r(in+out) + r + out + 2·r·out + r + out.
        ZooCase(name: "hydra", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try Hydra(layer: $0, rank: 3, scale: 0.7, seed: 2) },
                formula: 3 * (8 + 12) + 3 + 12 + 2 * 3 * 12 + 3 + 12),
        // LoLDU r = 5: r.
        ZooCase(name: "loldu", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try LoLDU(layer: $0, rank: 5, alpha: 2) }, formula: 5),
        // RandLoRA r = 3, m = 8 → N = 3: r·N + N·m.
        ZooCase(name: "randlora (in ≤ out)", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try RandLoRA(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, rank: 3, alpha: 6, projectionKey: 9) },
                formula: 3 * 3 + 3 * 8),
        ZooCase(name: "randlora (in > out)", inFeatures: 12, outFeatures: 8, unchangedAtInit: true,
                build: { try RandLoRA(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, rank: 3, alpha: 6, projectionKey: 9, basis: .sparse) },
                formula: 3 * 3 + 3 * 8),
        // MoS r = 3, l = 2, P = 5, p = 1: P(in/l + out/l) + p(in + out) (one layer owns the pool).
        ZooCase(name: "mos", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try MixtureOfShards(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, rank: 3, alpha: 3, shards: 2, poolSize: 5,
                                             privateRanks: 1, poolSeed: 4, seed: 5) },
                formula: 5 * (4 + 6) + 1 * (8 + 12)),
        // PaCA r = 3: r·out.
        ZooCase(name: "paca", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try PaCA(layer: $0, rank: 3, alpha: 6, seed: 6) }, formula: 3 * 12),
        // LoCA n = 10: n.
        ZooCase(name: "loca", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try LoCA(layer: $0, count: 10, alpha: 5, seed: 7) }, formula: 10),
        // QWHA n = 10 on in = 8 (Sylvester) and in = 12 (Paley): n.
        ZooCase(name: "qwha (2^k)", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try WalshHadamardAdapter(layer: $0, count: 10, scaling: 20, locationSeed: 777, zeroInit: true, seed: 8) }, formula: 10),
        ZooCase(name: "qwha (Paley 12)", inFeatures: 12, outFeatures: 8, unchangedAtInit: true,
                build: { try WalshHadamardAdapter(layer: $0, count: 10, scaling: 20, locationSeed: 777, zeroInit: true, seed: 8) }, formula: 10),
        // LoKr r = 1 on 12 = 3·4, 8 = 2·4: W1 [3,2] full; W2 [4,4] as W2a [4,1]·W2b [1,4] (1 < 4/2).
        ZooCase(name: "lokr (low-rank W2)", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try LoKr(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, rank: 1, alpha: 2, seed: 9) },
                formula: 3 * 2 + 1 * (4 + 4)),
        ZooCase(name: "lokr (full, DiffuseKronA)", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try LoKr(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, rank: 4, alpha: 4, seed: 9) },
                formula: 3 * 2 + 4 * 4),
        // TriAdaptLoRA budget R = 4: R(in + out + 1).
        ZooCase(name: "triadaptlora", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try TriAdaptLoRA(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, budget: 4, initialRank: 2, alpha: 4, seed: 10) },
                formula: 4 * (8 + 12 + 1)),
        // MTLoRA r = 2, no tasks (mergeable): r(in + out).
        ZooCase(name: "mtlora", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { try MTLoRA(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, tasks: [], rank: 2, scaling: 1.5, includeShared: false, seed: 11) },
                formula: 2 * (8 + 12)),
        // TLoRA t = 2, ρ = 2; in 8 = 2·4, out 12 = 3·4: t(i1² + i2²) + ρ(o1·i1 + o2·i2).
        ZooCase(name: "tlora", inFeatures: 8, outFeatures: 12, unchangedAtInit: true,
                build: { TLoRA(inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, transformRank: 2, residualRank: 2, alpha: 2, seed: 12) },
                formula: 2 * (4 + 16) + 2 * (3 * 2 + 4 * 4)),
    ]
}

/// Adds seeded noise to every trainable tensor so the update is non-zero and every branch matters.
func perturb(_ adapter: ZooAdapter, seed: UInt64 = 99, std: Float = 0.3) {
    var rng = SplitMix64(seed: seed)
    for (_, t) in adapter.trainableEntries() {
        for i in 0..<t.count { t.storage[i] += std * rng.nextNormal() }
    }
}

func zooLayer(_ c: ZooCase, seed: UInt64 = 3) -> Linear {
    var rng = SplitMix64(seed: seed)
    let layer = Linear(inFeatures: c.inFeatures, outFeatures: c.outFeatures, using: &rng)
    layer.freeze()  // a frozen base, as under PeftModel
    return layer
}

@Suite("Zoo methods: gradients, init, merge, parameter counts")
struct ZooMethodTests {
    @Test("gradients equal central finite differences", arguments: ZooCase.all)
    func gradients(_ c: ZooCase) throws {
        let layer = zooLayer(c)
        let adapter = try c.build(layer)
        layer.attach(adapter)
        layer.eval()
        perturb(adapter)
        let x = randomTensor([2, 3, c.inFeatures], seed: 21)
        let inputs = [x] + adapter.trainableEntries().map(\.1)
        let result = gradCheck(inputs) { _ in layer(x) }
        #expect(result.passed, "\(c): \(result)")
        // Buffers never take part in the optimisation.
        for (k, t) in adapter.bufferEntries() { #expect(!t.requiresGrad, "\(c): buffer \(k) requires grad") }
    }

    @Test("unchanged at init", arguments: ZooCase.all.filter(\.unchangedAtInit))
    func unchangedAtInit(_ c: ZooCase) throws {
        let layer = zooLayer(c)
        let x = randomTensor([2, 3, c.inFeatures], seed: 22, requiresGrad: false)
        let base = withoutGrad { layer(x) }
        layer.attach(try c.build(layer))
        layer.eval()
        let adapted = withoutGrad { layer(x) }
        // PaCA stores W0[:, idx]/s and multiplies back by s: one float rounding per entry.
        let tol: Float = c.name == "paca" ? 1e-6 : 0
        #expect(maxAbsDifference(adapted, base)! <= tol, "\(c): \(differenceReport(adapted, base))")
    }

    @Test("merged forward equals the unmerged forward; unmerge restores W and b", arguments: ZooCase.all)
    func mergeEqualsUnmerged(_ c: ZooCase) throws {
        let layer = zooLayer(c)
        let w0 = layer.weight.storage, b0 = layer.bias!.storage
        let adapter = try c.build(layer)
        layer.attach(adapter)
        layer.eval()
        perturb(adapter)
        let x = randomTensor([2, 3, c.inFeatures], seed: 23, requiresGrad: false)
        let unmerged = withoutGrad { layer(x) }
        let base = withoutGrad { x.linear(weight: Tensor(w0, shape: layer.weight.shape), bias: Tensor(b0, shape: [c.outFeatures])) }
        #expect(maxAbsDifference(unmerged, base)! > 1e-3, "\(c): the perturbed adapter should change the output")
        layer.merge()
        let merged = withoutGrad { layer(x) }
        let scale = unmerged.storage.map { Swift.abs($0) }.max()!
        #expect(maxAbsDifference(merged, unmerged)! <= 1e-5 * Swift.max(scale, 1), "\(c): \(differenceReport(merged, unmerged))")
        layer.unmerge()
        #expect(zip(layer.weight.storage, w0).allSatisfy { Swift.abs($0 - $1) <= 1e-6 }, "\(c): weight not restored")
        #expect(zip(layer.bias!.storage, b0).allSatisfy { Swift.abs($0 - $1) <= 1e-6 }, "\(c): bias not restored")
    }

    @Test("trainable parameter count equals the stated formula", arguments: ZooCase.all)
    func parameterCount(_ c: ZooCase) throws {
        let layer = zooLayer(c)
        let adapter = try c.build(layer)
        layer.attach(adapter)
        #expect(adapter.trainableCount == c.formula, "\(c)")
        #expect(layer.parameterCounts().trainable == c.formula, "\(c): the layer's trainable parameters")
    }
}

import Foundation
import Testing
import Core
import TestSupport

/// Adapter composition (stack, parallel, weighted average, fuse) against the members alone.
@Suite("Adapter composition")
struct ZooCompositionTests {
    /// Seeded noise on every trainable tensor of adapter `name` (LoRA B starts at zero).
    static func perturbAdapter(_ peft: PeftModel, _ name: String, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for (_, a) in peft.adapters(named: name) {
            let entries = (a as? ZooAdapter)?.trainableEntries() ?? a.stateEntries()
            for (_, t) in entries { for i in 0..<t.count { t.storage[i] += 0.3 * rng.nextNormal() } }
        }
    }

    /// An MLP 8 → 12 → 8 with adapters `names` built from `configs`, each perturbed.
    static func model(_ configs: [(String, AdapterConfig)]) throws -> (AdapterMLP, PeftModel) {
        let m = AdapterMLP(inFeatures: 8, hidden: 12, outFeatures: 8, seed: 3)
        m.eval()
        let peft = PeftModel(m)
        for (i, (n, c)) in configs.enumerated() {
            try peft.addZooAdapterOrLoRA(c, name: n)
            perturbAdapter(peft, n, seed: UInt64(70 + i))
        }
        return (m, peft)
    }

    static let x = randomTensor([4, 8], seed: 31, requiresGrad: false)

    static func alone(_ m: AdapterMLP, _ peft: PeftModel, _ name: String) throws -> Tensor {
        peft.removeComposition()
        try peft.setActiveAdapters([name])
        return withoutGrad { m(x) }
    }

    static func lora(_ seed: UInt64) -> AdapterConfig {
        var c = AdapterConfig.lora(r: 2, alpha: 4, targets: ["lin0", "lin1"])
        c.seed = seed
        return c
    }

    @Test("a composition of one adapter equals that adapter", arguments: ["stack", "parallel", "average", "fuse"])
    func singleMember(_ mode: String) throws {
        let (m, peft) = try Self.model([("a", try AdapterConfig.zoo("randlora", r: 2, targets: ["lin0", "lin1"]))])
        let reference = try Self.alone(m, peft, "a")
        let modes: [String: CompositionMode] = ["stack": .stack, "parallel": .parallel, "average": .average([1]), "fuse": .fuse]
        try peft.compose(["a"], mode: modes[mode]!)
        let y = withoutGrad { m(Self.x) }
        // Fuse: softmax over one member is 1 and the value projection starts at the identity.
        #expect(maxAbsDifference(y, reference)! <= 1e-6, "\(mode): \(differenceReport(y, reference))")
    }

    @Test("average with one-hot weights equals the chosen adapter")
    func oneHotAverage() throws {
        let (m, peft) = try Self.model([("a", Self.lora(1)), ("b", Self.lora(2)), ("c", Self.lora(3))])
        let b = try Self.alone(m, peft, "b")
        try peft.compose(["a", "b", "c"], mode: .average([0, 1, 0]))
        let y = withoutGrad { m(Self.x) }
        #expect(maxAbsDifference(y, b)! <= 1e-6, "\(differenceReport(y, b))")
    }

    @Test("merge of an average equals the averaged merges, and the unmerged average")
    func mergedAverage() throws {
        let (m, peft) = try Self.model([("a", Self.lora(1)), ("b", Self.lora(2))])
        let w = [Float(0.25), 0.75]
        let w0 = m.lin1.weight.storage
        // Each member merged alone: ΔW_k = merged_k − W0.
        var merged: [[Float]] = []
        for n in ["a", "b"] {
            try peft.setActiveAdapters([n])
            try peft.merge()
            merged.append(m.lin1.weight.storage)
            peft.unmerge()
        }
        try peft.compose(["a", "b"], mode: .average(w))
        let unmergedOut = withoutGrad { m(Self.x) }
        try peft.mergeComposition()
        let expected = (0..<w0.count).map { i in w0[i] + w[0] * (merged[0][i] - w0[i]) + w[1] * (merged[1][i] - w0[i]) }
        #expect(zip(m.lin1.weight.storage, expected).allSatisfy { Swift.abs($0 - $1) <= 1e-6 })
        let mergedOut = withoutGrad { m(Self.x) }
        #expect(maxAbsDifference(mergedOut, unmergedOut)! <= 1e-5, "\(differenceReport(mergedOut, unmergedOut))")
        peft.removeComposition()
        #expect(zip(m.lin1.weight.storage, w0).allSatisfy { Swift.abs($0 - $1) <= 1e-6 }, "removing unmerges")
    }

    @Test("stack and parallel merge to their unmerged forwards (LoRA with Hydra and LoKr)")
    func stackAndParallelMerge() throws {
        var hydra = try AdapterConfig.zoo("hydra", r: 2, targets: ["lin0", "lin1"])
        hydra.zoo.hydraScale = 0.5
        for mode in [CompositionMode.stack, .parallel] {
            let (m, peft) = try Self.model([("a", Self.lora(1)), ("h", hydra), ("k", try AdapterConfig.zoo("lokr", r: 1, targets: ["lin0", "lin1"]))])
            try peft.compose(["a", "h", "k"], mode: mode)
            let unmerged = withoutGrad { m(Self.x) }
            try peft.mergeComposition()
            let merged = withoutGrad { m(Self.x) }
            #expect(maxAbsDifference(merged, unmerged)! <= 1e-5, "\(mode): \(differenceReport(merged, unmerged))")
        }
    }

    @Test("fusion weights get the right gradients")
    func fusionGradients() throws {
        // One Linear (no ReLU kink for the finite differences to straddle).
        var g = SplitMix64(seed: 3)
        let lin = Linear(inFeatures: 8, outFeatures: 8, using: &g)
        let peft = PeftModel(ModuleTreeLite([("lin0", lin)]))
        try peft.addAdapter(Self.lora(1), name: "a")
        try peft.addZooAdapter(try AdapterConfig.zoo("lokr", r: 1, targets: ["lin0"]), name: "b")
        Self.perturbAdapter(peft, "a", seed: 1)
        Self.perturbAdapter(peft, "b", seed: 2)
        let comps = try peft.compose(["a", "b"], mode: .fuse, seed: 4)
        // Larger random query/key so the attention is far from uniform.
        var rng = SplitMix64(seed: 9)
        for c in comps { for (_, t) in c.adapter.stateEntries() { for i in 0..<t.count { t.storage[i] += 0.2 * rng.nextNormal() } } }
        let params = comps.flatMap { $0.adapter.stateEntries().map(\.1) }
        #expect(peft.trainableParameters().count == params.count, "only fusion weights train")
        let result = gradCheck(params) { _ in lin(Self.x) }
        #expect(result.passed, "\(result)")
    }

    @Test("incompatible compositions are clear errors")
    func incompatible() throws {
        let (_, peft) = try Self.model([("a", Self.lora(1)), ("k", try AdapterConfig.zoo("lokr", r: 1, targets: ["lin0", "lin1"]))])
        #expect(throws: AdapterError.self) { try peft.compose(["a", "k"], mode: .average([0.5, 0.5])) }  // two methods
        #expect(throws: AdapterError.self) { try peft.compose(["a", "k"], mode: .average([1])) }  // weight count
        #expect(throws: AdapterError.self) { try peft.compose(["a", "zz"], mode: .stack) }  // unknown name
        try peft.compose(["a", "k"], mode: .fuse)
        #expect(throws: AdapterError.self) { try peft.mergeComposition() }  // fuse does not merge
        #expect(throws: AdapterError.self) { try peft.compose(["a"], mode: .stack) }  // one at a time
    }
}

extension PeftModel {
    /// Test helper: zoo methods through `addZooAdapter`, others through `addAdapter`.
    @discardableResult
    func addZooAdapterOrLoRA(_ c: AdapterConfig, name: String) throws -> InjectionReport {
        PeftMethod.zooNames.contains { $0.method == c.method } ? try addZooAdapter(c, name: name) : try addAdapter(c, name: name)
    }
}

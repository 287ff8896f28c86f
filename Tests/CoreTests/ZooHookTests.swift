import Foundation
import Testing
@testable import Core
import TestSupport

/// The `PeftModel` hooks of the zoo: MoS pools tied by a plain `addAdapter`, RandLoRA's shared
/// bases in every `save`, and the consistency checks `load` runs on zoo buffers.
@Suite("Zoo: PeftModel hooks")
struct ZooHookTests {
    /// Two 8 → 8 layers (so MoS ties one pool) under a config with tiny pools.
    static func mosModel() throws -> (AdapterMLP, PeftModel) {
        let model = AdapterMLP(inFeatures: 8, hidden: 8, outFeatures: 8, seed: 2)
        let peft = PeftModel(model)
        var c = try ZooFileTests.config("mos")
        c.zoo.mosPrivateRanks = 1
        try peft.addAdapter(c)
        return (model, peft)
    }

    @Test("addAdapter ties MoS pools across layers, and training updates the one shared pool")
    func mosTiedByAddAdapter() throws {
        let (model, peft) = try Self.mosModel()
        let mos = peft.adapters(named: "default").map { $0.adapter as! MixtureOfShards }
        #expect(mos.count == 2 && mos[0].poolA === mos[1].poolA && mos[0].poolB === mos[1].poolB)
        // Counted once: P(in/l + out/l) + p(in + out) per layer = 5·(4 + 4) + 2·1·(8 + 8).
        #expect(model.parameterCounts().trainable == 5 * 8 + 2 * 16)
        // The optimiser sees the pool once (a duplicate would step it twice).
        let pools = peft.trainableParameters().filter { $0.0.contains("mos_pool_A") }
        #expect(pools.count == 1)
    }

    @Test("save writes RandLoRA's model-level shared bases; they equal the assembled slices")
    func randloraSharedBasesSaved() throws {
        let model = AdapterMLP(inFeatures: 8, hidden: 12, outFeatures: 8, seed: 1)
        let peft = PeftModel(model)
        try peft.addAdapter(try ZooFileTests.config("randlora"))
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try peft.save(to: dir)
        let tensors = try AdapterTensorFile.read(dir.appendingPathComponent("adapter_model.safetensors"))
        let shared = Dictionary(uniqueKeysWithValues: peft.randLoRASharedBases())
        let a = try #require(tensors["base_model.randlora_A"]), b = try #require(tensors["base_model.randlora_B"])
        // r = 4 on 8 → 12 and 12 → 8: m = 8, M = 12, N = ⌈8/4⌉ = 2.
        #expect(a.shape == [4, 1, 8] && b.shape == [12, 2, 4])
        #expect(a.storage == shared["base_model.randlora_A"]!.storage && b.storage == shared["base_model.randlora_B"]!.storage)
        // Without save_projection peft regenerates the bases, so none are written.
        var c = try ZooFileTests.config("randlora")
        c.zoo.saveProjection = false
        let peft2 = PeftModel(AdapterMLP(inFeatures: 8, hidden: 12, outFeatures: 8, seed: 1))
        try peft2.addAdapter(c)
        try peft2.save(to: dir)
        #expect(try AdapterTensorFile.read(dir.appendingPathComponent("adapter_model.safetensors"))["base_model.randlora_A"] == nil)
    }

    /// Saves adapter `name` of a fresh model, lets `edit` change the file's tensors, and loads it.
    static func loadEdited(_ name: String, hidden: Int, edit: (inout [String: Tensor]) -> Void) throws -> String? {
        let peft = PeftModel(AdapterMLP(inFeatures: 8, hidden: hidden, outFeatures: 8, seed: 1))
        var c = try ZooFileTests.config(name)
        if name == "mos" { c.zoo.mosPrivateRanks = 1 }
        try peft.addAdapter(c)
        ZooFileTests.perturbAll(peft)
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try peft.save(to: dir)
        let file = dir.appendingPathComponent("adapter_model.safetensors")
        var tensors = try AdapterTensorFile.read(file)
        edit(&tensors)
        try AdapterTensorFile.write(tensors.sorted { $0.key < $1.key }, to: file)
        let fresh = PeftModel(AdapterMLP(inFeatures: 8, hidden: hidden, outFeatures: 8, seed: 1))
        do {
            try fresh.load(from: dir)
            return nil
        } catch {
            #expect(fresh.config("default") == nil, "a failed load leaves no adapter behind")
            return "\(error)"
        }
    }

    @Test("load: unedited zoo files load; inconsistent MoS pools and RandLoRA bases are one-line errors")
    func loadChecks() throws {
        #expect(try Self.loadEdited("mos", hidden: 8) { _ in } == nil)
        #expect(try Self.loadEdited("randlora", hidden: 12) { _ in } == nil)
        // MoS: layer 1's copy of the shared pool differs from layer 0's.
        let mos = try Self.loadEdited("mos", hidden: 8) { t in
            let k = "base_model.model.lin1.mos_pool_A"
            t[k] = Tensor(t[k]!.storage.map { $0 + 1 }, shape: t[k]!.shape)
        }
        #expect(mos?.contains("mos_pool_A") == true && mos?.contains("shared MoS pool") == true && mos?.contains("\n") == false)
        // RandLoRA: a layer basis that is not a slice of the model-level one (another seed's).
        let rand = try Self.loadEdited("randlora", hidden: 12) { t in
            let k = "base_model.model.lin0.randlora_B"
            t[k] = Tensor(t[k]!.storage.map { -$0 }, shape: t[k]!.shape)
        }
        #expect(rand?.contains("lin0.randlora_B") == true && rand?.contains("model-level") == true)
        // Model-level bases of the wrong rank.
        let rank = try Self.loadEdited("randlora", hidden: 12) { t in t["base_model.randlora_A"] = Tensor.zeros([3, 1, 8]) }
        #expect(rank?.contains("rank 4") == true)
        // Out-of-range indices still fail through validateLoaded (now run by load itself).
        let paca = try Self.loadEdited("paca", hidden: 12) { t in
            let k = t.keys.first { $0.hasSuffix("paca_indices") }!
            t[k] = Tensor(t[k]!.storage.map { _ in 1e6 }, shape: t[k]!.shape)
        }
        #expect(paca != nil)
    }

    @Test("AdapterOverride round-trips any zoo config (and its seed) through Codable")
    func overrideCodable() throws {
        for name in PeftMethod.zooNames.map(\.name) {
            var c = try ZooFileTests.config(name)
            c.seed = 12345
            let data = try JSONEncoder().encode(AdapterOverride(c))
            let back = try JSONDecoder().decode(AdapterOverride.self, from: data)
            var expected = c
            expected.inferenceMode = back.config.inferenceMode
            #expect(NSDictionary(dictionary: back.config.jsonObject()) == NSDictionary(dictionary: expected.jsonObject()), "\(name)")
            #expect(back.config.seed == 12345 && back.config.method == c.method, "\(name)")
        }
    }
}

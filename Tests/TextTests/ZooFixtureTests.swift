import Core
import Foundation
import Testing
import TestSupport
import Text

/// peft 0.21's RandLora and LoKr adapters on a tiny seeded BertModel (`fixtures/zoo`, made by
/// `tools/make_zoo_fixtures.py`): loaded through Core's PEFT loader, the adapted forward
/// (unmerged and merged) must match peft's within 1e-5 of the reference's largest magnitude
/// (the fixture README's tolerance), and what PEFTKit saves must carry peft's keys and shapes.
@Suite struct ZooFixtureTests {
    static func base() throws -> BertModel {
        let ckpt = try BertCheckpoint(folder: TestPaths.fixture("zoo/base").path)
        let model = try BertModel(config: ckpt.config, addPooler: ckpt.hasPooler, seed: 0, at: ckpt.encoderPath)
        model.eval()
        return model
    }

    static func input(_ io: [String: Tensor]) throws -> BertInput {
        func ints(_ k: String) throws -> [Int] { try #require(io[k]).storage.map { Int($0) } }
        let ids = try #require(io["input_ids"])
        return try BertInput(inputIDs: try ints("input_ids"), batch: ids.shape[0], length: ids.shape[1],
                             attentionMask: try ints("attention_mask"), tokenTypeIDs: try ints("token_type_ids"))
    }

    static func expectRelative(_ got: Tensor, _ expected: Tensor?, _ what: String) {
        guard let e = expected else { Issue.record("\(what): reference missing"); return }
        #expect(got.shape == e.shape, "\(what): shape \(got.shape) vs \(e.shape)")
        let rel = BertFixtures.relativeError(got, e)
        #expect(rel <= 1e-5, "\(what): relative error \(rel); \(differenceReport(got, e))")
    }

    @Test(arguments: ["randlora", "lokr", "lokr_full"])
    func peftAdapterForwardMatches(_ method: String) throws {
        let dir = TestPaths.fixture("zoo/" + method)
        let io = try FixtureTensors.load(dir.appendingPathComponent("io.safetensors"))
        let input = try Self.input(io)
        let model = try Self.base()
        let base = try withoutGrad { try model(input).lastHiddenState }
        Self.expectRelative(base, io["base_last_hidden_state"], "\(method) base")

        let peft = PeftModel(model)
        let report = try peft.load(from: dir)
        #expect(report.injection.matchedKeys.count == 4, "query and value in 2 layers")
        // RandLora's model-level basis copies are read by peft's loader, not by a module.
        let expectedUnused = method == "randlora" ? ["base_model.randlora_A", "base_model.randlora_B"] : []
        #expect(report.unusedKeys == expectedUnused, "\(report.unusedKeys)")
        #expect(report.warnings.isEmpty, "\(report.warnings)")
        let unmerged = try withoutGrad { try model(input).lastHiddenState }
        Self.expectRelative(unmerged, io["last_hidden_state"], "\(method) unmerged")
        try peft.merge()
        let merged = try withoutGrad { try model(input).lastHiddenState }
        Self.expectRelative(merged, io["merged_last_hidden_state"], "\(method) merged")
        peft.unmerge()
        let again = try withoutGrad { try model(input).lastHiddenState }
        Self.expectRelative(again, io["last_hidden_state"], "\(method) after unmerge")
    }

    @Test(arguments: ["randlora", "lokr", "lokr_full"])
    func savedAdapterHasPeftLayout(_ method: String) throws {
        let dir = TestPaths.fixture("zoo/" + method)
        let peft = PeftModel(try Self.base())
        try peft.load(from: dir)
        let out = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        try peft.saveForPeft(to: out)
        // Same tensor names, shapes and values as the file peft wrote.
        let theirs = try FixtureTensors.load(dir.appendingPathComponent("adapter_model.safetensors"))
        let ours = try FixtureTensors.load(out.appendingPathComponent("adapter_model.safetensors"))
        #expect(Set(ours.keys) == Set(theirs.keys), "keys differ: \(Set(ours.keys).symmetricDifference(Set(theirs.keys)).sorted())")
        for (k, t) in theirs {
            guard let o = ours[k] else { continue }
            #expect(o.shape == t.shape && o.storage == t.storage, "\(k)")
        }
        // The config carries peft's type and field names with the same values.
        let read = { (url: URL) throws -> [String: Any] in
            try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        }
        let mine = try read(out), peftConfig = try read(dir)
        #expect(mine["peft_type"] as? String == peftConfig["peft_type"] as? String)
        for k in ["r", "randlora_alpha", "alpha", "projection_prng_key", "save_projection", "sparse", "very_sparse", "decompose_both", "decompose_factor"] {
            guard let theirs = peftConfig[k] else { continue }
            let a = (mine[k] as? NSNumber)?.doubleValue, b = (theirs as? NSNumber)?.doubleValue
            #expect(a != nil && a == b, "config key \(k): \(String(describing: mine[k])) vs \(theirs)")
        }
        // And it loads back to the same outputs.
        let io = try FixtureTensors.load(dir.appendingPathComponent("io.safetensors"))
        let model = try Self.base()
        let reloaded = PeftModel(model)
        try reloaded.load(from: out)
        let y = try withoutGrad { try model(try Self.input(io)).lastHiddenState }
        Self.expectRelative(y, io["last_hidden_state"], "\(method) reloaded")
    }
}

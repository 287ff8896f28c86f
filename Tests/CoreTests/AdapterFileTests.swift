import Foundation
import Testing
import Core
import TestSupport

/// The Linear skeleton of all-MiniLM-L6-v2 (BertModel keys, width 384): enough to check that
/// peft's saved adapters land on the right modules with the right shapes. The full-model
/// forward comparison needs the BERT implementation and lives with it.
final class MiniLMSkeleton: Module {
    let root: ModuleTreeLite

    init(width: Int = 384, layers: Int = 6, seed: UInt64 = 1) {
        var rng = SplitMix64(seed: seed)
        func lin() -> Linear { Linear(inFeatures: width, outFeatures: width, using: &rng) }
        let blocks = (0..<layers).map { _ in
            ModuleTreeLite([
                ("attention", ModuleTreeLite([
                    ("self", ModuleTreeLite([("query", lin()), ("key", lin()), ("value", lin())])),
                    ("output", ModuleTreeLite([("dense", lin())])),
                ]))
            ])
        }
        root = ModuleTreeLite([("encoder", ModuleTreeLite([("layer", ModuleList(blocks))]))])
        super.init()
    }

    override func namedChildren() -> [(String, Module)] { root.namedChildren() }
}

/// BertForMaskedLM's Linear skeleton (`bert.encoder…` plus `cls.predictions.transform`).
final class MiniLMMaskedLMSkeleton: Module {
    let bert = MiniLMSkeleton(seed: 2)
    let transform: ModuleTreeLite

    override init() {
        var rng = SplitMix64(seed: 3)
        transform = ModuleTreeLite([
            ("dense", Linear(inFeatures: 384, outFeatures: 384, using: &rng)),
            ("LayerNorm", LayerNorm(weight: Tensor.ones([384]), bias: Tensor.zeros([384]))),
        ])
        super.init()
    }

    override func namedChildren() -> [(String, Module)] {
        [("bert", bert), ("cls", ModuleTreeLite([("predictions", ModuleTreeLite([("transform", transform)]))]))]
    }
}

@Suite("PEFT adapter files")
struct AdapterFileTests {
    @Test("peft's LoRA and DoRA fixtures: config parsed, every tensor on the right module", arguments: ["lora", "dora"])
    func peftFixture(_ kind: String) throws {
        let dir = TestPaths.fixture("minilm/\(kind)")
        let model = MiniLMSkeleton()
        let peft = PeftModel(model)
        let report = try peft.load(from: dir)
        let cfg = try #require(peft.config("default"))
        #expect(cfg.r == 8 && cfg.loraAlpha == 16 && cfg.useDoRA == (kind == "dora") && cfg.targetModules == .names(["query", "value"]))
        #expect(report.warnings.isEmpty, "\(report.warnings)")
        #expect(report.unusedKeys.isEmpty)
        #expect(report.injection.matchedKeys.count == 12)
        let perLayer = 8 * (384 + 384) + (kind == "dora" ? 384 : 0)
        #expect(report.injection.trainable == 12 * perLayer)
        // Loaded adapters are frozen (peft's inference mode) until asked otherwise.
        #expect(peft.trainableParameters().isEmpty)
        let lora = try #require(peft.adapters(named: "default").first?.adapter as? LoRA)
        #expect(lora.scaling == 2)  // 16 / 8
        #expect(lora.loraB.storage.contains { $0 != 0 })  // the fixture has non-zero B
        if kind == "dora" { #expect(lora is DoRA) }
        // Re-saving writes the same key set and values peft wrote.
        let out = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        try peft.save(to: out)
        let again = PeftModel(MiniLMSkeleton())
        try again.load(from: out)
        let a = try peft.adapterStateDict(), b = try again.adapterStateDict()
        #expect(a.map(\.0) == b.map(\.0))
        #expect(zip(a, b).allSatisfy { $0.1.storage == $1.1.storage })
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any]
        #expect(json?["peft_type"] as? String == "LORA" && json?["r"] as? Int == 8 && json?["use_dora"] as? Bool == (kind == "dora"))
    }

    @Test("peft's MLM fixture: multi-segment targets and a modules_to_save head")
    func peftMLMFixture() throws {
        let model = MiniLMMaskedLMSkeleton()
        let peft = PeftModel(model)
        let report = try peft.load(from: TestPaths.fixture("minilm/mlm"), trainable: true)
        #expect(report.unusedKeys.isEmpty && report.warnings.isEmpty, "\(report.unusedKeys) \(report.warnings)")
        #expect(report.injection.matchedKeys.count == 24)
        #expect(report.injection.matchedKeys.contains("bert.encoder.layer.5.attention.output.dense"))
        #expect(report.injection.selectedParameters == ["cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                                                        "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias"])
        // step.json: trainable_parameters 443520 (LoRA 294912 + the transform head).
        #expect(peft.trainableParameters().reduce(0) { $0 + $1.1.count } == 443_520)
        let file = try SafeTensors.read(TestPaths.fixture("minilm/mlm/adapter_model.safetensors"))
        let head = try #require(model.module(at: "cls.predictions.transform.dense") as? Linear)
        #expect(head.weight.storage == file["base_model.model.cls.predictions.transform.dense.weight"]!.storage)
    }

    @Test("an adapter for another base is a shape error naming the key")
    func wrongBase() throws {
        let peft = PeftModel(MiniLMSkeleton(width: 128, layers: 6))
        do {
            try peft.load(from: TestPaths.fixture("minilm/lora"))
            Issue.record("expected a shape error")
        } catch let AdapterError.shapeMismatch(_, key, expected, found) {
            #expect(key.hasPrefix("base_model.model.encoder.layer.") && expected == [8, 128] && found == [8, 384])
        }
        #expect(peft.configs.isEmpty, "a failed load must not leave the adapter behind")
    }

    @Test("missing tensors are an error; unknown config keys a warning; corrupt files an error")
    func badFiles() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = AdapterMLP()
        let peft = PeftModel(model)
        try peft.addAdapter(.lora(r: 2, alpha: 4, targets: ["lin0", "lin1"]))
        try peft.save(to: dir)
        // Unknown key: a warning that names it.
        let cfgURL = dir.appendingPathComponent("adapter_config.json")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: cfgURL)) as! [String: Any]
        obj["brand_new_option"] = 3
        try JSONSerialization.data(withJSONObject: obj).write(to: cfgURL)
        let r = try PeftModel(AdapterMLP()).load(from: dir)
        #expect(r.warnings.count == 1 && r.warnings[0].contains("brand_new_option"))
        obj["target_modules"] = ".*lin[01]"
        obj["r"] = 2
        try JSONSerialization.data(withJSONObject: obj).write(to: cfgURL)
        _ = try PeftModel(AdapterMLP()).load(from: dir)  // regex form selects the same two layers
        // Targets whose tensors the file lacks: a missing-key error.
        let extra = AdapterAttentionModel()
        obj["target_modules"] = ["q_proj"]
        try JSONSerialization.data(withJSONObject: obj).write(to: cfgURL)
        #expect(throws: AdapterError.self) { try PeftModel(extra).load(from: dir) }
        // Corrupt config and truncated weights.
        try Data("{not json".utf8).write(to: cfgURL)
        #expect(throws: AdapterError.self) { try PeftModel(AdapterMLP()).load(from: dir) }
        try peft.save(to: dir)
        let wURL = dir.appendingPathComponent("adapter_model.safetensors")
        let bytes = try Data(contentsOf: wURL)
        try bytes.prefix(bytes.count - 10).write(to: wURL)
        #expect(throws: IOError.self) { try PeftModel(AdapterMLP()).load(from: dir) }
        var lying = bytes
        lying.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        try lying.write(to: wURL)
        #expect(throws: IOError.self) { try PeftModel(AdapterMLP()).load(from: dir) }
    }

    @Test("config JSON: unsupported settings are errors, round trip is lossless")
    func configJSON() throws {
        func decode(_ s: String) throws -> AdapterConfig { try AdapterConfig.decode(Data(s.utf8)).config }
        #expect(throws: AdapterError.self) { try decode(#"{"peft_type": "LORA", "r": 8, "target_modules": ["q"], "fan_in_fan_out": true}"#) }
        #expect(throws: AdapterError.self) { try decode(#"{"peft_type": "LOHA", "target_modules": ["q"]}"#) }
        #expect(throws: AdapterError.self) { try decode(#"{"peft_type": "LORA", "r": "eight", "target_modules": ["q"]}"#) }
        #expect(throws: AdapterError.self) { try decode(#"{"peft_type": "LORA", "r": 8, "target_modules": ["q"], "bias": "some"}"#) }
        let ok = try decode(#"{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ".*q", "layers_to_transform": 2, "bias": "lora_only", "init_lora_weights": "gaussian", "rank_pattern": {"v": 2}}"#)
        #expect(ok.targetModules == .regex(".*q") && ok.layersToTransform == [2] && ok.bias == .loraOnly && ok.initLoraWeights == .gaussianA)
        #expect(ok.rankAndAlpha(for: "enc.3.v").r == 2 && ok.rankAndAlpha(for: "enc.3.q").r == 4)
        for var c in [ok, AdapterConfig.biasTuning(), AdapterConfig.layerNormTuning(normNames: ["norm1"])] {
            if c.method != .lora { c.seed = 42 }  // peft's own types carry only peft's keys
            let back = try AdapterConfig.decode(c.encodeJSON()).config
            #expect(back == c)
        }
    }

    @Test("reduction-factor LoRA is saved in peft's own terms with the same scale")
    func reductionFactorSaved() throws {
        let model = AdapterAttentionModel()
        let peft = PeftModel(model)
        var c = AdapterConfig.lora(r: 1, alpha: 8, targets: ["q_proj", "fc2"])
        c.reductionFactor = 4  // q: in 8 → r 2; fc2: in 12 → r 3; scale 8/4 = 2 for both
        try peft.addAdapter(c)
        let saved = try peft.savedConfig()
        #expect(saved.reductionFactor == nil && saved.r == 2 && saved.loraAlpha == 4)  // 4/2 = 2
        #expect(saved.rankPattern == ["encoder.layers.0.mlp.fc2": 3, "encoder.layers.1.mlp.fc2": 3])
        #expect(saved.alphaPattern["encoder.layers.0.mlp.fc2"] == 6)  // 6/3 = 2
        for (k, _) in peft.adapters(named: "default") {
            let (r, a) = saved.rankAndAlpha(for: k)
            #expect(a / Float(r) == 2)
        }
    }
}

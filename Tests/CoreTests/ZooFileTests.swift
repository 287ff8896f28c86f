import Foundation
import Testing
import Core
import TestSupport

/// Zoo methods under `PeftModel`: config ↔ JSON, save → load → same outputs, and the clear
/// errors for bad settings.
@Suite("Zoo methods: files, configs and bad input")
struct ZooFileTests {
    /// A config for `name` on the tiny MLP (8 → 12 → 8), small enough for fast tests.
    static func config(_ name: String) throws -> AdapterConfig {
        var c = try AdapterConfig.zoo(name, r: 4, targets: ["lin0", "lin1"])
        c.seed = 17
        c.zoo.nFrequency = 10
        c.zoo.transformScaling = 20
        c.zoo.mosPoolSize = 5
        if name == "mtlora" { c.tasks = ["depth", "seg"] }
        return c
    }

    static func perturbAll(_ peft: PeftModel) {
        for (i, a) in peft.adapters(named: "default").enumerated() { perturb(a.adapter as! ZooAdapter, seed: UInt64(40 + i)) }
    }

    @Test("save → load gives the same config and outputs", arguments: PeftMethod.zooNames.map(\.name))
    func saveLoadRoundTrip(_ name: String) throws {
        let cfg = try Self.config(name)
        let model = AdapterMLP(inFeatures: 8, hidden: 12, outFeatures: 8, seed: 1)
        model.eval()
        let peft = PeftModel(model)
        try peft.addZooAdapter(cfg)
        Self.perturbAll(peft)
        let x = randomTensor([3, 8], seed: 5, requiresGrad: false)
        func outputs(_ p: PeftModel, _ m: AdapterMLP) -> [Tensor] {
            guard name == "mtlora" else { return [withoutGrad { m(x) }] }
            return [nil, "depth", "seg"].map { task in
                for a in p.adapters(named: "default") { (a.adapter as! MTLoRA).task = task }
                return withoutGrad { m(x) }
            }
        }
        let before = outputs(peft, model)
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try peft.saveForPeft(to: dir)

        let model2 = AdapterMLP(inFeatures: 8, hidden: 12, outFeatures: 8, seed: 1)
        model2.eval()
        let peft2 = PeftModel(model2)
        let report = try peft2.load(from: dir)
        #expect(report.warnings.isEmpty, "\(name): \(report.warnings)")
        let extra = name == "randlora" ? ["base_model.randlora_A", "base_model.randlora_B"] : []
        #expect(report.unusedKeys == extra, "\(name): \(report.unusedKeys)")
        var expected = cfg
        expected.inferenceMode = true
        if !cfg.method.rawValue.hasPrefix("PEFTKIT_") { expected.seed = 0 }  // peft's files carry no seed
        // Settings the method uses survive (others are not written).
        let got = try #require(peft2.config("default"))
        #expect(NSDictionary(dictionary: got.jsonObject()) == NSDictionary(dictionary: expected.jsonObject()), "\(name): config changed in the round trip")
        #expect(got.method == cfg.method && got.r == cfg.r && got.loraAlpha == cfg.loraAlpha)
        let after = outputs(peft2, model2)
        for (a, b) in zip(before, after) { #expect(a.storage == b.storage, "\(name): \(differenceReport(a, b))") }
        #expect(peft2.trainableParameters().isEmpty, "\(name): a loaded adapter is frozen")
    }

    @Test("unknown method names list the known ones")
    func unknownMethod() {
        #expect(throws: AdapterError.self) { try AdapterConfig.zoo("superlora", targets: ["q"]) }
        do {
            _ = try AdapterConfig.zoo("superlora", targets: ["q"])
        } catch {
            #expect("\(error)".contains("randlora") && "\(error)".contains("superlora"))
        }
    }

    @Test("bad sizes and settings are one-line errors")
    func badSettings() throws {
        var rng = SplitMix64(seed: 1)
        let l = Linear(inFeatures: 8, outFeatures: 12, using: &rng)
        // Kronecker factor that divides neither side.
        #expect(throws: AdapterError.self) { try LoKr(inFeatures: 8, outFeatures: 12, rank: 2, alpha: 2, decomposeFactor: 5, seed: 1) }
        // No Hadamard matrix of order 6 (6 = 3·2, and 3, 6 are not Hadamard orders).
        let l6 = Linear(inFeatures: 6, outFeatures: 4, using: &rng)
        #expect(throws: AdapterError.self) { try WalshHadamardAdapter(layer: l6, count: 3, scaling: 1, locationSeed: 1, zeroInit: true, seed: 1) }
        // Shards must divide both sides.
        #expect(throws: AdapterError.self) {
            try MixtureOfShards(inFeatures: 8, outFeatures: 12, rank: 2, alpha: 2, shards: 5, poolSize: 4, privateRanks: 0, poolSeed: 1, seed: 1)
        }
        #expect(throws: AdapterError.self) { try PaCA(layer: l, rank: 9, alpha: 1, seed: 1) }  // more columns than inputs
        #expect(throws: AdapterError.self) { try LoLDU(layer: l, rank: 9, alpha: 1) }  // beyond min(out, in)
        var c = try Self.config("dylora")
        c.zoo.dyloraMinRank = 7
        #expect(throws: AdapterError.self) { try c.validate() }
        let bad = #"{"peft_type": "RANDLORA", "r": 4, "target_modules": ["q"], "init_weights": false}"#
        #expect(throws: AdapterError.self) { try AdapterConfig.decode(Data(bad.utf8)) }
        let mtBad = #"{"peft_type": "PEFTKIT_MTLORA", "r": 4, "target_modules": ["q"], "mtlora_mode": "sum"}"#
        #expect(throws: AdapterError.self) { try AdapterConfig.decode(Data(mtBad.utf8)) }
    }

    @Test("corrupt indices and locations in a loaded file are one-line errors, not crashes")
    func corruptBuffers() throws {
        for name in ["paca", "loca", "qwha", "mos", "triadaptlora"] {
            let peft = PeftModel(AdapterMLP(inFeatures: 8, hidden: 12, outFeatures: 8, seed: 1))
            try peft.addZooAdapter(try Self.config(name))
            try peft.validateZooBuffers(file: "ok.safetensors")  // fresh buffers are valid
            let buffer = try #require((peft.adapters(named: "default")[0].adapter as? ZooAdapter)?.bufferEntries().first?.1)
            buffer.storage[0] = 1e6  // out of every range
            #expect(throws: AdapterError.self, "\(name)") { try peft.validateZooBuffers(file: "bad.safetensors") }
        }
    }

    @Test("merging a model with task-specific MTLoRA branches is refused")
    func mtloraNotMergeable() throws {
        let peft = PeftModel(AdapterMLP(inFeatures: 8, hidden: 12, outFeatures: 8, seed: 1))
        try peft.addZooAdapter(try Self.config("mtlora"))
        #expect(throws: AdapterError.self) { try peft.merge() }
    }

    @Test("MoS pools are shared by all layers of one shape after tying")
    func mosPoolsShared() throws {
        // Two 8 → 8 layers share one pool; the parameter count counts it once.
        let model = AdapterMLP(inFeatures: 8, hidden: 8, outFeatures: 8, seed: 2)
        let peft = PeftModel(model)
        var cfg = try Self.config("mos")
        cfg.zoo.mosPrivateRanks = 1
        let report = try peft.addZooAdapter(cfg)
        let mos = peft.adapters(named: "default").map { $0.adapter as! MixtureOfShards }
        #expect(mos[0].poolA === mos[1].poolA && mos[0].poolB === mos[1].poolB)
        // P(in/l + out/l) once + p(in + out) per layer: 5·(4 + 4) + 2·1·(8 + 8).
        #expect(report.trainable == 5 * 8 + 2 * 16)
    }
}

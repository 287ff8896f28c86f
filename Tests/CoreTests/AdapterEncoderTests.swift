import Foundation
import Testing
import Core
import TestSupport

/// Adapters inside the real encoder layers (BERT layout): each method plugged into its hook.
@Suite("Adapters in transformer encoders")
struct AdapterEncoderTests {
    static let config = TransformerLayerConfig(dim: 8, numHeads: 2, ffnDim: 16)
    static let ids = [0, 3, 1, 4, 2, 5, 0, 2, 6, 1, 7, 3]

    func model(seed: UInt64 = 4) throws -> TinyEncoderClassifier {
        let m = try TinyEncoderClassifier(vocab: 8, maxLength: 8, config: Self.config, numLayers: 2, numClasses: 3, store: .random(seed: seed))
        m.eval()
        return m
    }

    func run(_ m: TinyEncoderClassifier) throws -> Tensor { try withoutGrad { try m(Self.ids, batch: 2, length: 6) } }

    @Test("LoRA on query,value of a BERT-layout encoder: identity at init, merge within 1e-5")
    func lora() throws {
        let m = try model()
        let base = try run(m)
        let peft = PeftModel(m)
        let report = try peft.addAdapter(.lora(r: 2, alpha: 4, targets: ["query", "value"]))
        #expect(report.matchedKeys == ["encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value",
                                       "encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value"])
        #expect(try run(m).storage == base.storage)
        perturbTrainable(m, seed: 2)
        let check = try peft.verifiedMerge { try! run(m) }
        #expect(check.withinGoal, "\(check)")
    }

    @Test("Houlsby bottleneck adapters at both sites; saved and restored through a parameter selection")
    func houlsby() throws {
        func attach(_ m: TinyEncoderClassifier) throws {
            for (i, layer) in m.encoder.layers.items.enumerated() {
                for site in SublayerSite.allCases {
                    layer.setAdapter(try BottleneckAdapter(width: 8, bottleneck: 2, seed: UInt64(10 * i) + (site == .attention ? 1 : 2)), at: site)
                }
            }
        }
        let m = try model()
        let base = try run(m)
        try attach(m)
        #expect(try run(m).storage == base.storage)  // zero up-projection: unchanged
        let peft = PeftModel(m)
        var sel = AdapterConfig(method: .parameterSelection)
        sel.parameterPatterns = [".*\\.adapters\\..*"]
        let report = try peft.addAdapter(sel)
        // Per adapter: down 8·2 + 2, up 2·8 + 8 = 42; 2 layers × 2 sites.
        #expect(report.trainable == 4 * 42)
        #expect(report.selectedParameters.first == "encoder.layer.0.adapters.attention.adapter_down.0.weight")
        perturbTrainable(m, seed: 3)
        let trained = try run(m)
        #expect(trained.storage != base.storage)
        peft.withAdaptersDisabled { #expect((try? run(m))?.storage == base.storage) }

        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try peft.save(to: dir)
        let fresh = try model()
        try attach(fresh)
        try PeftModel(fresh).load(from: dir)
        #expect(try run(fresh).storage == trained.storage)
    }

    @Test("prefix and deep prompt hooks change the output and train")
    func prefixAndPrompts() throws {
        let m = try model()
        let base = try run(m)
        let prefix = PrefixTuning(layers: 2, length: 3, width: 8, hidden: 6, seed: 5)
        for (i, layer) in m.encoder.layers.items.enumerated() { layer.prefix = prefix.layer(i) }
        let withPrefix = try run(m)
        #expect(withPrefix.shape == base.shape && withPrefix.storage != base.storage)
        #expect(m.namedParameters().contains { $0.0 == "encoder.layer.0.attention.self.prefix.transform.2.weight" })
        let prompts = PromptTuning(length: 2, width: 8, layers: 2, initialization: .vpt(width: 8), seed: 6)
        m.encoder.promptProvider = prompts
        m.encoder.promptPosition = 1
        let logits = try m(Self.ids, batch: 2, length: 6)
        logits.sum().backward()
        #expect(prompts.embeddings.gradStorage.map { $0.contains { $0 != 0 } } == true)
        #expect(prefix.embedding!.gradStorage.map { $0.contains { $0 != 0 } } == true)
    }

    @Test("training LoRA + head with AdamW: loss falls, frozen base weights stay bit-identical")
    func training() throws {
        let m = try TinyEncoderClassifier(vocab: OrderTask.vocab, maxLength: 8, config: Self.config, numLayers: 2, numClasses: 2, store: .random(seed: 9))
        m.eval()
        let frozenBefore = m.namedParameters().filter { !$0.0.hasPrefix("classifier") }.map { ($0.0, $0.1.storage) }
        let peft = PeftModel(m)
        var c = AdapterConfig.lora(r: 4, alpha: 8, targets: ["query", "value", "dense"])
        c.modulesToSave = ["classifier"]
        try peft.addAdapter(c)
        let params = peft.trainableParameters()
        let opt = AdamW(learningRate: 1e-2, weightDecay: 0)
        var rng = SplitMix64(seed: 1)
        let (ids, labels) = OrderTask.batch(size: 8, length: 6, using: &rng)
        var losses: [Float] = []
        for _ in 0..<15 {
            let loss = try m(ids, batch: 8, length: 6).crossEntropy(targets: labels)
            losses.append(loss.item)
            loss.backward()
            opt.step(params)
            opt.zeroGrad(params)
        }
        #expect(losses.last! < 0.8 * losses.first!, "\(losses)")
        for ((k, now), (_, was)) in zip(m.namedParameters().filter { !$0.0.hasPrefix("classifier") && !$0.0.contains("lora_") }.map { ($0.0, $0.1.storage) }, frozenBefore) {
            #expect(now == was, "frozen \(k) changed")
        }
        #expect(params.contains { $0.0 == "classifier.weight" } && params.allSatisfy { $0.0.contains("lora_") || $0.0.hasPrefix("classifier") })
    }
}

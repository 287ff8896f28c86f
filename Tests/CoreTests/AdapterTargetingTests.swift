import Testing
import Core
import TestSupport

struct TargetRow: CustomStringConvertible, Sendable {
    let spec: TargetSpec
    let key: String
    let expected: Bool
    let why: String
    var description: String { why }
}

private let q = "encoder.layer.3.attention.self.query"

/// Each row is peft's `check_target_module_exists` outcome for the same inputs (read from
/// peft/tuners/tuners_utils.py; the "why" column names the rule).
let targetRows: [TargetRow] = [
    TargetRow(spec: TargetSpec(targets: .names(["query"])), key: q, expected: true, why: "list: dotted suffix"),
    TargetRow(spec: TargetSpec(targets: .names(["query"])), key: "query", expected: true, why: "list: exact key"),
    TargetRow(spec: TargetSpec(targets: .names(["query"])), key: "encoder.layer.3.attention.self.query_proj", expected: false, why: "list: partial name is not a suffix"),
    TargetRow(spec: TargetSpec(targets: .names(["query"])), key: "encoder.myquery", expected: false, why: "list: suffix needs the dot"),
    TargetRow(spec: TargetSpec(targets: .names(["self.query"])), key: q, expected: true, why: "list: multi-segment suffix"),
    TargetRow(spec: TargetSpec(targets: .regex(".*\\.(query|value)")), key: q, expected: true, why: "regex: full match"),
    TargetRow(spec: TargetSpec(targets: .regex("query")), key: q, expected: false, why: "regex: must match the whole key"),
    TargetRow(spec: TargetSpec(targets: .regex(".*\\.(query|value)")), key: q + ".extra", expected: false, why: "regex: trailing text fails"),
    TargetRow(spec: TargetSpec(targets: .names(["dense"]), exclude: .names(["output.dense"])), key: "encoder.layer.0.attention.output.dense", expected: false, why: "exclude wins"),
    TargetRow(spec: TargetSpec(targets: .names(["dense"]), exclude: .names(["output.dense"])), key: "encoder.layer.0.intermediate.dense", expected: true, why: "exclude does not hit"),
    TargetRow(spec: TargetSpec(targets: .regex(".*dense"), exclude: .regex(".*attention.*")), key: "encoder.layer.0.attention.output.dense", expected: false, why: "regex exclude wins"),
    TargetRow(spec: TargetSpec(targets: .names(["query"]), layersToTransform: [3]), key: q, expected: true, why: "layer index 3 wanted"),
    TargetRow(spec: TargetSpec(targets: .names(["query"]), layersToTransform: [0, 1]), key: q, expected: false, why: "layer index 3 not wanted"),
    TargetRow(spec: TargetSpec(targets: .names([q]), layersToTransform: [0]), key: q, expected: true, why: "exact key skips the layer filter (peft)"),
    TargetRow(spec: TargetSpec(targets: .regex(".*query"), layersToTransform: [0]), key: q, expected: true, why: "regex skips the layer filter (peft)"),
    TargetRow(spec: TargetSpec(targets: .names(["q"]), layersToTransform: [0]), key: "layers.0.q", expected: false, why: "no segment before 'layers': no index (peft regex)"),
    TargetRow(spec: TargetSpec(targets: .names(["w1"]), layersToTransform: [1]), key: "model.layers.1.experts.0.w1", expected: true, why: "first numeric segment is the layer"),
    TargetRow(spec: TargetSpec(targets: .names(["w1"]), layersToTransform: [0]), key: "model.layers.1.experts.0.w1", expected: false, why: "expert index is not the layer"),
    TargetRow(spec: TargetSpec(targets: .names(["query"]), layersToTransform: [2], layersPattern: ["layer"]), key: "model.blocks.7.layer.2.query", expected: true, why: "layers_pattern picks the segment"),
    TargetRow(spec: TargetSpec(targets: .names(["query"]), layersToTransform: [7], layersPattern: ["layer"]), key: "model.blocks.7.layer.2.query", expected: false, why: "layers_pattern ignores other indices"),
    TargetRow(spec: TargetSpec(targets: .allLinear), key: "classifier", expected: false, why: "all-linear leaves the head out"),
    TargetRow(spec: TargetSpec(targets: .allLinear), key: q, expected: true, why: "all-linear takes the rest"),
]

@Suite("Adapter targeting")
struct AdapterTargetingTests {
    @Test("peft matching rules", arguments: targetRows)
    func rule(_ row: TargetRow) {
        #expect(row.spec.matches(row.key) == row.expected, "\(row.why): \(row.key)")
    }

    @Test("injection report: matched keys, unmatched targets, counts")
    func report() throws {
        let model = AdapterAttentionModel()
        let peft = PeftModel(model)
        var c = AdapterConfig.lora(r: 2, alpha: 4, targets: ["q_proj", "v_proj", "nonexistent"])
        c.layersToTransform = [1]
        let r = try peft.addAdapter(c)
        #expect(r.matchedKeys == ["encoder.layers.1.attn.q_proj", "encoder.layers.1.attn.v_proj"])
        #expect(r.unmatchedTargets == ["nonexistent"])
        #expect(r.trainable == 2 * 2 * (8 + 8))
        #expect(r.description.contains("2 module(s) adapted"))
        // Keys sit beside the base keys, with no wrapper segment.
        let keys = model.namedParameters().map(\.0)
        #expect(keys.contains("encoder.layers.1.attn.q_proj.lora_A.weight"))
        #expect(keys.contains("encoder.layers.1.attn.q_proj.weight"))
    }

    @Test("nothing matched: the error lists the model's Linear keys")
    func nothingMatched() {
        let peft = PeftModel(AdapterMLP())
        do {
            try peft.addAdapter(.lora(r: 2, alpha: 4, targets: ["query"]))
            Issue.record("expected an error")
        } catch let e as AdapterError {
            #expect(e == .nothingMatched(targets: "[query]", available: ["lin0", "lin1"]))
            #expect(e.description.contains("lin0, lin1"))
        } catch { Issue.record("\(error)") }
        #expect(peft.configs.isEmpty)
    }

    @Test("bad regex and bad rank are one-line config errors")
    func badInputs() {
        let peft = PeftModel(AdapterMLP())
        var c = AdapterConfig(method: .lora)
        c.targetModules = .regex("lin(")
        // The targeting error arrives wrapped in the config error, so it names the config's file.
        do { try peft.addAdapter(c); Issue.record("should fail") } catch {
            #expect(error is AdapterError && "\(error)".contains("target_modules: 'lin(' is not a valid regular expression"), "\(error)")
        }
        var d = AdapterConfig.lora(r: 0, alpha: 4, targets: ["lin0"])
        #expect(throws: AdapterError.self) { try peft.addAdapter(d) }
        d.r = 2
        d.targetModules = nil
        #expect(throws: AdapterError.self) { try peft.addAdapter(d) }
    }

    @Test("LayerNorm / bias selection unfreezes exactly the matching parameters")
    func selection() throws {
        let model = AdapterAttentionModel()
        let peft = PeftModel(model)
        let r = try peft.addAdapter(.biasTuning())
        let biases = model.namedParameters().filter { $0.0.hasSuffix(".bias") }
        #expect(r.selectedParameters == biases.map(\.0))
        #expect(r.trainable == biases.reduce(0) { $0 + $1.1.count })
        #expect(model.trainableParameters().map(\.0) == biases.map(\.0))
        // GenD-style name selection: only the `mlp.fc1` parameters of every block.
        let m2 = AdapterAttentionModel()
        let p2 = PeftModel(m2)
        let r2 = try p2.addAdapter(.layerNormTuning(normNames: ["fc1"]))
        #expect(r2.selectedParameters == ["encoder.layers.0.mlp.fc1.weight", "encoder.layers.0.mlp.fc1.bias", "encoder.layers.1.mlp.fc1.weight", "encoder.layers.1.mlp.fc1.bias"])
    }

    @Test("several named adapters: only active ones attached and trainable; disable gives the base")
    func namedAdapters() throws {
        let model = AdapterMLP()
        let x = randomTensor([3, 6], seed: 1, requiresGrad: false)
        let base = withoutGrad { model(x) }
        let peft = PeftModel(model)
        try peft.addAdapter(.lora(r: 2, alpha: 4, targets: ["lin0"]), name: "a")
        try peft.addAdapter(.lora(r: 3, alpha: 3, targets: ["lin0", "lin1"]), name: "b")
        #expect(peft.activeAdapters == ["a"])
        #expect(peft.trainableParameters().map(\.0) == ["lin0.lora_A.a.weight", "lin0.lora_B.a.weight"])
        perturbTrainable(model, seed: 3)
        let outA = withoutGrad { model(x) }
        try peft.setActiveAdapters(["b"])
        #expect(peft.trainableParameters().count == 4)
        perturbTrainable(model, seed: 4)
        let outB = withoutGrad { model(x) }
        #expect(outA.storage != outB.storage && outB.storage != base.storage)
        peft.withAdaptersDisabled { #expect(withoutGrad { model(x) }.storage == base.storage) }
        #expect(withoutGrad { model(x) }.storage == outB.storage)
        try peft.setActiveAdapters(["a"])
        #expect(withoutGrad { model(x) }.storage == outA.storage)
        try peft.deleteAdapter("a")
        #expect(withoutGrad { model(x) }.storage == base.storage)
        #expect(throws: AdapterError.self) { try peft.setActiveAdapters(["a"]) }
        #expect(throws: AdapterError.duplicateAdapter(name: "b")) { try peft.addAdapter(.lora(r: 1, alpha: 1, targets: ["lin0"]), name: "b") }
    }
}

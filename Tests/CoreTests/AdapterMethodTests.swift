import Foundation
import Testing
import Core
import TestSupport

/// One row of the method table (peft's `test_custom_models` style): a tiny model, a config,
/// the trainable-parameter formula and whether merging is defined.
struct MethodCase: CustomStringConvertible, Sendable {
    let name: String
    let attention: Bool
    let config: AdapterConfig
    /// Trainable scalars the method adds per matched Linear.
    let perLayer: @Sendable (Linear) -> Int
    let mergeable: Bool
    /// DoRA's weight norm is a constant in the backward pass (peft), so finite differences
    /// through A and B do not match by design; those get their own test.
    let gradCheckFactors: Bool
    var description: String { name }
}

private func cfg(_ method: PeftMethod, _ targets: [String], _ edit: (inout AdapterConfig) -> Void = { _ in }) -> AdapterConfig {
    var c = AdapterConfig(method: method)
    c.targetModules = .names(targets)
    c.r = 3
    c.loraAlpha = 6
    c.seed = 11
    edit(&c)
    return c
}

let adapterMethodCases: [MethodCase] = [
    MethodCase(name: "LoRA mlp", attention: false, config: cfg(.lora, ["lin0", "lin1"]),
               perLayer: { 3 * ($0.inFeatures + $0.outFeatures) }, mergeable: true, gradCheckFactors: true),
    MethodCase(name: "rsLoRA attention q,v", attention: true, config: cfg(.lora, ["q_proj", "v_proj"]) { $0.useRSLoRA = true },
               perLayer: { 3 * ($0.inFeatures + $0.outFeatures) }, mergeable: true, gradCheckFactors: true),
    MethodCase(name: "LoRA gaussian all-linear", attention: true, config: cfg(.lora, []) { $0.targetModules = .allLinear; $0.initLoraWeights = .gaussianA },
               perLayer: { 3 * ($0.inFeatures + $0.outFeatures) }, mergeable: true, gradCheckFactors: true),
    // Reduction factor 4 on width-8 layers: rank 2 for q/v (in 8), rank 3 for fc2 (in 12).
    MethodCase(name: "LoRA reduction factor", attention: true, config: cfg(.lora, ["q_proj", "v_proj", "fc2"]) { $0.reductionFactor = 4; $0.initLoraWeights = .kaimingB },
               perLayer: { ($0.inFeatures / 4) * ($0.inFeatures + $0.outFeatures) }, mergeable: true, gradCheckFactors: true),
    MethodCase(name: "DoRA mlp", attention: false, config: cfg(.lora, ["lin0", "lin1"]) { $0.useDoRA = true },
               perLayer: { 3 * ($0.inFeatures + $0.outFeatures) + $0.outFeatures }, mergeable: true, gradCheckFactors: false),
    MethodCase(name: "DoRA attention with bias lora_only", attention: true, config: cfg(.lora, ["k_proj", "o_proj"]) { $0.useDoRA = true; $0.bias = .loraOnly },
               perLayer: { 3 * ($0.inFeatures + $0.outFeatures) + 2 * $0.outFeatures }, mergeable: true, gradCheckFactors: false),
    MethodCase(name: "IA3 attention (fc2 feed-forward)", attention: true, config: cfg(.ia3, ["k_proj", "v_proj", "fc2"]) { $0.feedforwardModules = .names(["fc2"]) },
               perLayer: { $0.inFeatures == 12 ? $0.inFeatures : $0.outFeatures }, mergeable: true, gradCheckFactors: true),
    MethodCase(name: "singular values mlp", attention: false, config: cfg(.singularValues, ["lin0", "lin1"]),
               perLayer: { Swift.min($0.inFeatures, $0.outFeatures) }, mergeable: true, gradCheckFactors: true),
    MethodCase(name: "singular values attention", attention: true, config: cfg(.singularValues, ["q_proj", "fc1"]),
               perLayer: { Swift.min($0.inFeatures, $0.outFeatures) }, mergeable: true, gradCheckFactors: true),
    MethodCase(name: "expert LoRA (2 experts)", attention: true, config: cfg(.expertLoRA, ["q_proj", "v_proj"]) { $0.numExperts = 2 },
               perLayer: { 2 * 3 * ($0.inFeatures + $0.outFeatures) }, mergeable: false, gradCheckFactors: true),
    MethodCase(name: "task LoRA shared+task", attention: true, config: cfg(.taskLoRA, ["q_proj", "v_proj"]) { $0.tasks = ["asr", "vsr", "avsr"]; $0.taskMode = .sharedAndTask },
               perLayer: { 4 * 3 * ($0.inFeatures + $0.outFeatures) }, mergeable: false, gradCheckFactors: true),
    MethodCase(name: "task LoRA shared only", attention: false, config: cfg(.taskLoRA, ["lin1"]) { $0.taskMode = .shared },
               perLayer: { 3 * ($0.inFeatures + $0.outFeatures) }, mergeable: true, gradCheckFactors: true),
    MethodCase(name: "LoRA + modules_to_save head", attention: true, config: cfg(.lora, ["q_proj"]) { $0.modulesToSave = ["classifier"] },
               perLayer: { 3 * ($0.inFeatures + $0.outFeatures) }, mergeable: true, gradCheckFactors: true),
]

/// A fresh tiny model, its forward, and a fixed input.
private func makeModel(_ c: MethodCase) -> (Module, (Tensor) -> Tensor, Tensor) {
    if c.attention {
        let m = AdapterAttentionModel()
        return (m, { m($0) }, randomTensor([2, 4, 8], seed: 3, requiresGrad: false))
    }
    let m = AdapterMLP()
    return (m, { m($0) }, randomTensor([3, 6], seed: 3, requiresGrad: false))
}

/// Sets the per-call inputs of expert and task adapters (2 samples in the attention batch).
private func preparePerCallInputs(_ peft: PeftModel, name: String = "default") {
    for (_, a) in peft.adapters(named: name) {
        if let e = a as? ExpertLoRA { e.mixWeights = Tensor([0.8, 0.2, 0.3, 0.7], shape: [2, 2]) }
        if let t = a as? TaskRoutedLoRA { t.task = t.taskAdapters.dropFirst().first?.task }
    }
}

@Suite("Adapter methods (table)")
struct AdapterMethodTests {
    @Test("output equals the base right after injection; trainable count matches the formula", arguments: adapterMethodCases)
    func identityAndCount(_ c: MethodCase) throws {
        let (model, f, x) = makeModel(c)
        let before = withoutGrad { f(x) }
        let total0 = model.parameterCounts().total
        let peft = PeftModel(model)
        let report = try peft.addAdapter(c.config)
        preparePerCallInputs(peft)
        let after = withoutGrad { f(x) }
        // Every method starts at an exact identity (B = 0, m = ‖W‖, s = s₀, l = 1): bit-equal.
        #expect(maxAbsDifference(after, before) == 0, "\(c.name): \(differenceReport(after, before))")
        let layers = report.matchedKeys.map { model.module(at: $0) as! Linear }
        var expected = layers.reduce(0) { $0 + c.perLayer($1) }
        if let saved = c.config.modulesToSave, saved.contains("classifier") { expected += 8 * 3 + 3 }
        #expect(report.trainable == expected, "\(c.name): \(report)")
        #expect(report.total - total0 == expected - report.selectedParameters.reduce(0) { n, k in n + (model.namedParameters().first { $0.0 == k }?.1.count ?? 0) })
        #expect(!report.matchedKeys.isEmpty)
    }

    @Test("merged equals unmerged within 1e-5; unmerge restores the weights", arguments: adapterMethodCases)
    func mergeUnmerge(_ c: MethodCase) throws {
        let (model, f, x) = makeModel(c)
        let originals = model.namedParameters().map { ($0.0, $0.1.storage) }
        let peft = PeftModel(model)
        try peft.addAdapter(c.config)
        preparePerCallInputs(peft)
        perturbTrainable(model, seed: 99)
        let trainedBase = model.namedParameters().map { ($0.0, $0.1.storage) }
        let unmerged = withoutGrad { f(x) }
        guard c.mergeable else {
            #expect(throws: AdapterError.self) { try peft.merge() }
            return
        }
        let check = try peft.verifiedMerge { f(x) }
        #expect(check.withinGoal, "\(c.name): \(check)")
        #expect(peft.isMerged || c.config.method == .parameterSelection)
        peft.unmerge()
        let restored = withoutGrad { f(x) }
        #expect(relativeDeviation(restored, unmerged) <= 1e-5)
        for ((k, now), (_, was)) in zip(model.namedParameters().map { ($0.0, $0.1.storage) }, trainedBase) {
            let worst = zip(now, was).reduce(Float(0)) { Swift.max($0, Swift.abs($1.0 - $1.1)) }
            #expect(worst <= 1e-6, "\(c.name): \(k) off by \(worst) after unmerge")
        }
        // merge-and-unload leaves a plain model computing the adapted function.
        try peft.mergeAndUnload()
        #expect(relativeDeviation(withoutGrad { f(x) }, unmerged) <= 1e-5)
        #expect(model.namedParameters().count == originals.count, "adapter parameters remain after unload")
    }

    @Test("gradients of the adapter parameters match finite differences; the base gets none", arguments: adapterMethodCases)
    func gradients(_ c: MethodCase) throws {
        let (model, f, x) = makeModel(c)
        let peft = PeftModel(model)
        try peft.addAdapter(c.config)
        preparePerCallInputs(peft)
        perturbTrainable(model, seed: 5, std: 0.2)
        var inputs = peft.trainableParameters().map(\.1)
        if !c.gradCheckFactors {
            let factors = Set(peft.adapters(named: "default").flatMap { $0.adapter.stateEntries().filter { $0.0.hasPrefix("lora_A") || $0.0.hasPrefix("lora_B") }.map { ObjectIdentifier($0.1) } })
            inputs = inputs.filter { !factors.contains(ObjectIdentifier($0)) }
        }
        let result = gradCheck(inputs, eps: 1e-2) { _ in f(x) }
        #expect(result.passed, "\(c.name): \(result)")
        // The frozen base got no gradient buffers at all.
        for (k, p) in model.namedParameters() where !p.requiresGrad {
            #expect(p.gradStorage == nil, "\(c.name): frozen \(k) received a gradient")
        }
    }

    @Test("save → load into a fresh base gives identical outputs", arguments: adapterMethodCases)
    func saveLoad(_ c: MethodCase) throws {
        let (model, f, x) = makeModel(c)
        let peft = PeftModel(model)
        try peft.addAdapter(c.config)
        preparePerCallInputs(peft)
        perturbTrainable(model, seed: 21)
        let expected = withoutGrad { f(x) }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try peft.save(to: dir)

        let (fresh, g, _) = makeModel(c)
        let loaded = PeftModel(fresh)
        let report = try loaded.load(from: dir, trainable: true)
        preparePerCallInputs(loaded)
        #expect(report.unusedKeys.isEmpty, "\(report.unusedKeys)")
        #expect(report.warnings.isEmpty, "\(report.warnings)")
        let got = withoutGrad { g(x) }
        #expect(maxAbsDifference(got, expected) == 0, "\(c.name): \(differenceReport(got, expected))")
        #expect(loaded.trainableParameters().count == peft.trainableParameters().count)
    }
}

import Foundation
import Testing
import Core
import TestSupport

@Suite struct OptimizerTests {
    func param(_ values: [Float], _ name: String = "w") -> (String, Tensor) {
        (name, Tensor(values, shape: [values.count], requiresGrad: true))
    }

    /// AdamW(lr 0.1, betas 0.9/0.999, eps 1e-8, weight decay 0.1), p₀ = [1, −2], g₁ = [0.5, −1], g₂ = [−0.25, 0].
    /// Worked by hand with torch.optim.AdamW's order (decay, moments, bias-corrected step):
    ///  step 1, p=1:  decay → 0.99; m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25;
    ///                0.99 − 0.1·0.5/(0.5 + 1e-8) = 0.890000002
    ///  step 2, p:    decay → 0.881100002; m = 0.9·0.05 − 0.1·0.25 = 0.02; v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225;
    ///                m̂ = 0.02/0.19 = 0.10526316, v̂ = 0.00031225/0.001999 = 0.15620310 (√ = 0.39522538);
    ///                0.881100002 − 0.1·0.10526316/0.39522539 = 0.85446630
    ///  step 1, p=−2: decay → −1.98; m̂ = −1, v̂ = 1; −1.98 + 0.1 = −1.88
    ///  step 2:       decay → −1.8612; m = −0.09, v = 0.000999; m̂ = −0.47368421, v̂ = 0.49974987 (√ = 0.70693);
    ///                −1.8612 + 0.1·0.47368421/0.70693 = −1.79419418
    /// (Python in Double gives 0.8544662986878463 and −1.7941941765241887.)
    @Test func adamWTwoStepsByHand() {
        let p = param([1, -2])
        let opt = AdamW(learningRate: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1)
        p.1.gradStorage = [0.5, -1]
        opt.step([p])
        #expect(Swift.abs(p.1.storage[0] - 0.890000002) < 1e-6 && Swift.abs(p.1.storage[1] + 1.88) < 1e-6, "\(p.1.storage)")
        p.1.gradStorage = [-0.25, 0]
        opt.step([p])
        #expect(Swift.abs(p.1.storage[0] - 0.8544662987) < 1e-6, "\(p.1.storage)")
        #expect(Swift.abs(p.1.storage[1] + 1.7941941765) < 1e-6, "\(p.1.storage)")
        #expect(opt.stepCount("w") == 2)
        // No gradient: untouched (PyTorch skips parameters whose grad is None), no state created.
        let q = param([3])
        opt.step([q])
        #expect(q.1.storage == [3] && opt.stepCount("w") == 2 && opt.stateDict()["w.step"]?.item == 2)
    }

    /// One step of torch.optim.AdamW (lr 1e-3, wd 0.01) from `fixtures/minilm/train_step`: start values
    /// (LoRA A/B + classifier), PyTorch's gradients, and PyTorch's parameters after the step.
    @Test func adamWMatchesPyTorchStep() throws {
        let dir = TestPaths.fixture("minilm/train_step")
        var start = try FixtureTensors.load(dir.appendingPathComponent("adapter_model.safetensors"))
        start.merge(try FixtureTensors.load(dir.appendingPathComponent("head.safetensors"))) { a, _ in a }
        let grads = try FixtureTensors.load(dir.appendingPathComponent("grads.safetensors"))
        let after = try FixtureTensors.load(dir.appendingPathComponent("after_adamw.safetensors"))
        #expect(start.count == 26 && Set(start.keys) == Set(grads.keys))
        let params = start.keys.sorted().map { ($0, start[$0]!) }
        for (name, p) in params { p.requiresGrad = true; p.gradStorage = grads[name]!.storage }
        AdamW(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01).step(params)
        var worst: Float = 0
        for (name, p) in params {
            let reference = try #require(after[name])
            let d = try #require(maxAbsDifference(p, reference))
            worst = Swift.max(worst, d)
        }
        // Float32 rounding of values O(0.1–1): one or two ulps.
        #expect(worst <= 2e-7, "worst |Swift − PyTorch| = \(worst)")
    }

    @Test func adamWWeightDecayRuleAndResume() throws {
        #expect(WeightDecayRule.excludeBiasAndNorm.applies(to: "encoder.layer.0.output.dense.weight"))
        #expect(!WeightDecayRule.excludeBiasAndNorm.applies(to: "encoder.layer.0.output.dense.bias"))
        #expect(!WeightDecayRule.excludeBiasAndNorm.applies(to: "encoder.layer.0.output.LayerNorm.weight"))
        #expect(!WeightDecayRule.excludeBiasAndNorm.applies(to: "encoder.layer.0.layernorm_before.weight"))
        // Resume: steps 1–2, save, continue on a fresh optimizer, equal to an uninterrupted run.
        let grads: [[Float]] = [[0.3, -0.1], [0.2, 0.4], [-0.5, 0.05], [0.1, 0.1]]
        let a = param([0.5, 1.5]), b = param([0.5, 1.5])
        let full = AdamW(learningRate: 0.05)
        var first = AdamW(learningRate: 0.05)
        for (i, g) in grads.enumerated() {
            a.1.gradStorage = g
            full.step([a])
            b.1.gradStorage = g
            first.step([b])
            if i == 1 {
                let saved = first.stateDict()
                first = AdamW(learningRate: 0.05)
                try first.loadStateDict(saved, for: [b])
            }
        }
        #expect(a.1.storage == b.1.storage)
        #expect(throws: OptimizerError.self) { try AdamW().loadStateDict(["v.exp_avg": Tensor([1])], for: [b]) }
        #expect(throws: OptimizerError.stateShapeMismatch(key: "w.exp_avg", expected: [2], found: [3])) {
            try AdamW().loadStateDict(["w.exp_avg": Tensor([1, 2, 3])], for: [b])
        }
    }

    /// torch.optim.SGD, lr 0.1, weight decay 0.05, p₀ = 1, gradients 0.5, −0.25, 1.0.
    /// Momentum 0.9, dampening 0.1:
    ///  1: d = 0.5 + 0.05·1 = 0.55, buf = 0.55 (first step: no dampening), p = 1 − 0.055 = 0.945
    ///  2: d = −0.25 + 0.04725 = −0.20275, buf = 0.9·0.55 + 0.9·(−0.20275) = 0.312525, p = 0.9137475
    ///  3: d = 1 + 0.045687375 = 1.045687375, buf = 0.2812725 + 0.9411186375 = 1.2223911375, p = 0.79150839
    /// Nesterov (momentum 0.9, dampening 0):
    ///  1: d = 0.55, buf = 0.55, step d + 0.9·buf = 1.045, p = 0.8955
    ///  2: d = −0.205225, buf = 0.289775, step 0.0555725, p = 0.88994275
    ///  3: d = 1.0444971375, buf = 1.3052946375, step 2.21926231, p = 0.66801652
    @Test func sgdMomentumDampeningNesterovByHand() {
        let expected: [(Bool, [Float])] = [(false, [0.945, 0.9137475, 0.79150839]), (true, [0.8955, 0.88994275, 0.66801652])]
        for (nesterov, values) in expected {
            let p = param([1])
            let opt = SGD(learningRate: 0.1, momentum: 0.9, dampening: nesterov ? 0 : 0.1, nesterov: nesterov, weightDecay: 0.05)
            for (g, want) in zip([Float(0.5), -0.25, 1.0], values) {
                p.1.gradStorage = [g]
                opt.step([p])
                #expect(Swift.abs(p.1.storage[0] - want) < 1e-6, "nesterov \(nesterov): \(p.1.storage[0]) vs \(want)")
            }
            #expect(opt.stateDict()["w.momentum_buffer"] != nil)
        }
        // Plain SGD: p − lr·g.
        let p = param([2, -1])
        p.1.gradStorage = [1, -4]
        SGD(learningRate: 0.5).step([p])
        #expect(p.1.storage == [1.5, 1])
    }

    /// Hugging Face schedules (lr_lambda), warmup 10, total 110:
    /// linear: s/10 in warmup, then (110 − s)/100; cosine: ½(1 + cos(π·(s − 10)/100)), with min-lr rate r: f·(1 − r) + r.
    @Test func schedulesMatchHuggingFaceFormulas() {
        let linear = LRSchedule.linear(warmup: 10, total: 110)
        let want: [(Int, Double)] = [(0, 0), (5, 0.5), (10, 1), (60, 0.5), (110, 0), (200, 0)]
        for (s, f) in want { #expect(Swift.abs(linear.factor(at: s, base: 1) - f) < 1e-12, "linear \(s)") }
        let cosine = LRSchedule.cosine(warmup: 10, total: 110)
        let wantCos: [(Int, Double)] = [(0, 0), (5, 0.5), (10, 1), (35, 0.8535533905932737), (60, 0.5), (85, 0.14644660940672627), (110, 0)]
        for (s, f) in wantCos { #expect(Swift.abs(cosine.factor(at: s, base: 1) - f) < 1e-12, "cosine \(s)") }
        let floor = LRSchedule.cosine(warmup: 10, total: 110, minLR: 1e-4)
        #expect(Swift.abs(floor.learningRate(at: 60, base: 1e-3) - 0.55e-3) < 1e-15)
        #expect(Swift.abs(floor.learningRate(at: 110, base: 1e-3) - 1e-4) < 1e-15)
        #expect(LRSchedule.constant().learningRate(at: 1000, base: 3e-4) == 3e-4)
        #expect(LRSchedule.constant(warmup: 4).factor(at: 1, base: 1) == 0.25)
    }

    /// clip_grad_norm_: grads (3, 4) and (12) have global norm 13; max 6.5 scales by 6.5/(13 + 1e-6).
    @Test func globalNormClipping() {
        let a = Tensor([0, 0], requiresGrad: true), b = Tensor([0], requiresGrad: true), c = Tensor([5], requiresGrad: true)
        a.gradStorage = [3, 4]
        b.gradStorage = [12]
        let norm = clipGradNorm([("a", a), ("b", b), ("c", c)], maxNorm: 6.5)
        #expect(norm == 13)
        let coef = Float(6.5) / (13 + 1e-6)
        #expect(a.gradStorage! == [3 * coef, 4 * coef] && b.gradStorage! == [12 * coef] && c.gradStorage == nil)
        // Below the limit: unchanged, norm still reported.
        let n2 = clipGradNorm([a, b], maxNorm: 100)
        #expect(Swift.abs(n2 - 6.5) < 1e-5 && a.gradStorage! == [3 * coef, 4 * coef])
    }
}

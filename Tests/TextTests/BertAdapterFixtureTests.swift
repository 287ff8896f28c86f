import Core
import Foundation
import Testing
import TestSupport
import Text

/// peft's LoRA and DoRA adapters for all-MiniLM-L6-v2 (`fixtures/minilm/{lora,dora,train_step}`,
/// made by peft 0.21 / transformers 5.24) loaded through Core's PEFT loader onto `BertModel`:
/// adapted forwards (unmerged and merged), and one LoRA token-classification training step —
/// logits, loss, every gradient and the parameters after one AdamW step.
@Suite struct BertAdapterFixtureTests {
    func loadModel() throws -> BertModel {
        let (model, _) = try BertModel.load(folder: try BertFixtures.miniLMFolder(), addPooler: false)
        model.eval()
        return model
    }

    @Test(arguments: ["lora", "dora"])
    func adaptedForwardMatchesPeft(_ method: String) throws {
        let model = try loadModel()
        let peft = PeftModel(model)
        let report = try peft.load(from: TestPaths.fixture("minilm/" + method))
        #expect(report.unusedKeys.isEmpty, "unused adapter tensors: \(report.unusedKeys)")
        #expect(report.injection.matchedKeys.count == 12, "query and value in 6 layers")
        let (input, _) = try BertFixtures.forwardInput()
        let expected = try BertFixtures.tensors("\(method)/\(method)_forward.safetensors")
        let unmerged = try withoutGrad { try model(input).lastHiddenState }
        BertFixtures.expectClose(unmerged, expected["last_hidden_state"], "\(method) unmerged")
        try peft.merge()
        let merged = try withoutGrad { try model(input).lastHiddenState }
        BertFixtures.expectClose(merged, expected["merged_last_hidden_state"], "\(method) merged")
        // Unmerging restores the adapted (unmerged) outputs.
        peft.unmerge()
        let again = try withoutGrad { try model(input).lastHiddenState }
        BertFixtures.expectClose(again, expected["last_hidden_state"], "\(method) after unmerge")
    }

    @Test func loraTokenClassificationStepMatchesPyTorch() throws {
        let bert = try loadModel()
        let head = try BertFixtures.tensors("train_step/head.safetensors")
        let w = try #require(head["classifier.weight"]), b = try #require(head["classifier.bias"])
        w.requiresGrad = true
        b.requiresGrad = true
        let model = BertForTokenClassification(bert: bert, classifier: Linear(weight: w, bias: b))
        model.eval()  // the fixture's step ran in eval mode (no dropout)
        // The fixture wrapped the bare BertModel in peft, so its keys have no `bert.` segment.
        let peft = PeftModel(bert)
        try peft.load(from: TestPaths.fixture("minilm/train_step"), trainable: true)
        let (input, _) = try BertFixtures.forwardInput()
        let step = try BertFixtures.tensors("train_step/step.safetensors")
        let labels = try #require(step["labels"]).storage.map { Int($0) }

        let (logits, lossOrNil) = try model(input, labels: labels)
        let loss = try #require(lossOrNil)
        BertFixtures.expectClose(logits, step["logits"], "logits")
        // step.json: "loss": 2.350140333175659
        #expect(abs(loss.item - 2.350140333175659) < 1e-5, "loss \(loss.item)")
        loss.backward()

        // The live adapter tensors under the fixture's (file) names, then the head.
        var named = try peft.adapterStateDict()
        #expect(named.allSatisfy { $0.1.requiresGrad })
        named += [("classifier.weight", w), ("classifier.bias", b)]
        let grads = try BertFixtures.tensors("train_step/grads.safetensors")
        #expect(grads.count == named.count && named.count == 26)
        for (key, t) in named {
            let g = try #require(t.grad, "no gradient for \(key)")
            let expected = try #require(grads[key], "fixture has no gradient \(key)")
            let rel = BertFixtures.relativeError(g, expected)
            #expect(rel <= 1e-4, "gradient \(key): max error \(rel) of the tensor's max magnitude")
        }

        // step.json: torch.optim.AdamW lr=1e-3 betas=(0.9,0.999) eps=1e-8 weight_decay=0.01, one step.
        // The first AdamW step moves each element by lr·g/(|g|+ε) (plus decay). Where the reference
        // gradient is below 100·ε = 1e-6 that quotient is ill-conditioned: a gradient difference of
        // 1e-9 — far inside the 1e-4 relative gradient tolerance — changes the step by several
        // percent of lr. So (a) our own step must match to 1e-6 where |g| ≥ 1e-6 and stay within
        // one step size (lr plus decay) elsewhere, and (b) the same optimizer fed the fixture's own
        // gradients must match everywhere to 1e-6.
        let lr: Float = 1e-3
        let before = named.map { $0.1.storage }
        let after = try BertFixtures.tensors("train_step/after_adamw.safetensors")
        AdamW(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01).step(named)
        var illConditioned = 0
        for (i, (key, t)) in named.enumerated() {
            let expected = try #require(after[key]), g = try #require(grads[key])
            var worst: Float = 0
            for j in 0..<t.count {
                let d = abs(t.storage[j] - expected.storage[j])
                if abs(g.storage[j]) >= 1e-6 {
                    worst = max(worst, d)
                } else {
                    illConditioned += 1
                    #expect(abs(t.storage[j] - before[i][j]) <= lr * 1.01, "\(key)[\(j)] moved more than one step")
                }
            }
            #expect(worst <= 1e-6, "\(key) after AdamW: max |diff| \(worst) where |g| ≥ 1e-6")
        }
        #expect(illConditioned < 1000, "\(illConditioned) of 77193 elements have |g| < 1e-6")
        // (b) the optimizer alone, on the reference gradients.
        for (i, (key, t)) in named.enumerated() {
            t.storage = before[i]
            t.gradStorage = try #require(grads[key]).storage
        }
        AdamW(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01).step(named)
        for (key, t) in named {
            BertFixtures.expectClose(t, after[key], atol: 1e-6, "\(key) after AdamW on the reference gradients")
        }
    }
}

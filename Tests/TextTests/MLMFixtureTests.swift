import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// `fixtures/minilm/mlm/` (tools/make_mlm_fixture.py; transformers 5.24 `BertForMaskedLM` +
/// peft 0.21 LoRA r 16 / alpha 32 on query, key, value, attention.output.dense with the head's
/// transform as `modules_to_save`): one masked batch on the real all-MiniLM-L6-v2 in eval mode —
/// logits at the picked positions, the loss, every gradient and the parameters after one AdamW
/// step. Tolerances are the fixtures README's (1e-4 absolute on O(1) outputs, 1e-4 of the
/// tensor's max for gradients).
@Suite struct MLMFixtureTests {
    /// The fixture's model: MiniLM + its saved head + its LoRA start values (trainable).
    func fixtureModel() throws -> (model: BertForMaskedLM, peft: PeftModel) {
        let (bert, _) = try BertModel.load(folder: try BertFixtures.miniLMFolder(), addPooler: false)
        let headFile = try FixtureTensors.load(TestPaths.fixture("minilm/mlm/mlm_head.safetensors"))
        // The head is read through our own loader (the path checkpoints with `cls.` take).
        let store = WeightStore(tensors: headFile)
        let head = try BertForMaskedLM.makeHead(for: bert, from: store.root.pp("cls"), seed: 99)
        #expect(store.unusedKeys.isEmpty, "head tensors not read: \(store.unusedKeys)")
        let model = BertForMaskedLM(bert: bert, cls: head)
        model.eval()  // the fixture ran in eval mode
        let peft = PeftModel(model)
        let report = try peft.load(from: TestPaths.fixture("minilm/mlm"), trainable: true)
        #expect(report.unusedKeys.isEmpty, "unused adapter tensors: \(report.unusedKeys)")
        #expect(report.injection.matchedKeys.count == 24, "4 modules in 6 layers")
        return (model, peft)
    }

    /// The fixture's masked batch as a `MaskedBatch` (positions from `labels`, row-major — the
    /// order of torch's `pick.nonzero()`).
    func fixtureBatch() throws -> (batch: MaskedBatch, step: [String: Tensor]) {
        let step = try BertFixtures.tensors("mlm/step.safetensors")
        let ids = try #require(step["masked_input_ids"]), mask = try #require(step["attention_mask"])
        let labels = try #require(step["labels"]).storage.map { Int($0) }
        let input = try BertInput(inputIDs: ids.storage.map { Int($0) }, batch: ids.shape[0], length: ids.shape[1],
                                  attentionMask: mask.storage.map { Int($0) })
        let positions = labels.indices.filter { labels[$0] != -100 }
        let index = try #require(step["masked_index"]).storage.map { Int($0) }
        #expect(positions == stride(from: 0, to: index.count, by: 2).map { index[$0] * ids.shape[1] + index[$0 + 1] })
        return (MaskedBatch(input: input, positions: positions, targets: positions.map { labels[$0] }), step)
    }

    @Test func maskedLMStepMatchesPyTorch() throws {
        let (model, peft) = try fixtureModel()
        let (batch, step) = try fixtureBatch()
        #expect(batch.positions.count == 6)  // step.json: "masked_positions": 6
        let trainable = peft.trainableParameters()
        // step.json: trainable_parameters 443520 (LoRA 294912 + transform 148608); the output bias is frozen.
        #expect(trainable.reduce(0) { $0 + $1.1.count } == 443_520)

        let (loss, logits) = try model.loss(batch)
        BertFixtures.expectClose(logits, step["masked_logits"], "masked logits")
        // step.json: "loss": 10.824450492858887
        #expect(abs(loss.item - 10.824450492858887) < 1e-4, "loss \(loss.item)")
        loss.backward()

        // Our adapter-file names → peft's in-memory names used by grads/after_adamw.
        func memoryName(_ key: String) -> String {
            key.replacingOccurrences(of: ".lora_A.", with: ".lora_A.default.")
                .replacingOccurrences(of: ".lora_B.", with: ".lora_B.default.")
                .replacingOccurrences(of: "predictions.transform.", with: "predictions.transform.modules_to_save.default.")
        }
        // The live tensors (adapterStateDict copies the modules_to_save values).
        let named = trainable.map { (memoryName(PeftModel.keyPrefix + $0.0), $0.1) }
        #expect(Set(named.map(\.0)) == Set(try peft.adapterStateDict().map { memoryName($0.0) }))
        let grads = try BertFixtures.tensors("mlm/grads.safetensors")
        #expect(named.count == 52 && grads.count == 52)
        var worstRel: Float = 0
        for (key, t) in named {
            let g = try #require(t.grad, "no gradient for \(key)")
            let expected = try #require(grads[key], "fixture has no gradient \(key)")
            let rel = BertFixtures.relativeError(g, expected)
            worstRel = max(worstRel, rel)
            #expect(rel <= 1e-4, "gradient \(key): max error \(rel) of the tensor's max magnitude")
        }
        print("MLM fixture: loss \(loss.item), worst relative gradient error \(worstRel)")

        // One AdamW step (step.json: lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0.01). As in the
        // token-classification fixture test: where |g| < 1e-6 the first step lr·g/(|g|+ε) is
        // ill-conditioned, so there we require at most one step of movement; elsewhere 1e-6.
        let lr: Float = 1e-3
        let before = named.map { $0.1.storage }
        let after = try BertFixtures.tensors("mlm/after_adamw.safetensors")
        AdamW(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01).step(named)
        var illConditioned = 0, total = 0
        for (i, (key, t)) in named.enumerated() {
            let expected = try #require(after[key]), g = try #require(grads[key])
            var worst: Float = 0
            for j in 0..<t.count {
                total += 1
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
        #expect(illConditioned < total / 100, "\(illConditioned) of \(total) elements have |g| < 1e-6")
    }

    /// The same step through the live module tree: the transform's parameters as seen by the
    /// model are the tensors the adapter file names, and the tied decoder is the embedding table.
    @Test func headIsTiedAndOnlyTransformTrains() throws {
        let (model, peft) = try fixtureModel()
        #expect(model.head.decoderWeight === model.bert.embeddings.wordEmbeddings.weight)
        #expect(!model.head.bias.requiresGrad && !model.head.decoderWeight.requiresGrad)
        let keys = Set(peft.trainableParameters().map(\.0))
        #expect(keys.contains("cls.predictions.transform.dense.weight"))
        #expect(keys.contains("cls.predictions.transform.LayerNorm.bias"))
        #expect(!keys.contains("cls.predictions.bias"))
        #expect(keys.filter { $0.contains("lora_") }.count == 48)
    }
}

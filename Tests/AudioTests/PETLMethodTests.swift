@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The PETL-AST method set on AST: trainable-parameter counts against the closed forms of
/// methods.md §5 for AST-base shapes (random weights), and the behaviour each method must have
/// on the tiny fixture AST (zero-start adapters leave the output unchanged, prompts drop the
/// distillation token, gradients reach only the trainable tensors).
@Suite("PETL methods", .serialized)
struct PETLMethodTests {
    static let tinyDir = TestPaths.fixture("tiny/ast")

    static func config(_ m: PETLMethod, _ edit: (inout PETLConfig) -> Void = { _ in }) -> PETLConfig {
        var c = PETLConfig(method: m)
        edit(&c)
        return c
    }

    /// AST-base (d 768, L 12, F 3072, 1024 frames) with ESC-50's 50 classes. Expected values are
    /// worked by hand from the shapes (comments); the formula must give the same numbers.
    @Test("AST-base trainable counts equal the formulas and the paper's 0.29 %")
    func astBaseCounts() throws {
        let labels = (0..<50).map { "c\($0)" }
        let shapes = PETLShapes(width: 768, layers: 12, ffn: 3072, attentionBiases: 4, classes: 50)
        // Backbone: patch conv 768·256+768 = 197,376; cls+dist 1,536; positions 1,214·768 = 932,352;
        // per layer 4·(768²+768) + (768·3072+3072) + (3072·768+768) + 4·768 = 7,087,872 (×12);
        // final LN 1,536 → 86,187,264.
        let backboneTotal = 86_187_264
        let cases: [(PETLConfig, Int)] = [
            (Self.config(.linear), 39_986),                                      // 2·768 + 768·50 + 50
            (Self.config(.full), 86_225_714),                                    // 86,187,264 + 38,450
            (Self.config(.bitfit), 140_594),                                     // 12·(4·768+3072+768+2·768) + 768 + 38,450
            (Self.config(.lora), 482_354),                                       // r 12: 12·2·2·768·12 + 39,986
            (Self.config(.prompt), 270_386),                                     // 12·25·768 + 39,986
            (Self.config(.prompt) { $0.deepPrompts = false }, 59_186),           // 25·768 + 39,986
            (Self.config(.prefix), 261_170),                                     // 12·24·768 + 39,986
            (Self.config(.adapter), 215_186),                                    // b 8: 12·(2·768·8+8+768) + 12·1,536 + 39,986
            (Self.config(.adapter) { $0.layout = .houlsby; $0.parallel = false }, 390_386),
            (Self.config(.conformerAdapter), 292_274),                           // 12·19,488 + 18,432 + 39,986
            (Self.config(.conformerAdapter) { $0.layout = .houlsby }, 544_562),
            (Self.config(.conformerAdapter) { $0.adapterReductionRate = 64; $0.kernelSize = 15 }, 12 * (3 * 768 * 12 + 12 * 20 + 768) + 18_432 + 39_986),
        ]
        for (config, expected) in cases {
            let backbone = try ASTBackbone(randomShapes: "base", maxLength: 1024, seed: 1)
            let model = try PETLClassifier(backbone: backbone, labels: labels, config: config)
            #expect(model.backboneParameterCount == backboneTotal)
            let formula = PETLParameterFormula.trainable(config, shapes: shapes, backboneTrainableInFull: backboneTotal)
            #expect(model.trainableCount == expected, "\(config.summary): module tree \(model.trainableCount), hand value \(expected)")
            #expect(formula == expected, "\(config.summary): formula \(formula), hand value \(expected)")
        }
        // The paper's headline: Conformer RR 96 (Pfeiffer) trains 0.29 % of AST without the head.
        let share = 100 * Double(292_274 - 38_450) / Double(backboneTotal)
        #expect(abs(share - 0.2945) < 0.0005)
    }

    /// Whisper tiny.en encoder shapes (d 384, L 4, F 1536, no k_proj bias) with the demo's 62
    /// classes. Backbone: conv1 80·384·3+384 = 92,544; conv2 384·384·3+384 = 442,752; fixed sinusoids
    /// 1,500·384 = 576,000; per layer 4·384² + 3·384 + (384·1536+1536) + (1536·384+384) + 4·384
    /// = 1,774,080 (×4); final LN 768 → 8,208,384.
    @Test("Whisper-tiny trainable counts equal the formulas")
    func whisperTinyCounts() throws {
        let labels = (0..<62).map { "w\($0)" }
        let shapes = PETLShapes(width: 384, layers: 4, ffn: 1536, attentionBiases: 3, classes: 62)
        let recipe = BackboneRecipe(kind: "whisper", modelPath: nil, frames: 112, seed: 2)
        let cases: [(PETLConfig, Int)] = [
            (Self.config(.linear), 24_638),                                   // 384·62+62 + 768
            (Self.config(.full), 7_656_254),                                  // 8,208,384 − 576,000 + 23,870
            (Self.config(.bitfit), 39_614),                                   // 4·(3·384+1536+384+768) + 384 + 23,870
            (Self.config(.lora), 61_502),                                     // r 6: 4·2·2·384·6 + 24,638
            (Self.config(.prompt), 63_038),                                   // 4·25·384 + 24,638
            (Self.config(.prefix), 61_502),                                   // 4·24·384 + 24,638
            (Self.config(.adapter), 41_550),                                  // b 4: 4·(2·384·4+4+384) + 4·768 + 24,638
            (Self.config(.conformerAdapter), 48_254),                         // b 4: 4·(3·384·4+4·36+384) + 3,072 + 24,638
            (Self.config(.conformerAdapter) { $0.adapterReductionRate = 32 }, 86_270),  // the demo: b 12
            (Self.config(.conformerAdapter) { $0.layout = .houlsby; $0.adapterReductionRate = 32 }, 8 * 14_640 + 6_144 + 24_638),
        ]
        for (config, expected) in cases {
            let model = try PETLClassifier(backbone: try BackboneFactory.make(recipe), labels: labels, config: config)
            #expect(model.backboneParameterCount == 8_208_384)
            let formula = PETLParameterFormula.trainable(config, shapes: shapes, backboneTrainableInFull: 8_208_384 - 576_000)
            #expect(model.trainableCount == expected, "\(config.summary): module tree \(model.trainableCount), hand value \(expected)")
            #expect(formula == expected, "\(config.summary): formula \(formula), hand value \(expected)")
        }
        // Prompts go in front (no class token) and the sequence grows by the prompt count.
        let prompt = try PETLClassifier(backbone: try BackboneFactory.make(recipe), labels: labels, config: Self.config(.prompt) { $0.promptTokens = 3 })
        let x = randomTensor([1, 80, 112], seed: 4, requiresGrad: false)
        #expect(try withoutGrad { try prompt.encode(x) }.shape == [1, 3 + 56, 384])
        #expect(prompt.backbone.encoder.promptPosition == 0)
    }

    static func tinyBackbone() throws -> ASTBackbone {
        try ASTBackbone(directory: tinyDir, maxLength: 48)
    }

    @Test("zero-start methods leave the logits of linear probing unchanged at initialisation")
    func zeroStart() throws {
        let x = randomTensor([2, 48, 16], seed: 11, requiresGrad: false)
        let labels = ["a", "b", "c"]
        let reference = try withoutGrad { try PETLClassifier(backbone: try Self.tinyBackbone(), labels: labels, config: Self.config(.linear))(x) }
        for var config in [Self.config(.lora), Self.config(.adapter), Self.config(.adapter) { $0.parallel = false },
                           Self.config(.adapter) { $0.layout = .houlsby }, Self.config(.bitfit), Self.config(.full)] {
            config.adapterReductionRate = 8
            let model = try PETLClassifier(backbone: try Self.tinyBackbone(), labels: labels, config: config)
            model.setTraining(false)
            let y = try withoutGrad { try model(x) }
            #expect(allClose(y, reference, atol: 1e-5, rtol: 0), "\(config.summary): \(differenceReport(y, reference))")
        }
        // The Conformer adapter starts with PyTorch's default init, so it does change the output.
        let conformer = try PETLClassifier(backbone: try Self.tinyBackbone(), labels: labels, config: Self.config(.conformerAdapter) { $0.adapterReductionRate = 8 })
        conformer.setTraining(false)
        #expect(!allClose(try withoutGrad { try conformer(x) }, reference, atol: 1e-5, rtol: 0))
    }

    @Test("prompt tuning drops the distillation token and keeps the prompts in the pooled mean")
    func promptSequence() throws {
        let x = randomTensor([2, 48, 16], seed: 12, requiresGrad: false)
        for deep in [true, false] {
            let model = try PETLClassifier(backbone: try Self.tinyBackbone(), labels: ["a", "b"], config: Self.config(.prompt) { $0.promptTokens = 5; $0.deepPrompts = deep })
            let encoded = try withoutGrad { try model.encode(x) }
            #expect(encoded.shape == [2, 1 + 5 + 4, 32])  // [CLS, 5 prompts, 4 patches]
            #expect(model.backbone.encoder.promptPosition == 1)
            let prompts = try #require(model.backbone.encoder.promptProvider as? PromptTuning)
            #expect(prompts.embeddings.shape == (deep ? [2, 5, 32] : [5, 32]))
            // VPT init bound √(6 / (3·16·16 + 32)).
            let bound = (6 / Float(3 * 256 + 32)).squareRoot()
            #expect(prompts.embeddings.storage.allSatisfy { abs($0) <= bound })
        }
        let prefix = try PETLClassifier(backbone: try Self.tinyBackbone(), labels: ["a", "b"], config: Self.config(.prefix) { $0.prefixTokens = 6 })
        #expect(try withoutGrad { try prefix.encode(x) }.shape == [2, 6, 32])
        #expect(prefix.trainable.map(\.0).contains("backbone.encoder.layer.1.attention.attention.prefix.keys"))
    }

    @Test("one training step: gradients reach exactly the trainable tensors; the frozen backbone is untouched")
    func trainingStep() throws {
        let x = randomTensor([3, 48, 16], seed: 13, requiresGrad: false)
        for method in PETLMethod.allCases {
            let model = try PETLClassifier(backbone: try Self.tinyBackbone(), labels: ["a", "b", "c"], config: Self.config(method) { $0.adapterReductionRate = 8; $0.loraReductionRate = 8; $0.promptTokens = 3; $0.prefixTokens = 4 })
            model.setTraining(true)
            let frozen = model.namedParameters().filter { !$0.1.requiresGrad }
            let before = frozen.map { $0.1.storage }
            let loss = try model(x).crossEntropy(targets: [0, 1, 2])
            loss.backward()
            let trainable = model.trainable
            #expect(!trainable.isEmpty)
            // Every trainable tensor has a gradient; the head's is nonzero for every method.
            for (key, p) in trainable { #expect(p.gradStorage != nil, "\(method): no gradient for \(key)") }
            #expect(model.head.weight.gradStorage!.contains { $0 != 0 })
            for (key, p) in frozen where !key.hasSuffix("running_mean") && !key.hasSuffix("running_var") {
                #expect(p.gradStorage == nil, "\(method): frozen \(key) received a gradient")
            }
            let opt = AdamW(learningRate: method.defaultLearningRate, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1)
            opt.step(trainable)
            for ((key, p), old) in zip(frozen, before) where !key.contains("running_") {
                #expect(p.storage == old, "\(method): frozen \(key) changed")
            }
        }
    }

    @Test("method names, defaults and learning rates follow the paper")
    func defaults() {
        let c = PETLConfig(method: .conformerAdapter)
        #expect(c.parallel && !c.effectiveResidual && c.layout == .pfeiffer && c.kernelSize == 31 && c.adapterReductionRate == 96)
        var s = PETLConfig(method: .adapter); s.parallel = false
        #expect(s.effectiveResidual)  // sequential adapters keep the residual unless told otherwise
        #expect(PETLMethod(rawValue: "conformer-adapter") == .conformerAdapter)
        #expect(PETLMethod.lora.defaultLearningRate == 5e-3 && PETLMethod.prompt.defaultLearningRate == 1e-2)
        #expect(PETLMethod.full.defaultLearningRate == 5e-5 && PETLMethod.linear.defaultLearningRate == 1e-3)
        var bad = PETLConfig(method: .prefix); bad.prefixTokens = 5
        #expect(throws: AdapterError.self) { try bad.validate(width: 32) }
    }
}

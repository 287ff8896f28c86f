import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// What made the short demo schedule learn change (loss, parameter groups) and the honest
/// pixel-difference bar it is compared with.
@Suite("ChangeDetection quality: loss, learning rates, baselines")
struct ChangeDetectionQualityTests {
    @Test func softDiceHandWorked() {
        // Two pixels: logits (0, 0) → p = 0.5 and (0, ln 3) → p = σ(ln 3) = 0.75; labels 1, 0.
        // overlap 0.5, Σp 1.25, Σy 1: 1 − (2·0.5 + 1)/(1.25 + 1 + 1) = 1 − 2/3.25 = 0.384615…
        // Channel 0 (no change) = [0, 0], channel 1 (change) = [0, ln 3].
        let logits = Tensor([0, 0, 0, Float(Foundation.log(3.0))], shape: [1, 2, 1, 2])
        let d = ChangeDetectionNetwork.softDice(logits, labels: [1, 0])
        #expect(abs(d.storage[0] - 0.384615) < 1e-5)
        // A batch without change: only Σp is left, 1 − 1/(Σp + 1).
        let none = ChangeDetectionNetwork.softDice(logits, labels: [0, 0])
        #expect(abs(none.storage[0] - (1 - 1 / 2.25)) < 1e-5)
    }

    @Test func softDiceGradientMatchesFiniteDifferences() {
        let x = randomTensor([2, 2, 3, 3], seed: 7)
        let labels = (0..<18).map { $0 % 3 == 0 ? 1 : 0 }
        let r = gradCheck([x]) { xs in ChangeDetectionNetwork.softDice(xs[0], labels: labels) }
        #expect(r.passed, "\(r)")
    }

    @Test func lossKindsCombineTheStreams() {
        let a = randomTensor([1, 2, 2, 2], seed: 1, requiresGrad: false), b = randomTensor([1, 2, 2, 2], seed: 2, requiresGrad: false)
        let y = [0, 1, 1, 0]
        let ce = ChangeDetectionNetwork.loss(a, b, labels: y, kind: .crossEntropy).storage[0]
        #expect(ce == ChangeDetectionNetwork.loss(a, b, labels: y).storage[0])
        let dice = (ChangeDetectionNetwork.softDice(a, labels: y).storage[0] + ChangeDetectionNetwork.softDice(b, labels: y).storage[0]) / 2
        #expect(abs(ChangeDetectionNetwork.loss(a, b, labels: y, kind: .diceCrossEntropy).storage[0] - (ce + dice)) < 1e-6)
    }

    /// One 4-pixel pair whose mean colour differences are `d` (same in all channels).
    static func pair(_ d: [Float], mask: [UInt8]) -> PairPlanes {
        let before = [Float](repeating: 0.2, count: 3 * d.count)
        let after = (0..<3).flatMap { _ in d.map { 0.2 + $0 } }
        return PairPlanes(before: before, after: after, mask: mask, width: d.count, height: 1)
    }

    @Test func pixelDifferenceThresholdIsTheBestTrainF1() throws {
        // Differences 0.1, 0.3, 0.5, 0.7 with change at 0.3 and 0.7. Thresholds (by hand):
        // ≥0.7 → TP 1 FN 1: F1 2/3; ≥0.5 → TP 1 FP 1 FN 1: 1/2; ≥0.3 → TP 2 FP 1: 4/5;
        // ≥0.1 → TP 2 FP 2: 2/3. Best 0.8 for any threshold in (0.1, 0.3].
        let train = ChangePairSource(planes: [Self.pair([0.1, 0.3, 0.5, 0.7], mask: [0, 1, 0, 1])])
        let fit = try PixelDifferenceBaseline.fit(train)
        #expect(abs(fit.fitF1 - 0.8) < 1e-12)
        #expect(fit.threshold > 0.1 && fit.threshold <= 0.3 + 1e-6)
        let cm = try fit.evaluate(train)
        #expect(cm == BinaryConfusionMatrix(truePositives: 2, falsePositives: 1, falseNegatives: 0, trueNegatives: 1))
        // Held-out: the fitted threshold applies unchanged.
        let test = ChangePairSource(planes: [Self.pair([0.05, 0.35, 0.9, 0.08], mask: [0, 1, 1, 1])])
        #expect(try fit.evaluate(test) == BinaryConfusionMatrix(truePositives: 2, falsePositives: 0, falseNegatives: 1, trueNegatives: 1))
        // All-change: recall 1, precision = share of change (3 of 4).
        let all = try PixelDifferenceBaseline.allChange(test)
        #expect(all == BinaryConfusionMatrix(truePositives: 3, falsePositives: 1, falseNegatives: 0, trueNegatives: 0))
    }

    @Test func pixelDifferenceWithoutChangeNeverFires() throws {
        let fit = try PixelDifferenceBaseline.fit(ChangePairSource(planes: [Self.pair([0.1, 0.3], mask: [0, 0])]))
        #expect(fit.fitF1 == 0 && fit.threshold > 1)
        #expect(fit.predict(Self.pair([1, 1], mask: [0, 0])) == [0, 0])
    }

    @Test func decoderAndAdaptersTakeTheirOwnLearningRates() throws {
        // Adam's first step moves every parameter with a non-zero gradient by ≈ lr (the update is
        // lr·g/(|g| + ε)), so after one step the decoder's largest change is its own rate and
        // LoRA's is the encoder rate: the two groups really are separate.
        let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: tinyChangeOptions(.lora))
        let params = net.trainableParameters()
        let before = params.map { $0.1.storage }
        var t = ChangeTrainOptions()
        t.steps = 1
        t.batchSize = 2
        t.size = 28
        t.learningRate = 1e-6
        t.decoderLearningRate = 1e-2
        t.minLearningRate = 0   // the schedule's floor would otherwise lift 1e-6 to 3e-5
        t.loss = .diceCrossEntropy
        t.evalEvery = 0
        var rng = SplitMix64(seed: 4)
        let items = (0..<2).map { _ in
            PairPlanes(before: (0..<(3 * 784)).map { _ in rng.nextUnitFloat() }, after: (0..<(3 * 784)).map { _ in rng.nextUnitFloat() },
                       mask: (0..<784).map { UInt8($0 % 5 == 0 ? 1 : 0) }, width: 28, height: 28)
        }
        _ = try ChangeTrainer.train(network: net, train: ChangePairSource(planes: items), validation: ChangePairSource(planes: []),
                                    options: t, normalization: .imagenet)
        var decoderMove: Float = 0, loraMove: Float = 0
        for ((name, p), old) in zip(params, before) {
            let move = zip(p.storage, old).map { abs($0 - $1) }.max() ?? 0
            if name.contains("decoder") { decoderMove = max(decoderMove, move) } else if name.contains("lora_B") { loraMove = max(loraMove, move) }
        }
        #expect(decoderMove > 0.9e-2 && decoderMove < 1.1e-2, "decoder moved \(decoderMove)")
        #expect(loraMove > 0 && loraMove < 1.1e-6, "LoRA B moved \(loraMove)")
    }
}

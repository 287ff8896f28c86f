import Core
import Foundation
import Testing
import TestSupport
@testable import Text

@Suite struct CrossTuneModelTests {
    /// Three ragged inputs (5, 3 and 4 tokens of width 6) → padded batch with a mask.
    static func inputs(seed: UInt64) -> [TokenFeatures] {
        var rng = SplitMix64(seed: seed)
        return [5, 3, 4].map { t in TokenFeatures(tokens: t, dim: 6, values: (0..<(t * 6)).map { _ in rng.nextNormal() }) }
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        for useDescriptions in [true, false] {
            var rng = SplitMix64(seed: 9)
            let labels = Tensor.normal([3, 6], using: &rng)
            let net = try CrossTuneNetwork(featureDim: 6, hiddenDim: 4, heads: 2, numClasses: 3,
                                           labelFeatures: useDescriptions ? labels : nil, seed: 1)
            let (x, mask) = paddedFeatureBatch(Self.inputs(seed: 2))
            #expect(mask != nil)
            net.eval()  // no dropout: finite differences need a deterministic function
            let params = net.trainableParameters().map(\.1)
            let result = gradCheck(params, eps: 1e-2) { _ in net(x, mask: mask).crossEntropyLoss(targets: [0, 2, 1]) }
            #expect(result.passed, "descriptions \(useDescriptions): \(result)")
        }
    }

    @Test func paddingDoesNotChangeScores() throws {
        // A row's logits must not depend on the padding added for longer rows in its batch.
        var rng = SplitMix64(seed: 4)
        let net = try CrossTuneNetwork(featureDim: 6, hiddenDim: 8, heads: 2, numClasses: 3,
                                       labelFeatures: Tensor.normal([3, 6], using: &rng), seed: 5)
        net.eval()
        let items = Self.inputs(seed: 6)
        let together = withoutGrad { net(paddedFeatureBatch(items).features, mask: paddedFeatureBatch(items).mask) }
        for (i, item) in items.enumerated() {
            let alone = withoutGrad { net(paddedFeatureBatch([item]).features, mask: nil) }
            let row = Array(together.storage[(i * 3)..<((i + 1) * 3)])
            #expect(zip(alone.storage, row).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    @Test func parameterCountIsTheSumOfItsParts() throws {
        var rng = SplitMix64(seed: 4)
        let net = try CrossTuneNetwork(featureDim: 384, hiddenDim: 128, heads: 4, numClasses: 10,
                                       labelFeatures: Tensor.normal([10, 384], using: &rng), seed: 5)
        // label_proj 384·128+128, q/out 2·(128·128+128), k/v 2·(384·128+128), scorer 128+1.
        #expect(net.trainableCount == (384 * 128 + 128) + 2 * (128 * 128 + 128) + 2 * (384 * 128 + 128) + 129)
        #expect(net.namedParameters().map(\.0).contains("attention.k_proj.weight"))
    }

    @Test func scoresMatchAHandComputedSingleHeadCase() throws {
        // One head, h = d = 2, one token: attention over a single key is the identity, so
        // z = W_o (W_v x + b_v) + b_o and s_c = w·tanh(z + q_c) + b + z·q_c/√2; recompute by hand.
        let net = try CrossTuneNetwork(featureDim: 2, hiddenDim: 2, heads: 1, numClasses: 2,
                                       labelFeatures: Tensor([1, 0, 0, 1], shape: [2, 2]), seed: 3)
        let x: [Float] = [0.3, -0.7]
        net.eval()
        let logits = withoutGrad { net(Tensor(x, shape: [1, 1, 2]), mask: nil) }.storage
        func lin(_ l: Linear, _ v: [Float]) -> [Float] {
            let w = l.weight.storage, o = l.outFeatures
            return (0..<o).map { i in (0..<v.count).reduce(l.bias?.storage[i] ?? 0) { $0 + w[i * v.count + $1] * v[$1] } }
        }
        let z = lin(net.attention.output, lin(net.attention.value, x))
        for c in 0..<2 {
            let q = lin(net.labelProjection!, c == 0 ? [1, 0] : [0, 1])
            let s = lin(net.scorer, zip(z, q).map { tanh($0 + $1) })[0] + zip(z, q).reduce(0) { $0 + $1.0 * $1.1 } / Float(2).squareRoot()
            #expect(abs(s - logits[c]) < 1e-5)
        }
    }

    @Test func learnsHeldOutClassesFromFewShots() throws {
        // Synthetic black-box features: each text is 3–8 noise tokens plus one token near its
        // class's direction; descriptions sit on the same directions. 8 shots per class, 4
        // classes; held-out accuracy must be high while chance is 25%.
        var rng = SplitMix64(seed: 11)
        let d = 16, classes = 4
        let directions = (0..<classes).map { _ in (0..<d).map { _ in rng.nextNormal() } }
        func sample(_ c: Int) -> TokenFeatures {
            let t = 3 + Int(rng.next() % 6)
            var v = (0..<(t * d)).map { _ in rng.nextNormal() * 0.8 }
            let at = Int(rng.next() % UInt64(t))
            for j in 0..<d { v[at * d + j] = directions[c][j] * 1.5 + rng.nextNormal() * 0.3 }
            return TokenFeatures(tokens: t, dim: d, values: v)
        }
        func set(_ n: Int) -> ([TokenFeatures], [Int]) {
            let labels = (0..<(n * classes)).map { $0 % classes }
            return (labels.map(sample), labels)
        }
        let (train, trainY) = set(8), (dev, devY) = set(8), (test, testY) = set(50)
        var o = CrossTuneOptions()
        o.hiddenDim = 16; o.heads = 2; o.epochs = 40; o.learningRate = 3e-3; o.batchSize = 8
        let trainer = try CrossTuneTrainer(options: o, featureDim: d, numClasses: classes,
                                           labelFeatures: Tensor(directions.flatMap { $0 }, shape: [classes, d]))
        try trainer.fit(train: train, trainLabels: trainY, dev: dev, devLabels: devY)
        let (pred, _) = try trainer.evaluate(test, labels: testY)
        let scores = ClassificationScores(predictions: pred, targets: testY, classes: classes)
        #expect(scores.accuracy > 0.85, "held-out accuracy \(scores.accuracy)")
    }

    @Test func macroF1MatchesAHandCount() {
        // targets 0 0 1 1 2, predictions 0 1 1 1 0: class 0 tp1 fp1 fn1 → F1 .5; class 1 tp2 fp1
        // fn0 → .8; class 2 tp0 fn1 → 0; macro (.5 + .8 + 0) / 3 = .4333…; accuracy 3/5.
        let s = ClassificationScores(predictions: [0, 1, 1, 1, 0], targets: [0, 0, 1, 1, 2], classes: 3)
        #expect(abs(s.accuracy - 0.6) < 1e-12 && abs(s.macroF1 - 1.3 / 3) < 1e-12)
    }
}

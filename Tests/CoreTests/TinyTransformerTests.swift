import Foundation
import Testing
import Core
import TestSupport

/// End to end: a 2-layer encoder classifier learns the order task (is A before B?) with AdamW,
/// and the whole run (init, dropout masks, batches) is bit-reproducible from one seed.
@Suite(.serialized) struct TinyTransformerTests {
    static let config = TransformerLayerConfig(dim: 32, numHeads: 4, ffnDim: 64, activation: .gelu, normEps: 1e-5,
                                               hiddenDropout: 0.1, attentionDropout: 0.1)

    /// Trains for up to `steps` steps; returns the per-step losses and the final held-out accuracy.
    func train(seed: UInt64, layout: TransformerLayerLayout, steps: Int, stopBelow: Float? = nil) throws -> (losses: [Float], accuracy: Double) {
        let model = try TinyEncoderClassifier(vocab: OrderTask.vocab, maxLength: 12, config: Self.config, layout: layout,
                                              store: .random(seed: seed), seed: seed)
        model.train()
        let params = model.trainableParameters()
        let opt = AdamW(learningRate: 3e-3, weightDecay: 0.01, decayRule: .excludeBiasAndNorm)
        let schedule = LRSchedule.cosine(warmup: 20, total: steps)
        var rng = SplitMix64(seed: seed ^ 0xDA7A)
        var losses: [Float] = []
        var smoothed: Float = 1
        for step in 0..<steps {
            let (ids, labels) = OrderTask.batch(size: 32, length: 10, using: &rng)
            let loss = try model(ids, batch: 32, length: 10).crossEntropy(targets: labels)
            loss.backward()
            clipGradNorm(params, maxNorm: 1)
            opt.learningRate = schedule.learningRate(at: step, base: 3e-3)
            opt.step(params)
            opt.zeroGrad(params)
            losses.append(loss.item)
            smoothed = step == 0 ? loss.item : 0.9 * smoothed + 0.1 * loss.item
            if let stop = stopBelow, step >= 20, smoothed < stop { break }
        }
        model.eval()
        var testRNG = SplitMix64(seed: 999)
        let (ids, labels) = OrderTask.batch(size: 256, length: 10, using: &testRNG)
        let predictions = withoutGrad { try? model(ids, batch: 256, length: 10).argmaxLastAxis() } ?? []
        let correct = zip(predictions, labels).filter { $0 == $1 }.count
        return (losses, Double(correct) / 256)
    }

    @Test(arguments: ["bert", "vit"])
    func learnsOrderTask(_ family: String) throws {
        let clock = ContinuousClock()
        let start = clock.now
        let (losses, accuracy) = try train(seed: 1, layout: family == "bert" ? .bert : .vit, steps: 400, stopBelow: 0.05)
        let elapsed = clock.now - start
        let first = losses.prefix(10).reduce(0, +) / 10, last = losses.suffix(10).reduce(0, +) / Float(min(10, losses.count))
        print("TinyTransformer \(family): \(losses.count) steps, loss \(first) → \(last), held-out accuracy \(accuracy), \(elapsed)")
        #expect(first > 0.6, "starts near chance (ln 2 ≈ 0.69): \(first)")
        #expect(last < 0.1, "loss fell below 0.1: \(last)")
        #expect(accuracy > 0.95, "held-out accuracy \(accuracy)")
    }

    @Test func twoSeededRunsAreBitIdentical() throws {
        let a = try train(seed: 7, layout: .bert, steps: 25)
        let b = try train(seed: 7, layout: .bert, steps: 25)
        #expect(a.losses.map(\.bitPattern) == b.losses.map(\.bitPattern))
        let c = try train(seed: 8, layout: .bert, steps: 25)
        #expect(a.losses != c.losses)
    }
}

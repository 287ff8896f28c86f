import Core
import Foundation

/// Throughput of GenD on a backbone (a speed benchmark, not a test): inference = forward to
/// P(fake) without gradients; a training step = forward, CE + 0.5·uniformity + 0.1·alignment on
/// the L2-normalised pooled feature, backward into the LayerNorms and head, AdamW. One fixed
/// random batch (half labelled real, half fake); each figure is the median step time after a
/// warm-up step — the same protocol as `scripts/gend-peer-bench.sh`'s PyTorch side.
public enum GenDBench {
    public struct Result: Codable, Sendable {
        public var weights: String
        public var method: String
        public var batch: Int
        public var imageSize: Int
        public var trainable: Int
        public var trainStepSeconds: Double
        public var inferStepSeconds: Double
        public var trainImagesPerSecond: Double
        public var inferImagesPerSecond: Double
    }

    public static func run(backbone: VisionBackbone, method: GenDMethod = .gend, batch: Int, imageSize: Int,
                           steps: Int = 3, log: (String) -> Void = { _ in }) throws -> Result {
        var o = GenDOptions(method: method)
        o.batchSize = batch
        o.imageSize = imageSize
        let model = try GenDModel.create(backbone: backbone, options: o)
        var rng = SplitMix64(seed: 3)
        let x = Tensor.normal([batch, 3, imageSize, imageSize], using: &rng)
        let labels = (0..<batch).map { $0 < batch / 2 ? 0 : 1 }
        let params = model.trainableParameters()
        let opt = AdamW(learningRate: o.learningRate, weightDecay: 0)
        func timed(_ n: Int, _ body: () throws -> Void) rethrows -> Double {
            var times: [Double] = []
            for i in 0..<(1 + n) {
                let t0 = Date()
                try body()
                if i >= 1 { times.append(Date().timeIntervalSince(t0)) }
            }
            return VisionAdaptBench.median(times)
        }
        model.setTraining(false)
        let infer = try timed(steps) { _ = try withoutGrad { model.logits(embedding: try model.embedding(x)) } }
        log(String(format: "  inference: %.3f s per batch of %d", infer, batch))
        model.setTraining(true)
        let train = try timed(steps) {
            let z = try model.embedding(x)
            let loss = (method.usesSphereLosses ? o.loss(logits: model.logits(embedding: z), embeddings: z, labels: labels).total
                                                : model.logits(embedding: z).crossEntropy(targets: labels))
            loss.backward()
            opt.step(params)
            opt.zeroGrad(params)
        }
        model.setTraining(false)
        log(String(format: "  training: %.3f s per step of %d", train, batch))
        return Result(weights: backbone.source, method: method.rawValue, batch: batch, imageSize: imageSize, trainable: model.trainableCount,
                      trainStepSeconds: train, inferStepSeconds: infer,
                      trainImagesPerSecond: Double(batch) / max(train, 1e-9), inferImagesPerSecond: Double(batch) / max(infer, 1e-9))
    }
}

import Core
import Foundation

/// Training and inference throughput of a vision backbone under an adaptation method, on
/// synthetic input (one fixed random batch, as the PyTorch peer measures): inference is a
/// forward pass without gradients; a training step is forward, cross-entropy over
/// `labels` classes through a trainable linear head on the class token, backward and AdamW.
/// Each figure is the median step time after warm-up steps.
public enum VisionAdaptBench {
    public struct Result: Codable, Sendable {
        public var shape: String
        /// Where the weights came from ("default" = the real DINOv2-small, or "random …").
        public var weights: String
        public var method: String
        public var batch: Int
        public var imageSize: Int
        public var tokens: Int
        public var trainable: Int
        public var trainStepSeconds: Double
        public var inferStepSeconds: Double
        public var trainImagesPerSecond: Double
        public var inferImagesPerSecond: Double
        /// Median process CPU seconds per step (all threads): with `--threads 1` the figure to
        /// compare under machine load, where wall time mostly measures the other processes.
        public var trainStepCPUSeconds: Double
        public var inferStepCPUSeconds: Double
    }

    /// The DINOv2-small shape (ViT-S/14: 384 wide, 12 layers, 6 heads) with random weights,
    /// for when the real model is not installed (same arithmetic).
    public static func randomViTS14() throws -> VisionBackbone {
        var c = Dinov2Config()
        c.hiddenSize = 384; c.numLayers = 12; c.numHeads = 6; c.ffnWidth = 1536; c.imageSize = 518; c.patchSize = 14
        let m = try Dinov2Model(config: c, at: WeightStore.random(seed: 7).root)
        m.eval()
        return VisionBackbone(family: .dinov2, module: m, source: "random ViT-S/14")
    }

    /// HF `ViTModel` in the peer's ViT-S/16 shape (384 wide, 12 layers, 6 heads, patch 16), random weights.
    public static func randomViTS16() throws -> VisionBackbone {
        var c = ViTConfig()
        c.hiddenSize = 384; c.numLayers = 12; c.numHeads = 6; c.intermediateSize = 1536; c.imageSize = 224; c.patchSize = 16
        let m = try ViTModel(config: c, addPoolingLayer: false, at: WeightStore.random(seed: 7).root)
        m.eval()
        return VisionBackbone(family: .vit, module: m, source: "random ViT-S/16")
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Measures `method` (`svd`: singular values of all six block linears; `lora`: r 8, alpha
    /// 16 on q and v, as the peer's `lora-qv`) on `backbone` (which it modifies).
    public static func run(backbone: VisionBackbone, shape: String, method: AdaptMethod, batch: Int, imageSize: Int, labels: Int = 100,
                           warmup: Int = 1, trainSteps: Int = 3, inferSteps: Int = 3, log: (String) -> Void) throws -> Result {
        var config: AdapterConfig
        switch method {
        case .svd:
            config = AdapterConfig(method: .singularValues)
            config.targetModules = .names(backbone.blockLinearTargets)
        case .lora:
            config = .lora(r: 8, alpha: 16, targets: try backbone.targets(named: ["q", "v"]))
        default:
            throw DatasetError("bench measures svd and lora, not \(method.rawValue)")
        }
        let peft = PeftModel(backbone.module)
        try peft.addAdapter(config)
        var rng = SplitMix64(seed: 3)
        let head = Linear(inFeatures: backbone.featureDim, outFeatures: labels, using: &rng)
        let x = Tensor.normal([batch, 3, imageSize, imageSize], using: &rng)
        let targets = (0..<batch).map { _ in Int(rng.next() % UInt64(labels)) }
        let params = peft.trainableParameters() + head.namedParameters().map { ("head." + $0.0, $0.1) }
        let opt = AdamW(learningRate: 2e-4, weightDecay: 0.01)
        backbone.module.eval()
        var infer: [Double] = [], inferCPU: [Double] = []
        for i in 0..<(warmup + inferSteps) {
            let t0 = Date(), c0 = CPUClock.processSeconds()
            _ = try withoutGrad { try backbone.imageFeatures(x) }
            if i >= warmup { infer.append(Date().timeIntervalSince(t0)); inferCPU.append(CPUClock.processSeconds() - c0) }
        }
        log("  \(shape) \(method.rawValue) inference: " + String(format: "%.2f s per batch of %d (%.2f s CPU)", median(infer), batch, median(inferCPU)))
        backbone.module.train()
        var train: [Double] = [], trainCPU: [Double] = []
        for i in 0..<(warmup + trainSteps) {
            let t0 = Date(), c0 = CPUClock.processSeconds()
            let loss = head(try backbone.imageFeatures(x)).crossEntropy(targets: targets)
            loss.backward()
            opt.step(params)
            opt.zeroGrad(params)
            if i >= warmup { train.append(Date().timeIntervalSince(t0)); trainCPU.append(CPUClock.processSeconds() - c0) }
        }
        backbone.module.eval()
        log("  \(shape) \(method.rawValue) training: " + String(format: "%.2f s per step of %d (%.2f s CPU)", median(train), batch, median(trainCPU)))
        let p = backbone.patchSize
        let trainable = params.reduce(0) { $0 + $1.1.count }
        return Result(shape: shape, weights: backbone.source, method: method.rawValue, batch: batch, imageSize: imageSize, tokens: (imageSize / p) * (imageSize / p) + 1,
                      trainable: trainable, trainStepSeconds: median(train), inferStepSeconds: median(infer),
                      trainImagesPerSecond: Double(batch) / max(median(train), 1e-9), inferImagesPerSecond: Double(batch) / max(median(infer), 1e-9),
                      trainStepCPUSeconds: median(trainCPU), inferStepCPUSeconds: median(inferCPU))
    }
}

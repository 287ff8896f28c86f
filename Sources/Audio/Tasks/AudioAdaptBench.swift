import Core
import Foundation

/// Training and inference throughput of a frozen audio transformer under a PETL method, on
/// synthetic input (one fixed random batch reused every step, as the PyTorch peer measures):
///
/// - inference is the classifier's forward pass without gradients (evaluation mode);
/// - a training step is forward, cross-entropy over `labels` classes, backward and AdamW
///   (lr 2e-4, weight decay 0.01, as the peer) over the trainable tensors.
///
/// Each figure is the median step time after warm-up steps. The two shapes the issue names:
/// AST-base (random weights; 1024 frames × 128 mel bins → 1214 tokens) with LoRA r 8, alpha 16 on
/// query and value (the peer's `ast --mode lora-qv`), and the Whisper tiny.en encoder (random
/// weights in its shape; 3000 frames = Whisper's 30 s window → 1500 tokens) with the Conformer
/// adapter parallel to each FFN. Random weights cost exactly what real ones do.
public enum AudioAdaptBench {
    public struct Result: Codable, Sendable {
        public var shape: String
        public var method: String
        public var batch: Int
        public var frames: Int
        public var tokens: Int
        public var trainable: Int
        public var trainStepSeconds: Double
        public var inferStepSeconds: Double
        public var trainSamplesPerSecond: Double
        public var inferSamplesPerSecond: Double
        /// Median process CPU seconds per step (all threads): with `--threads 1` the figure to
        /// compare under machine load, where wall time mostly measures the other processes.
        public var trainStepCPUSeconds: Double
        public var inferStepCPUSeconds: Double
    }

    /// The shapes this benchmark knows.
    public enum Shape: String, CaseIterable, Sendable {
        /// AST-base (768 wide, 12 layers, 12 heads) with LoRA on query and value.
        case ast
        /// The Whisper tiny.en encoder (384 wide, 4 layers, 6 heads) with the Conformer adapter.
        case whisper
    }

    /// The PETL configuration measured for `shape`, matched to the peer's settings: LoRA rank 8
    /// (reduction rate 96 on width 768) and alpha 16; the Conformer adapter with the PETL-AST
    /// defaults (Pfeiffer placement, parallel, bottleneck d/RR, kernel 31).
    public static func config(for shape: Shape) -> PETLConfig {
        switch shape {
        case .ast:
            var c = PETLConfig(method: .lora)
            c.loraReductionRate = 96  // 768 / 96 = rank 8, the peer's r
            c.loraAlpha = loraAlphaForPeerScale(rank: 8, peerAlpha: 16, reductionRate: 96)
            c.loraTargets = ["query", "value"]
            return c
        case .whisper:
            return PETLConfig(method: .conformerAdapter)
        }
    }

    /// PETL's LoRA scales by `alpha / RR` (methods.md §5) while peft scales by `alpha / r`; the
    /// scale does not change the arithmetic, but keeping it equal makes the two runs the same model.
    static func loraAlphaForPeerScale(rank: Int, peerAlpha: Float, reductionRate: Int) -> Float {
        peerAlpha / Float(rank) * Float(reductionRate)
    }

    /// The frozen backbone of `shape` with random weights (seeded) for `frames` input frames.
    public static func backbone(_ shape: Shape, frames: Int) throws -> any PETLBackbone {
        switch shape {
        case .ast: return try ASTBackbone(randomShapes: "base", maxLength: frames, seed: 0)
        case .whisper: return try WhisperBackbone(recipe: BackboneRecipe(kind: "whisper", modelPath: nil, frames: frames, seed: 0))
        }
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Measures `shape` with `batch` clips of `frames` frames and `labels` classes.
    public static func run(shape: Shape, batch: Int, frames: Int, labels: Int = 50, warmup: Int = 1, trainSteps: Int = 3,
                           inferSteps: Int = 3, log: (String) -> Void) throws -> Result {
        let backbone = try backbone(shape, frames: frames)
        let model = try PETLClassifier(backbone: backbone, labels: (0..<labels).map { "c\($0)" }, config: config(for: shape))
        var rng = SplitMix64(seed: 3)
        // AST reads time-major [B, frames, 128]; Whisper reads [B, 80, frames].
        let features = shape == .ast ? Tensor.normal([batch, frames, 128], using: &rng) : Tensor.normal([batch, 80, frames], using: &rng)
        let targets = (0..<batch).map { _ in Int(rng.next() % UInt64(labels)) }
        let params = model.trainable
        let opt = AdamW(learningRate: 2e-4, weightDecay: 0.01)

        model.setTraining(false)
        var infer: [Double] = [], inferCPU: [Double] = []
        var tokens = 0
        for i in 0..<(warmup + inferSteps) {
            let t0 = Date(), c0 = CPUClock.processSeconds()
            let logits = try withoutGrad { try model(features) }
            if i >= warmup { infer.append(Date().timeIntervalSince(t0)); inferCPU.append(CPUClock.processSeconds() - c0) }
            precondition(logits.shape == [batch, labels])
        }
        tokens = try withoutGrad { try model.encode(features.slice(axis: 0, 0..<1)).shape[1] }
        log("  \(shape.rawValue) inference: " + String(format: "%.2f s per batch of %d (%.2f s CPU)", median(infer), batch, median(inferCPU)))

        model.setTraining(true)
        var train: [Double] = [], trainCPU: [Double] = []
        for i in 0..<(warmup + trainSteps) {
            let t0 = Date(), c0 = CPUClock.processSeconds()
            let loss = try model(features).crossEntropy(targets: targets)
            loss.backward()
            opt.step(params)
            opt.zeroGrad(params)
            if i >= warmup { train.append(Date().timeIntervalSince(t0)); trainCPU.append(CPUClock.processSeconds() - c0) }
            log("  \(shape.rawValue) training step \(i + 1)/\(warmup + trainSteps): loss " + String(format: "%.4f", loss.item))
        }
        model.setTraining(false)
        log("  \(shape.rawValue) training: " + String(format: "%.2f s per step of %d (%.2f s CPU)", median(train), batch, median(trainCPU)))
        let ti = median(infer), tt = median(train)
        return Result(shape: shape == .ast ? "AST-base" : "Whisper-tiny encoder", method: model.config.method.rawValue, batch: batch,
                      frames: frames, tokens: tokens, trainable: model.trainableCount, trainStepSeconds: tt, inferStepSeconds: ti,
                      trainSamplesPerSecond: Double(batch) / max(tt, 1e-9), inferSamplesPerSecond: Double(batch) / max(ti, 1e-9),
                      trainStepCPUSeconds: median(trainCPU), inferStepCPUSeconds: median(inferCPU))
    }
}

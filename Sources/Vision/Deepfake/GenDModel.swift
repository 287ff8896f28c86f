import Core
import Foundation

/// GenD and the ablations the paper compares it with.
public enum GenDMethod: String, CaseIterable, Sendable, Codable {
    /// GenD: every LayerNorm γ, β + a linear head on the L2-normalised pooled feature, loss
    /// CE + λu·uniformity + λa·alignment.
    case gend
    /// "LN only": the same LayerNorm tuning, head on the raw feature (no L2), CE alone (the
    /// sphere losses need the sphere).
    case ln
    /// LoRA (rank 8, α 16 on q and v of every block) instead of LayerNorm tuning; L2 head and
    /// sphere losses as GenD, so only the tuned part differs.
    case lora
    /// Linear probe: frozen backbone, head on the L2-normalised feature, CE on cached features.
    case probe
    /// Full fine-tuning of every backbone parameter, L2 head and sphere losses as GenD.
    case full

    /// Whether the head sees L2-normalised features.
    public var normalizes: Bool { self != .ln }
    /// Whether the hypersphere losses are added to CE.
    public var usesSphereLosses: Bool { self == .gend || self == .lora || self == .full }
}

/// Training settings. Defaults follow GenD's code where it applies to a small CPU run:
/// AdamW lr 3e-4, betas (0.9, 0.999), weight decay 0; cosine with warm restarts down to 1e-6;
/// λu 0.5 (t 2), λa 0.1 (α 2). Iterations, batch and image size are scaled down from the
/// paper's 30 epochs × batch 512 at 224 px (stated in every report).
public struct GenDOptions: Sendable, Codable, Equatable {
    public var method: GenDMethod = .gend
    public var iterations = 120
    /// Half real, half fake per batch.
    public var batchSize = 16
    public var learningRate = 3e-4
    public var minLearningRate = 1e-6
    public var weightDecay = 0.0
    /// Steps per cosine cycle (nil: a third of the run rounded up, as 10 of GenD's 30 epochs).
    public var restartCycle: Int?
    public var imageSize = 112
    public var loss = GenDLoss()
    public var loraRank = 8
    public var loraAlpha: Float = 16
    /// Horizontal flip (p 0.5) and a mild random resized crop (area 0.85–1) on training images.
    public var augment = true
    public var seed: UInt64 = 42

    public init(method: GenDMethod = .gend) { self.method = method }

    public var resolvedCycle: Int { max(1, restartCycle ?? (iterations + 2) / 3) }

    public func validate() throws {
        guard iterations >= 1 else { throw DatasetError("--iterations must be at least 1") }
        guard batchSize >= 2, batchSize % 2 == 0 else { throw DatasetError("--batch must be an even number ≥ 2 (half real, half fake)") }
        guard learningRate > 0, learningRate.isFinite else { throw DatasetError("--lr must be a positive number") }
        guard imageSize >= 14 else { throw DatasetError("--image-size must be at least one patch (14)") }
        guard loraRank >= 1 else { throw DatasetError("--rank must be at least 1") }
    }
}

/// Cosine annealing with warm restarts (`CosineAnnealingWarmRestarts`, T_mult = 1): within each
/// cycle of `cycle` steps the rate falls from `base` to `minLR` along half a cosine, then jumps back.
public struct CosineWarmRestarts: Sendable, Equatable {
    public var cycle: Int
    public var minLR: Double
    public init(cycle: Int, minLR: Double) { self.cycle = max(1, cycle); self.minLR = minLR }

    public func learningRate(at step: Int, base: Double) -> Double {
        let t = Double(step % cycle) / Double(cycle)
        return minLR + (base - minLR) * 0.5 * (1 + Foundation.cos(Double.pi * t))
    }
}

/// A detector: a backbone whose trainable part depends on the method, and a 2-way linear head
/// (real = 0, fake = 1) on the pooled feature, L2-normalised for every method but `ln`:
///
///     f = Encoder(image); z = f / ‖f‖₂; logits = W z + b; p_fake = softmax(logits)[1]
public final class GenDModel {
    public let backbone: VisionBackbone
    public let options: GenDOptions
    public let head: Linear
    public internal(set) var peft: PeftModel?
    public internal(set) var injection: InjectionReport?

    init(backbone: VisionBackbone, options: GenDOptions, head: Linear) {
        self.backbone = backbone
        self.options = options
        self.head = head
    }

    /// A fresh model: the method's backbone parameters unfrozen (or adapters attached) and a
    /// head with PyTorch's default init from the seed.
    public static func create(backbone: VisionBackbone, options: GenDOptions) throws -> GenDModel {
        try options.validate()
        var rng = SplitMix64(seed: options.seed).fork(0x4845_4144)   // "HEAD"
        let head = Linear(inFeatures: backbone.featureDim, outFeatures: 2, using: &rng)
        let model = GenDModel(backbone: backbone, options: options, head: head)
        if let config = try model.adapterConfig() {
            let peft = PeftModel(backbone.module)
            model.injection = try peft.addAdapter(config)
            model.peft = peft
        } else {
            backbone.module.freeze()
        }
        return model
    }

    /// The PEFT config of the method (nil for the probe).
    func adapterConfig() throws -> AdapterConfig? {
        var config: AdapterConfig
        switch options.method {
        case .gend, .ln: config = .layerNormTuning(normNames: backbone.layerNormNames)
        case .lora: config = .lora(r: options.loraRank, alpha: options.loraAlpha, targets: try backbone.targets(named: ["q", "v"]))
        case .full:
            config = AdapterConfig(method: .parameterSelection)
            config.parameterPatterns = [".*"]
        case .probe: return nil
        }
        config.seed = options.seed
        config.baseModelNameOrPath = backbone.source
        return config
    }

    /// Backbone and head parameters the optimizer updates.
    public func trainableParameters() -> [(String, Tensor)] {
        (peft?.trainableParameters() ?? []) + [("head.weight", head.weight)] + (head.bias.map { [("head.bias", $0)] } ?? [])
    }

    public var trainableCount: Int { trainableParameters().reduce(0) { $0 + $1.1.count } }
    /// All parameters: the backbone's plus the head's.
    public var totalCount: Int { backbone.module.namedParameters().reduce(0) { $0 + $1.1.count } + 2 * backbone.featureDim + 2 }

    /// Classifier input `[B, D]` from pooled features: L2-normalised unless the method is `ln`.
    public func embedding(features: Tensor) -> Tensor {
        options.method.normalizes ? HypersphereLosses.normalized(features) : features
    }

    /// Embeddings `[B, D]` of normalised pixels `[B, 3, S, S]`.
    public func embedding(_ pixels: Tensor) throws -> Tensor {
        embedding(features: try backbone.imageFeatures(pixels))
    }

    public func logits(embedding z: Tensor) -> Tensor { head(z) }

    /// P(fake) per row of `logits [B, 2]`.
    public static func fakeProbabilities(_ logits: Tensor) -> [Double] {
        (0..<logits.shape[0]).map { i in
            let a = Double(logits.storage[2 * i]), b = Double(logits.storage[2 * i + 1])
            return 1 / (1 + Foundation.exp(a - b))   // softmax(logits)[1], stable for large |a − b|
        }
    }

    public func setTraining(_ on: Bool) { backbone.module.train(on) }
}

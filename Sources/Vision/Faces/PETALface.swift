import Core
import Foundation

/// PETALface on a face CNN: two LoRA experts on every 1×1 convolution (per-pixel linear maps,
/// the convolutional counterpart of attention projections) and on the final projection,
/// mixed per image as `W0 x + s·(1−α)·B1A1 x + s·α·B2A2 x`. Built through the adapter
/// library (`PeftModel` with an expert-LoRA config, two experts), so the adapter saves and
/// loads in the PEFT folder layout like every other method. Init as the reference code:
/// A ~ N(0, 1/r), B = 0, so the adapted network starts equal to the frozen one; dropout acts
/// on the LoRA output (reference: after `up`), only while the adapted layers are in training mode.
public final class PETALfaceAdapters {
    /// The adapter-library wrapper holding the experts (adapter name "default").
    public let peft: PeftModel
    /// Adapted layers by module key (the projection is the Gemm's key, `SFaceModel.projectionName`).
    public let layers: [(name: String, adapter: ExpertLoRA)]

    /// The expert-LoRA config PETALface uses on `model`: every 1×1 convolution plus the projection.
    public static func config(for model: SFaceModel, rank: Int = 8, scaling: Float = 1, dropout: Float = 0, seed: UInt64 = 19) -> AdapterConfig {
        var c = AdapterConfig(method: .expertLoRA)
        c.targetModules = .names(targetNames(model))
        c.numExperts = 2
        c.r = rank
        c.loraAlpha = scaling * Float(rank)   // standard scaling alpha/r = s
        c.loraDropout = dropout
        c.loraDropoutSite = .output
        c.initLoraWeights = .gaussianA
        c.seed = seed
        return c
    }

    /// Module keys of the layers PETALface (and the single-LoRA baseline) adapt.
    public static func targetNames(_ model: SFaceModel) -> [String] {
        model.pointwiseLayers.map(\.name) + (model.projectionName.map { [$0] } ?? [])
    }

    /// Attaches fresh experts to `model` (freezing its own weights) and returns them.
    public convenience init(attachingTo model: SFaceModel, rank: Int = 8, scaling: Float = 1, dropout: Float = 0, seed: UInt64 = 19) throws {
        let peft = PeftModel(model)
        try peft.addAdapter(Self.config(for: model, rank: rank, scaling: scaling, dropout: dropout, seed: seed))
        try self.init(peft: peft)
    }

    /// Wraps a `PeftModel` whose active adapter is an expert-LoRA with two experts (fresh or loaded).
    public init(peft: PeftModel, adapter name: String = "default") throws {
        let layers = peft.adapters(named: name).compactMap { k, a in (a as? ExpertLoRA).map { (k, $0) } }
        guard !layers.isEmpty, layers.allSatisfy({ $0.1.experts.count == 2 }) else {
            throw AdapterError.invalidSetting("PETALface needs a two-expert expert-LoRA adapter '\(name)'; found \(peft.configs.map { "\($0.name): \($0.config.method.rawValue)" })")
        }
        self.peft = peft
        self.layers = layers
    }

    /// Sets each image's α for the next forward (one value per batch item).
    public func setAlpha(_ alpha: [Float]) {
        let mix = Tensor(alpha.flatMap { [1 - $0, $0] }, shape: [alpha.count, 2])
        for (_, a) in layers { a.mixWeights = mix }
    }

    /// Trainable tensors of all experts.
    public var parameters: [Tensor] { layers.flatMap { $0.adapter.trainableParameters().map(\.1) } }
}

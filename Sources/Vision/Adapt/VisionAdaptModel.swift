import Core
import Foundation

/// A backbone, the adaptation method's trainable parts, and the classifier over `classes`.
///
/// Classifier: for CLIP (all methods but `probe`) logits are `τ · cos(image, prompt prototype)`
/// with τ = 100 and the prototypes from the text tower, recomputed each training step while
/// text parameters train (CLIP-SVD). Otherwise a `CosineHead` initialised from class means.
///
/// Adaptation: `svd`, `lora` and `ln` go through Core's `PeftModel` (peft targeting and
/// files); `adapter` attaches bottleneck adapters to the vision layers and selects their
/// parameters through a `PeftModel` parameter selection, so they save in the same layout.
public final class VisionAdaptModel {
    public let backbone: VisionBackbone
    public let options: VisionAdaptOptions
    public let classes: [String]
    /// Present for every method that trains backbone parameters.
    public internal(set) var peft: PeftModel?
    /// The class-mean head (nil when CLIP's prompt prototypes classify).
    public let head: CosineHead?
    /// What `PeftModel.addAdapter` reported (nil for probe / zero-shot).
    public internal(set) var injection: InjectionReport?
    private var cachedPrototypes: Tensor?

    /// Whether classes are CLIP prompt prototypes.
    public var usesPrompts: Bool { head == nil }

    /// The logit scale in use.
    public var logitScale: Float { head?.scale ?? (options.logitScale ?? 100) }

    /// Square input size.
    public var imageSize: Int { options.imageSize ?? backbone.nativeImageSize }

    init(backbone: VisionBackbone, options: VisionAdaptOptions, classes: [String], head: CosineHead?) {
        self.backbone = backbone
        self.options = options
        self.classes = classes
        self.head = head
    }

    /// A fresh model for training. `supportFeatures [N, D]` (un-augmented, frozen backbone)
    /// initialise the class-mean head; CLIP uses its prompts instead (except for `probe`).
    public static func create(backbone: VisionBackbone, classes: [String], options: VisionAdaptOptions,
                              supportFeatures: Tensor, labels: [Int]) throws -> VisionAdaptModel {
        try options.validate()
        if options.method == .zeroshot && backbone.family != .clip {
            throw DatasetError("--method zeroshot needs a CLIP model (text prompts); \(backbone.family.rawValue) has no text tower — use probe or svd")
        }
        var head: CosineHead?
        if backbone.family != .clip || options.method == .probe {
            head = try CosineHead.classMeans(features: supportFeatures, labels: labels, classes: classes,
                                             centered: options.centerFeatures && backbone.family != .clip,
                                             scale: options.logitScale ?? (backbone.family == .clip ? 100 : 30))
        }
        let model = VisionAdaptModel(backbone: backbone, options: options, classes: classes, head: head)
        if let config = try model.adapterConfig() {
            if options.method == .adapter { try model.attachBottlenecks() }
            let peft = PeftModel(backbone.module)
            model.injection = try peft.addAdapter(config)
            model.peft = peft
        } else {
            backbone.module.freeze()
        }
        return model
    }

    /// The PEFT config of the method (nil for `probe` and `zeroshot`, which train no backbone part).
    func adapterConfig() throws -> AdapterConfig? {
        var config: AdapterConfig
        if let o = options.adapterOverride, options.method == .lora {
            // `compare`: the method's targets (short names) resolved on this backbone.
            config = o.config
            if case .names(let short) = config.targetModules { config.targetModules = .names(try backbone.targets(named: short)) }
            config.baseModelNameOrPath = backbone.source
            return config
        }
        switch options.method {
        case .svd:
            config = AdapterConfig(method: .singularValues)
            config.targetModules = .names(backbone.blockLinearTargets)
        case .lora:
            config = .lora(r: options.loraRank, alpha: options.loraAlpha, targets: try backbone.targets(named: options.loraTargets))
        case .ln:
            config = .layerNormTuning(normNames: backbone.layerNormNames)
        case .adapter:
            config = AdapterConfig(method: .parameterSelection)
            config.parameterPatterns = ["(.*\\.)?adapters\\..*"]
        case .probe, .zeroshot:
            return nil
        }
        config.seed = options.seed
        config.baseModelNameOrPath = backbone.source
        return config
    }

    /// Pfeiffer adapters (series, after each feed-forward block, zero-initialised up
    /// projection so the model starts unchanged) on every vision layer.
    func attachBottlenecks() throws {
        for (i, layer) in backbone.visionLayers.enumerated() {
            let adapter = try BottleneckAdapter(width: layer.config.dim, reductionFactor: options.adapterReduction,
                                                placement: .series, activation: .relu, seed: options.seed &+ UInt64(i) &* 7919)
            layer.setAdapter(adapter, at: .feedForward)
        }
    }

    /// Every parameter the optimizer updates: the adapter's and the head's.
    public func trainableParameters() -> [(String, Tensor)] {
        var out = peft?.trainableParameters() ?? []
        if let head { out += head.trainableParameters().map { ("head." + $0.0, $0.1) } }
        return out
    }

    /// Number of trainable values (adapter plus head).
    public var trainableCount: Int { trainableParameters().reduce(0) { $0 + $1.1.count } }

    /// Folds `svd` and `lora` adapters into the base weights, so inference costs what the base
    /// model costs (unmerged, singular-value tuning adds two matrix products per linear).
    /// Call only when training is over.
    public func mergeForInference() throws {
        guard let peft, options.method == .svd || options.method == .lora, !peft.isMerged, AdapterOverride.isMergeable(peft) else { return }
        try peft.merge()
        cachedPrototypes = nil
    }

    /// Switches dropout and the prototype cache between training and evaluation.
    public func setTraining(_ on: Bool) {
        backbone.module.train(on)
        cachedPrototypes = nil
    }

    /// CLIP class prototypes `[C, D]` (normalised); cached unless the text tower trains.
    func prototypes() throws -> Tensor {
        if let p = cachedPrototypes { return p }
        let prompts = classes.map { classPrompt(options.promptTemplate, $0) }
        if backbone.textTowerTrains && backbone.module.isTraining {
            return l2Normalized(try backbone.textFeatures(prompts))
        }
        let p = try withoutGrad { l2Normalized(try backbone.textFeatures(prompts)) }
        cachedPrototypes = p
        return p
    }

    /// Logits `[B, C]` for classifier features `[B, D]`.
    public func logits(features: Tensor) throws -> Tensor {
        if let head { return head(features) }
        return l2Normalized(features).matmul(try prototypes().transposed()) * logitScale
    }

    /// Logits `[B, C]` for normalised pixels `[B, 3, H, W]`.
    public func logits(_ pixels: Tensor) throws -> Tensor {
        try logits(features: try backbone.imageFeatures(pixels))
    }
}

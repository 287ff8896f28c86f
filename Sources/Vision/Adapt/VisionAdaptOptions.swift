import Core
import Foundation

/// How `vision-adapt` adapts a backbone to a set of classes.
public enum AdaptMethod: String, CaseIterable, Sendable, Codable {
    /// CLIP-SVD: only the singular values of q, k, v, out, fc1, fc2 in every block train.
    case svd
    /// LoRA on the chosen block linears (`--targets`, default q and v).
    case lora
    /// LayerNorm tuning: every LayerNorm weight and bias trains.
    case ln
    /// Pfeiffer bottleneck adapters after every feed-forward block.
    case adapter
    /// Linear probe: the backbone stays frozen, only the head trains on cached features.
    case probe
    /// CLIP without training: cosine to each class's prompt.
    case zeroshot
}

/// Hyperparameters of one few-shot run. Defaults follow the CLIP-SVD few-shot protocol
/// (AdamW lr 5e-4, weight decay 0.01, cosine to 1e-6 over 200 × K iterations, batch 32,
/// RandomResizedCrop(0.08–1) + horizontal flip); every field is configurable.
public struct VisionAdaptOptions: Sendable, Codable, Equatable {
    public var method: AdaptMethod = .svd
    public var shots = 16
    public var learningRate = 5e-4
    public var weightDecay = 0.01
    /// Training iterations (optimizer steps); nil means 200 × shots.
    public var iterations: Int?
    public var batchSize = 32
    /// The cosine schedule ends here (CLIP-SVD: 1e-6).
    public var minLearningRate = 1e-6
    /// Square input size in pixels; nil means the backbone's own (224).
    public var imageSize: Int?
    /// RandomResizedCrop + flip on training images (off: the evaluation preprocessing).
    public var augment = true
    /// Smallest crop area fraction of RandomResizedCrop.
    public var cropScaleMin = 0.08
    /// Logit scale τ of the cosine classifier; nil means 100 for CLIP's text prototypes (the
    /// paper's value) and 30 for the class-mean head of vision-only backbones.
    public var logitScale: Float?
    /// CLIP prompt; `{}` becomes the class name with "_" read as a space.
    public var promptTemplate = "a photo of a {}."
    public var loraRank = 8
    public var loraAlpha: Float = 16
    /// Block linears for `lora` (`q,k,v,o,fc1,fc2` or `all`); `svd` always uses all six.
    public var loraTargets = ["q", "v"]
    /// Bottleneck width = hidden / this (AdapterHub's reduction factor).
    public var adapterReduction = 16
    /// Centre features on the support mean before the class-mean head (SimpleShot's CL2N);
    /// vision-only backbones only.
    public var centerFeatures = true
    public var seed: UInt64 = 1
    /// Any adapter-library config (LoRA, DoRA, the zoo) in place of the method's own adapter;
    /// used by `vision-adapt compare` with `method == .lora`. nil: the method's adapter.
    public var adapterOverride: AdapterOverride?

    public init(method: AdaptMethod = .svd, shots: Int = 16) {
        self.method = method
        self.shots = shots
    }

    /// Iterations actually run.
    public var resolvedIterations: Int { iterations ?? 200 * shots }

    /// Checks value ranges; throws a one-line error naming the option.
    public func validate() throws {
        func bad(_ s: String) -> DatasetError { DatasetError(s) }
        if shots < 1 { throw bad("--shots must be at least 1, got \(shots)") }
        if batchSize < 1 { throw bad("--batch must be at least 1, got \(batchSize)") }
        if resolvedIterations < 0 { throw bad("--iterations must be non-negative, got \(resolvedIterations)") }
        if !(learningRate > 0) { throw bad("--lr must be positive, got \(learningRate)") }
        if !(weightDecay >= 0) { throw bad("--weight-decay must be non-negative, got \(weightDecay)") }
        if let s = imageSize, s < 8 || s > 1024 { throw bad("--image-size must be between 8 and 1024, got \(s)") }
        if !(cropScaleMin > 0 && cropScaleMin <= 1) { throw bad("--crop-scale must be in (0, 1], got \(cropScaleMin)") }
        if let t = logitScale, !(t > 0) { throw bad("--logit-scale must be positive, got \(t)") }
        if loraRank < 1 { throw bad("--rank must be at least 1, got \(loraRank)") }
        if adapterReduction < 1 { throw bad("--reduction must be at least 1, got \(adapterReduction)") }
        if !promptTemplate.contains("{}") { throw bad("--prompt '\(promptTemplate)' has no {} for the class name") }
    }

    /// The JSON field names (snake_case, as in the saved manifest).
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}

/// The prompt for one class: `{}` replaced by the class name with "_" as a space.
public func classPrompt(_ template: String, _ className: String) -> String {
    template.replacingOccurrences(of: "{}", with: className.replacingOccurrences(of: "_", with: " "))
}

/// The method an `AdapterConfig` describes, with its `peft_type` string. peft's own types use
/// peft's names (so files load in Python); methods peft lacks use a `PEFTKIT_` type and
/// the same file layout.
public enum PeftMethod: String, Equatable, Sendable, CaseIterable {
    /// LoRA, rsLoRA and DoRA (`use_rslora`, `use_dora`).
    case lora = "LORA"
    /// (IA)³: learned rescaling of activations.
    case ia3 = "IA3"
    /// CLIP-SVD: only the singular values of each targeted Linear train.
    case singularValues = "PEFTKIT_SINGULAR_VALUES"
    /// N LoRA experts mixed per sample (PETALface).
    case expertLoRA = "PEFTKIT_EXPERT_LORA"
    /// Shared and/or per-task LoRA picked by a task id (Omni-AVSR).
    case taskLoRA = "PEFTKIT_TASK_LORA"
    /// Existing parameters selected by name (LayerNorm tuning, BitFit).
    case parameterSelection = "PEFTKIT_PARAMETER_SELECTION"
    // MARK: methods zoo (docs/methods-zoo.md; Sources/Core/Adapters/Zoo)
    /// DyLoRA: nested ranks, one sampled per training step.
    case dyLoRA = "PEFTKIT_DYLORA"
    /// Hydra: parallel + sequential low-rank branches.
    case hydra = "PEFTKIT_HYDRA"
    /// LoLDU: trainable diagonal of a frozen LDU factorisation of W.
    case loLDU = "PEFTKIT_LOLDU"
    /// RandLoRA, as peft's `RandLora`.
    case randLoRA = "RANDLORA"
    /// MoS: rank vectors assembled from shard pools shared across layers.
    case mixtureOfShards = "PEFTKIT_MOS"
    /// PaCA: a random subset of W's input columns trains in place.
    case paca = "PEFTKIT_PACA"
    /// LoCA: DCT-domain coefficients at learnable locations.
    case loCA = "PEFTKIT_LOCA"
    /// QWHA's Walsh–Hadamard adapter: sparse Hadamard-domain coefficients.
    case walshHadamard = "PEFTKIT_QWHA"
    /// Kronecker adapter (DiffuseKronA), as peft's `LoKr`.
    case loKr = "LOKR"
    /// TriAdaptLoRA: SVD-form LoRA whose rank grows during training.
    case triAdaptLoRA = "PEFTKIT_TRIADAPTLORA"
    /// MTLoRA: shared + task-specific LoRA.
    case mtLoRA = "PEFTKIT_MTLORA"
    /// TLoRA: a Kronecker-structured transform of W plus a Kronecker-structured residual.
    case tLoRA = "PEFTKIT_TLORA"

    /// The zoo methods, by the short names `compare --methods` and the apps accept.
    public static let zooNames: [(name: String, method: PeftMethod)] = [
        ("dylora", .dyLoRA), ("hydra", .hydra), ("loldu", .loLDU), ("randlora", .randLoRA), ("mos", .mixtureOfShards),
        ("paca", .paca), ("loca", .loCA), ("qwha", .walshHadamard), ("lokr", .loKr), ("triadaptlora", .triAdaptLoRA),
        ("mtlora", .mtLoRA), ("tlora", .tLoRA),
    ]
}

/// peft's `bias` option for LoRA: which existing biases train alongside the adapter.
public enum BiasTraining: String, Equatable, Sendable {
    case none
    /// Every parameter whose key contains `bias`.
    case all
    /// The biases of the adapted Linears only.
    case loraOnly = "lora_only"
}

/// Omni-AVSR's three Omni-LoRA variants.
public enum TaskLoRAMode: String, Equatable, Sendable {
    /// One LoRA used for every task (S).
    case shared
    /// One LoRA per task id (T).
    case task
    /// Shared + task LoRA, summed before scaling (ST).
    case sharedAndTask = "shared+task"
}

/// One adapter's settings under peft's field names. The same struct describes every
/// Linear-targeted method; fields a method does not use are ignored (and not written).
///
/// ```swift
/// var cfg = AdapterConfig.lora(r: 8, alpha: 16, targets: ["query", "value"])
/// cfg.useDoRA = true
/// let report = try peft.addAdapter(cfg)
/// ```
public struct AdapterConfig: Equatable, Sendable {
    public var method: PeftMethod
    // MARK: targeting (peft names)
    public var targetModules: TargetModules?
    public var excludeModules: TargetModules?
    public var layersToTransform: [Int]?
    public var layersPattern: [String]?
    /// Modules (by name or dotted suffix) whose parameters all train and are saved (new heads).
    public var modulesToSave: [String]?
    // MARK: LoRA family
    public var r: Int = 8
    public var loraAlpha: Float = 8
    public var loraDropout: Float = 0
    public var loraDropoutSite: LoRADropoutSite = .input
    public var useRSLoRA = false
    public var useDoRA = false
    /// PETL-AST / Omni-AVSR convention: rank = round(in/RR), scale = alpha/RR.
    public var reductionFactor: Int?
    public var initLoraWeights: LoRAInit = .kaimingA
    public var bias: BiasTraining = .none
    /// Per-module rank overrides: pattern → r (peft's `rank_pattern`).
    public var rankPattern: [String: Int] = [:]
    /// Per-module alpha overrides: pattern → alpha (peft's `alpha_pattern`).
    public var alphaPattern: [String: Float] = [:]
    // MARK: (IA)³
    /// Targets whose *input* is rescaled (peft's `feedforward_modules`); others rescale outputs.
    public var feedforwardModules: TargetModules?
    // MARK: singular values
    /// Leading singular directions to train (nil: all, `min(in, out)`).
    public var svdRank: Int?
    // MARK: expert / task LoRA
    public var numExperts = 2
    public var tasks: [String] = []
    public var taskMode: TaskLoRAMode = .sharedAndTask
    // MARK: parameter selection
    /// Regular expressions, each matched against whole parameter keys.
    public var parameterPatterns: [String] = []
    // MARK: methods zoo
    /// Settings of the zoo methods (`docs/methods-zoo.md`); `r` and `loraAlpha` carry each
    /// method's rank and alpha (`randlora_alpha`, LoKr's `alpha`, `paca_alpha`).
    public var zoo = ZooSettings()
    // MARK: bookkeeping
    public var taskType: String?
    public var baseModelNameOrPath: String?
    public var inferenceMode = false
    /// Seed of every random initialisation (each layer forks it by its module key).
    public var seed: UInt64 = 0

    public init(method: PeftMethod) { self.method = method }

    /// A LoRA config with peft's defaults otherwise.
    public static func lora(r: Int, alpha: Float, targets: [String], dropout: Float = 0) -> AdapterConfig {
        var c = AdapterConfig(method: .lora)
        c.r = r
        c.loraAlpha = alpha
        c.loraDropout = dropout
        c.targetModules = .names(targets)
        return c
    }

    /// LayerNorm tuning (GenD): every parameter under a module whose name contains one of
    /// `normNames` (e.g. `["layer_norm1", "layer_norm2"]` for CLIP, `["LayerNorm"]` for BERT).
    public static func layerNormTuning(normNames: [String]) -> AdapterConfig {
        var c = AdapterConfig(method: .parameterSelection)
        let alternatives = normNames.map(escapeRegex).joined(separator: "|")
        c.parameterPatterns = [".*(\(alternatives)).*\\.(weight|bias)"]
        return c
    }

    /// Bias tuning (BitFit): every parameter named `bias`.
    public static func biasTuning() -> AdapterConfig {
        var c = AdapterConfig(method: .parameterSelection)
        c.parameterPatterns = ["(.*\\.)?bias"]
        return c
    }

    /// The targeting rules as a `TargetSpec` (nil when the method selects parameters instead).
    public var targetSpec: TargetSpec? {
        guard let t = targetModules else { return nil }
        return TargetSpec(targets: t, exclude: excludeModules, layersToTransform: layersToTransform, layersPattern: layersPattern)
    }

    /// The rank and alpha for a module key, after `rank_pattern` / `alpha_pattern` (peft's
    /// `get_pattern_key`: a pattern matches when the key ends with it at a segment boundary).
    public func rankAndAlpha(for key: String) -> (r: Int, alpha: Float) {
        var rank = r, alpha = loraAlpha
        if let p = patternKey(rankPattern.keys.sorted(), key), let v = rankPattern[p] { rank = v }
        if let p = patternKey(alphaPattern.keys.sorted(), key), let v = alphaPattern[p] { alpha = v }
        return (rank, alpha)
    }

    /// The LoRA scaling rule this config implies.
    public var scalingRule: LoRAScaling {
        if let rr = reductionFactor { return .reductionFactor(rr) }
        return useRSLoRA ? .rankStabilized : .standard
    }

    /// Checks value ranges; throws a one-line error naming the field.
    public func validate(file: String = "adapter config") throws {
        func bad(_ s: String) -> AdapterError { .badConfig(file: file, detail: s) }
        switch method {
        case .lora, .expertLoRA, .taskLoRA:
            if reductionFactor == nil, r <= 0 { throw bad("'r' must be a positive integer, got \(r)") }
            if let rr = reductionFactor, rr <= 0 { throw bad("'reduction_factor' must be positive, got \(rr)") }
            if !(loraDropout >= 0 && loraDropout < 1) { throw bad("'lora_dropout' must be in [0, 1), got \(loraDropout)") }
            if let (k, v) = rankPattern.first(where: { $0.value <= 0 }) { throw bad("'rank_pattern' entry '\(k)' has rank \(v); ranks must be positive") }
        default: break
        }
        try zoo.validate(method: method, r: r, file: file)
        if method == .expertLoRA, numExperts < 1 { throw bad("'num_experts' must be at least 1, got \(numExperts)") }
        if method == .taskLoRA, taskMode != .shared, tasks.isEmpty { throw bad("'tasks' must list the task ids for task_lora_mode '\(taskMode.rawValue)'") }
        if method == .parameterSelection {
            if parameterPatterns.isEmpty { throw bad("'parameter_patterns' is empty; give at least one regular expression") }
            for p in parameterPatterns where (try? Regex(p)) == nil { throw bad("'parameter_patterns' entry '\(p)' is not a valid regular expression") }
        } else if targetModules == nil {
            throw bad("'target_modules' is missing; list module names, give a regex, or use \"all-linear\"")
        }
        do { try targetSpec?.validate() } catch let e as TargetingError { throw bad(e.description) }
    }
}

/// peft's `get_pattern_key`: the first pattern `p` for which the key matches `(.*\.)?p$`.
func patternKey(_ patterns: [String], _ key: String) -> String? {
    for p in patterns {
        if key == p || key.hasSuffix("." + p) { return p }
        if let r = try? Regex("(.*\\.)?(\(p))"), key.wholeMatch(of: r) != nil { return p }
    }
    return nil
}

/// Escapes regex metacharacters so a module name matches literally.
func escapeRegex(_ s: String) -> String {
    var out = ""
    for c in s {
        if "\\^$.|?*+()[]{}".contains(c) { out.append("\\") }
        out.append(c)
    }
    return out
}

import Core

/// The methods compared in PETL-AST (methods.md §5), by their command-line names.
public enum PETLMethod: String, CaseIterable, Codable, Sendable {
    /// Final LayerNorm + head only.
    case linear
    /// Every backbone weight.
    case full
    /// Biases of every Linear and LayerNorm.
    case bitfit
    /// LoRA on Wq, Wv with the reduction-rate convention.
    case lora
    /// Prompt tuning (deep by default).
    case prompt
    /// Prefix tuning after the K/V projections.
    case prefix
    /// Bottleneck adapters (Pfeiffer/Houlsby × sequential/parallel × residual).
    case adapter
    /// The paper's Conformer-convolution adapter.
    case conformerAdapter = "conformer-adapter"

    /// The paper's learning rates (`hparams/train.yaml`): adapters, LoRA and BitFit 5e-3; prompt
    /// and prefix 1e-2; full fine-tuning 5e-5; linear probing 1e-3.
    public var defaultLearningRate: Double {
        switch self {
        case .linear: return 1e-3
        case .full: return 5e-5
        case .bitfit, .lora, .adapter, .conformerAdapter: return 5e-3
        case .prompt, .prefix: return 1e-2
        }
    }

    /// Whether the method inserts modules into the layers (so adapters sit in both placements).
    public var isAdapter: Bool { self == .adapter || self == .conformerAdapter }
}

/// Pfeiffer: one adapter beside/after the FFN. Houlsby: one at the attention block as well.
public enum AdapterLayout: String, CaseIterable, Codable, Sendable {
    case pfeiffer, houlsby
    /// The sublayer sites that receive an adapter.
    public var sites: [SublayerSite] { self == .pfeiffer ? [.feedForward] : [.attention, .feedForward] }
}

/// Everything that defines one PETL run's model changes. Defaults are the paper's (methods.md §5):
/// adapters parallel to the FFN (Pfeiffer) without the residual, reduction rate 96, kernel 31;
/// LoRA on q,v with RR 64 and alpha 8; 25 deep prompts; 24 prefix tokens (12 keys + 12 values).
public struct PETLConfig: Codable, Sendable, Equatable {
    public var method: PETLMethod
    /// Adapter bottleneck `round(d / RR)`.
    public var adapterReductionRate = 96
    public var layout: AdapterLayout = .pfeiffer
    /// Parallel (reads the sublayer input) or sequential (reads its output).
    public var parallel = true
    /// PETL-AST's `apply_residual`. nil: the paper's advice for the connection (parallel: off,
    /// sequential: on).
    public var residual: Bool?
    public var kernelSize = 31
    /// LoRA rank `round(d / RR)`, scale `alpha / RR`.
    public var loraReductionRate = 64
    public var loraAlpha: Float = 8
    /// Projections LoRA adapts: any of "query", "key", "value", "output".
    public var loraTargets = ["query", "value"]
    public var promptTokens = 25
    public var deepPrompts = true
    /// Total prefix tokens N; each layer gets N/2 keys and N/2 values.
    public var prefixTokens = 24
    /// Seed of every fresh tensor (head, adapters, prompts).
    public var seed: UInt64 = 10
    /// Any adapter-library config (LoRA, DoRA, the zoo) in place of the LoRA pairs of
    /// `method == .lora` (same final LN and head); used by `audio-adapt compare`. Its target
    /// names are the `loraTargets` kind (query, key, value, output). nil: PETL-AST's LoRA.
    public var adapterOverride: AdapterOverride?

    public init(method: PETLMethod) { self.method = method }

    /// The residual flag in effect.
    public var effectiveResidual: Bool { residual ?? !parallel }

    /// Checks the sizes against a backbone width; one line naming the option on failure.
    public func validate(width: Int) throws {
        func bad(_ s: String) -> AdapterError { .invalidSetting(s) }
        if method.isAdapter {
            guard adapterReductionRate >= 1, Int((Double(width) / Double(adapterReductionRate)).rounded()) >= 1 else {
                throw bad("--reduction-rate \(adapterReductionRate) leaves no adapter bottleneck for width \(width)")
            }
            guard kernelSize >= 1, kernelSize % 2 == 1 else { throw bad("--kernel \(kernelSize) must be odd") }
        }
        if method == .lora {
            guard loraReductionRate >= 1, Int((Double(width) / Double(loraReductionRate)).rounded()) >= 1 else {
                throw bad("--lora-rr \(loraReductionRate) leaves LoRA rank 0 for width \(width)")
            }
            let allowed: Set<String> = ["query", "key", "value", "output"]
            guard !loraTargets.isEmpty, loraTargets.allSatisfy(allowed.contains) else {
                throw bad("--lora-targets \(loraTargets.joined(separator: ",")) must list query, key, value or output")
            }
        }
        if method == .prompt { guard promptTokens >= 1 else { throw bad("--prompts must be at least 1") } }
        if method == .prefix {
            guard prefixTokens >= 2, prefixTokens % 2 == 0 else {
                throw bad("--prefix-tokens \(prefixTokens) must be even and at least 2 (half keys, half values)")
            }
        }
    }

    /// One-line summary for reports.
    public var summary: String {
        switch method {
        case .adapter, .conformerAdapter:
            return "\(method.rawValue) \(layout.rawValue) \(parallel ? "parallel" : "sequential")\(effectiveResidual ? " +residual" : "") RR \(adapterReductionRate)\(method == .conformerAdapter ? " k \(kernelSize)" : "")"
        case .lora:
            if let o = adapterOverride { return "\(o.config.method.rawValue.lowercased()) r \(o.config.r) on \(o.config.targetModules?.description ?? "-")" }
            return "lora \(loraTargets.joined(separator: ",")) RR \(loraReductionRate) alpha \(loraAlpha)"
        case .prompt: return "prompt \(deepPrompts ? "deep" : "shallow") N \(promptTokens)"
        case .prefix: return "prefix N \(prefixTokens)"
        default: return method.rawValue
        }
    }
}

import Core
import Foundation

/// A frozen audio transformer adapted by one PETL method, with PETL-AST's classifier: the final
/// LayerNorm over all output tokens, their mean (`final_output='ALL'`, prompt tokens included,
/// as the reference averages the whole sequence), then `Linear(d → C)`.
///
/// What each method makes trainable (methods.md §5; the head always):
/// - linear: final LN.  full: every backbone tensor except fixed ones (Whisper's sinusoids).
/// - bitfit: the bias of every Linear and LayerNorm, final LN's included (its weight stays
///   frozen, as in the reference code, which unfreezes biases only).
/// - lora: A, B on the chosen projections (rank round(d/RR), scale alpha/RR, A = 0, B Kaiming) + final LN.
/// - prompt / prefix: the prompt or prefix tokens (VPT uniform init) + final LN.
/// - adapter / conformer-adapter: the adapters + `LN2` of every layer (+ `LN1` for Houlsby) + final LN.
///
/// Keys: `backbone.<backbone key>` and `head.{weight,bias}`; adapters appear under
/// `backbone.encoder.layer.N.adapters.{attention,ffn}.*`, LoRA under `….query.lora_A.weight`,
/// prompts under `backbone.encoder.prompts.prompt_embeddings`, prefixes under
/// `….attention.attention.prefix.{keys,values}`.
public final class PETLClassifier: Module {
    public let backbone: any PETLBackbone
    public let head: Linear
    public let config: PETLConfig
    public let labels: [String]
    /// The adapter-library model of `config.adapterOverride` (nil otherwise).
    public internal(set) var peft: PeftModel?
    /// Conformer adapters (their BatchNorms follow `setTraining`).
    public private(set) var conformers: [ConformerAdapter] = []
    /// Whether the backbone must drop what prompt tuning drops (set for the prompt method).
    public var usesPrompts: Bool { config.method == .prompt }

    /// Applies `config` to `backbone` (which is frozen first) and adds a fresh head for `labels`.
    public init(backbone: any PETLBackbone, labels: [String], config: PETLConfig) throws {
        guard labels.count >= 2 else {
            throw AdapterError.invalidSetting("a classifier needs at least 2 classes, got \(labels.count)")
        }
        try config.validate(width: backbone.width)
        self.backbone = backbone
        self.labels = labels
        self.config = config
        var rng = SplitMix64(seed: config.seed)
        head = Linear(inFeatures: backbone.width, outFeatures: labels.count, using: &rng)
        backboneParameterCount = backbone.parameters().reduce(0) { $0 + $1.count }
        super.init()
        backbone.freeze()
        try apply(seed: rng.next())
    }

    override public func namedChildren() -> [(String, Module)] { [("backbone", backbone), ("head", head)] }

    // MARK: - Applying the method

    private func apply(seed: UInt64) throws {
        let c = config, d = backbone.width
        let layers = backbone.encoder.layers.items
        let finalNorm = backbone.finalNorm
        func trainNorm(_ ln: LayerNorm) { ln.weight?.requiresGrad = true; ln.bias?.requiresGrad = true }
        let root = SplitMix64(seed: seed)
        func seedFor(_ salt: Int) -> UInt64 { var g = root.fork(UInt64(salt)); return g.next() }
        switch c.method {
        case .linear:
            trainNorm(finalNorm)
        case .full:
            backbone.unfreeze()
            for (key, p) in backbone.namedParameters() where backbone.fixedParameterKeys.contains(key) { p.requiresGrad = false }
        case .bitfit:
            for (_, m) in backbone.namedModules() {
                if let lin = m as? Linear { lin.bias?.requiresGrad = true }
                if let ln = m as? LayerNorm { ln.bias?.requiresGrad = true }
            }
        case .lora:
            if let o = c.adapterOverride {
                peft = try attachOverride(o.config)  // freezes the backbone first, so the norm comes after
                trainNorm(finalNorm)
                return
            }
            trainNorm(finalNorm)
            let scaling = LoRAScaling.reductionFactor(c.loraReductionRate)
            for (i, layer) in layers.enumerated() {
                let attention = layer.attention
                for (j, target) in c.loraTargets.enumerated() {
                    let lin: Linear
                    switch target {
                    case "query": lin = attention.query
                    case "key": lin = attention.key
                    case "value": lin = attention.value
                    default: lin = attention.output
                    }
                    let r = scaling.rank(configured: 0, inFeatures: lin.inFeatures)
                    let lora = try LoRA(inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, rank: r,
                                        scaling: scaling.scale(alpha: c.loraAlpha, rank: r),
                                        initialization: .kaimingB, seed: seedFor(100 + i * 8 + j), key: target)
                    lin.attach(lora)
                }
            }
        case .prompt:
            trainNorm(finalNorm)
            let prompts = PromptTuning(length: c.promptTokens, width: d, layers: c.deepPrompts ? layers.count : nil,
                                       initialization: .vpt(patch: backbone.promptPatchSize, width: d), seed: seedFor(1))
            backbone.encoder.promptProvider = prompts
            backbone.encoder.promptPosition = backbone.promptPosition
        case .prefix:
            trainNorm(finalNorm)
            let prefix = PrefixTuning(layers: layers.count, length: c.prefixTokens / 2, width: d,
                                      initialization: .vpt(patch: backbone.promptPatchSize, width: d), seed: seedFor(2))
            for (i, layer) in layers.enumerated() { layer.prefix = prefix.layer(i) }
        case .adapter, .conformerAdapter:
            trainNorm(finalNorm)
            let placement: BottleneckPlacement = c.parallel ? .parallel : .series
            for (i, layer) in layers.enumerated() {
                trainNorm(layer.feedForwardNorm)
                if c.layout == .houlsby { trainNorm(layer.attentionNorm) }
                for site in c.layout.sites {
                    let adapterSeed = seedFor(1000 + i * 2 + (site == .attention ? 0 : 1))
                    if c.method == .conformerAdapter {
                        let a = try ConformerAdapter(width: d, reductionRate: c.adapterReductionRate, kernelSize: c.kernelSize,
                                                     placement: placement, residual: c.effectiveResidual, seed: adapterSeed)
                        conformers.append(a)
                        layer.setAdapter(a, at: site)
                    } else {
                        // GELU bottleneck as the reference; only the up-projection starts at zero
                        // (the reference zeroes both, which freezes everything but the up bias).
                        let a = try BottleneckAdapter(width: d, reductionFactor: c.adapterReductionRate, placement: placement,
                                                      residual: c.effectiveResidual, activation: .gelu,
                                                      initialization: .zeroUp, seed: adapterSeed)
                        layer.setAdapter(a, at: site)
                    }
                }
            }
        }
    }

    // MARK: - Running

    /// Train mode as PETL-AST sets it: the frozen backbone stays in evaluation mode (dropout off);
    /// only the Conformer adapters' BatchNorms (and the head) switch.
    public func setTraining(_ on: Bool) {
        eval()
        if on {
            for a in conformers { a.train() }
            head.train()
            if config.method == .full { backbone.train() }
        }
    }

    /// Normalised, mean-pooled encoder output before the head, `[B, d]`, from the encoder's output
    /// `[B, T, d]` (prompt tokens kept).
    public func pool(encoded: Tensor) -> Tensor { backbone.finalNorm(encoded).mean(axis: 1) }

    /// The encoder output for stacked features `[B, …]` (prompt tokens kept), before the final LN.
    public func encode(_ features: Tensor) throws -> Tensor {
        backbone.encoder(try backbone.embed(features, forPrompts: usesPrompts), keepPrompts: true).lastHiddenState
    }

    /// Logits `[B, C]` for stacked features.
    public func callAsFunction(_ features: Tensor) throws -> Tensor { head(pool(encoded: try encode(features))) }

    /// Whether everything before the final LN is frozen and input-only, so encoder outputs can be
    /// computed once per clip and reused across epochs (linear probing).
    public var encoderIsFrozen: Bool { config.method == .linear }

    // MARK: - Parameters

    /// Trainable tensors with their keys (what the optimizer updates).
    public var trainable: [(String, Tensor)] { trainableParameters() }

    /// Number of trainable scalars.
    public var trainableCount: Int { trainable.reduce(0) { $0 + $1.1.count } }

    /// Scalars of the pretrained backbone alone (the paper's denominator), counted before the
    /// method added anything.
    public let backboneParameterCount: Int

    /// Trainable share of the backbone size in percent.
    public var trainablePercent: Double { 100 * Double(trainableCount) / Double(max(backboneParameterCount, 1)) }

    /// What an adapter file must hold: every trainable tensor plus the Conformer BatchNorm running
    /// statistics (buffers that training changed).
    public func stateToSave() -> [(String, Tensor)] {
        namedParameters().filter { $0.1.requiresGrad || $0.0.hasSuffix("running_mean") || $0.0.hasSuffix("running_var") }
    }
}

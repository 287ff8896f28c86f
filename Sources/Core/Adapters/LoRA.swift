/// How the two LoRA factors start. Every choice has `B·A = 0`, so the adapted model equals
/// the base right after injection.
public enum LoRAInit: String, Equatable, Sendable {
    /// peft's default (`init_lora_weights=True`): A Kaiming-uniform with a = √5 (bound 1/√in), B zeros.
    case kaimingA
    /// peft's `"gaussian"`: A ~ N(0, 1/r), B zeros (also PETALface's init).
    case gaussianA
    /// The audio papers' code (PETL-AST, Omni-AVSR): A zeros, B Kaiming-uniform with a = √5.
    case kaimingB
}

/// Where LoRA's dropout acts.
public enum LoRADropoutSite: String, Equatable, Sendable {
    /// On the LoRA input, as peft: `B·A·dropout(x)`.
    case input
    /// On the LoRA output, as PETALface's code: `dropout(B·A·x)`.
    case output
}

/// How the LoRA scale is derived from `alpha`.
public enum LoRAScaling: Equatable, Sendable {
    /// `alpha / r` (LoRA).
    case standard
    /// `alpha / √r` (rsLoRA, peft's `use_rslora`).
    case rankStabilized
    /// The reduction-factor convention of PETL-AST / Omni-AVSR: rank = round(in / RR) per
    /// layer and scale = `alpha / RR`.
    case reductionFactor(Int)

    /// Rank for a layer with `inFeatures` inputs, given the configured `r`.
    public func rank(configured r: Int, inFeatures: Int) -> Int {
        if case let .reductionFactor(rr) = self { return Int((Double(inFeatures) / Double(Swift.max(rr, 1))).rounded()) }
        return r
    }

    /// The multiplier applied to `B·A·x`.
    public func scale(alpha: Float, rank: Int) -> Float {
        switch self {
        case .standard: return alpha / Float(rank)
        case .rankStabilized: return alpha / Float(rank).squareRoot()
        case let .reductionFactor(rr): return alpha / Float(rr)
        }
    }
}

/// Low-rank adaptation of a frozen `Linear`: `y = W·x + b + scaling · B·(A·x)` with
/// A `[r, in]`, B `[out, r]` (Hu et al. 2021; peft's `lora.Linear`).
///
/// The forward runs two thin GEMMs and never forms `B·A`; merging folds `scaling·B·A` into
/// the weight so inference costs one GEMM. Keys: `lora_A.weight`, `lora_B.weight`.
///
/// ```swift
/// let lora = try LoRA(inFeatures: 384, outFeatures: 384, rank: 8, scaling: 2, seed: 1)
/// query.attach(lora)             // query(x) == base output until B is trained
/// ```
public class LoRA: Module, ManagedLinearAdapter {
    /// Down-projection `[r, in]`.
    public let loraA: Tensor
    /// Up-projection `[out, r]`.
    public let loraB: Tensor
    public let rank: Int
    /// Multiplier of `B·A·x` (alpha/r, alpha/√r or alpha/RR).
    public let scaling: Float
    /// Dropout probability (active only while the host layer is in training mode).
    public let dropout: Float
    public let dropoutSite: LoRADropoutSite
    /// Seeded stream for dropout masks (save it to resume a run bit-exactly).
    public var dropoutRNG: SplitMix64
    public var adapterName = "default"

    /// An adapter over existing factors (loading, tests). Both factors become trainable.
    public init(a: Tensor, b: Tensor, scaling: Float, dropout: Float = 0, dropoutSite: LoRADropoutSite = .input, seed: UInt64 = 0) {
        precondition(a.rank == 2 && b.rank == 2 && b.shape[1] == a.shape[0], "LoRA: A \(a.shape) and B \(b.shape) do not chain")
        loraA = a
        loraB = b
        rank = a.shape[0]
        self.scaling = scaling
        self.dropout = dropout
        self.dropoutSite = dropoutSite
        dropoutRNG = SplitMix64(seed: seed ^ 0x4C6F_5241)
        super.init()
        loraA.requiresGrad = true
        loraB.requiresGrad = true
    }

    /// Fresh factors initialised by `initialization` from a generator seeded with `seed`.
    /// Throws when `rank ≤ 0` (peft's only rank rule) or the dropout is outside [0, 1).
    public convenience init(
        inFeatures: Int, outFeatures: Int, rank: Int, scaling: Float, dropout: Float = 0,
        dropoutSite: LoRADropoutSite = .input, initialization: LoRAInit = .kaimingA, seed: UInt64, key: String = "LoRA"
    ) throws {
        guard rank > 0 else { throw AdapterError.invalidRank(key: key, rank: rank, limit: Swift.max(inFeatures, outFeatures)) }
        guard dropout >= 0 && dropout < 1 else {
            throw AdapterError.invalidSetting("'\(key)': lora_dropout \(dropout) must be in [0, 1)")
        }
        var rng = SplitMix64(seed: seed)
        let a: Tensor, b: Tensor
        switch initialization {
        case .kaimingA:
            a = Tensor.kaimingUniform([rank, inFeatures], using: &rng)
            b = Tensor.zeros([outFeatures, rank])
        case .gaussianA:
            a = Tensor.normal([rank, inFeatures], std: 1 / Float(rank), using: &rng)
            b = Tensor.zeros([outFeatures, rank])
        case .kaimingB:
            a = Tensor.zeros([rank, inFeatures])
            b = Tensor.kaimingUniform([outFeatures, rank], using: &rng)
        }
        self.init(a: a, b: b, scaling: scaling, dropout: dropout, dropoutSite: dropoutSite, seed: rng.next())
    }

    public func stateEntries() -> [(String, Tensor)] { [("lora_A.weight", loraA), ("lora_B.weight", loraB)] }
    override public func namedLocalParameters() -> [(String, Tensor)] { taggedEntries() }
    public var isMergeable: Bool { true }

    /// `scaling · B·(A·x)` without dropout: two thin GEMMs, the scale applied on the narrow
    /// `[…, r]` intermediate (cheaper than on the `[…, out]` result).
    public func lowRankDelta(_ x: Tensor) -> Tensor {
        (x.linear(weight: loraA) * scaling).linear(weight: loraB)
    }

    /// The LoRA branch with dropout applied where configured (training mode only).
    func branch(_ x: Tensor, training: Bool) -> Tensor {
        let active = training && dropout > 0
        if active && dropoutSite == .input { return lowRankDelta(seededDropout(x, p: dropout, rng: &dropoutRNG)) }
        let d = lowRankDelta(x)
        return active ? seededDropout(d, p: dropout, rng: &dropoutRNG) : d
    }

    public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        baseOutput + branch(input, training: layer.isTraining)
    }

    /// `scaling · B·A` as `[out, in]` (peft's `get_delta_weight`).
    public func deltaWeight() -> Tensor {
        let out = loraB.shape[0], inF = loraA.shape[1]
        var d = [Float](repeating: 0, count: out * inF)
        addProduct(&d, loraB.storage, loraA.storage, m: out, n: inF, k: rank, alpha: scaling)
        return Tensor(d, shape: [out, inF])
    }

    public func merge(into layer: Linear) {
        checkShapes(layer)
        addProduct(&layer.weight.storage, loraB.storage, loraA.storage, m: layer.outFeatures, n: layer.inFeatures, k: rank, alpha: scaling)
    }

    public func unmerge(from layer: Linear) {
        checkShapes(layer)
        addProduct(&layer.weight.storage, loraB.storage, loraA.storage, m: layer.outFeatures, n: layer.inFeatures, k: rank, alpha: -scaling)
    }

    func checkShapes(_ layer: Linear) {
        precondition(
            loraA.shape[1] == layer.inFeatures && loraB.shape[0] == layer.outFeatures,
            "LoRA: factors A \(loraA.shape), B \(loraB.shape) do not fit a Linear \(layer.weight.shape)")
    }
}

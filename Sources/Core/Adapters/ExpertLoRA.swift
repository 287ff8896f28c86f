/// N LoRA experts on one `Linear`, mixed per sample by weights supplied before each forward
/// (PETALface's two quality-weighted branches):
///
///     y = W·x + b + Σₑ w[b, e] · sₑ · Bₑ·Aₑ·x
///
/// `mixWeights` is `[B, N]` for an input `[B, …, in]` (each sample's weights broadcast over
/// its tokens/windows), or `[N]` for one mix shared by the whole batch. PETALface:
/// `mixWeights = [[1 − α₀, α₀], [1 − α₁, α₁], …]` with α from image quality.
///
/// Keys: `experts.<e>.lora_A.weight`, `experts.<e>.lora_B.weight`.
///
/// ```swift
/// let mix = try ExpertLoRA(inFeatures: 384, outFeatures: 1152, experts: 2, rank: 8, scaling: 1, seed: 3)
/// qkv.attach(mix); mix.mixWeights = Tensor([0.7, 0.3, 0.2, 0.8], shape: [2, 2])
/// ```
public final class ExpertLoRA: Module, ManagedLinearAdapter {
    public let experts: [LoRA]
    /// Per-sample `[B, N]` or shared `[N]` mixing weights; nil uses equal weights 1/N.
    public var mixWeights: Tensor?
    public var adapterName = "default"

    public init(experts: [LoRA]) {
        precondition(!experts.isEmpty, "ExpertLoRA: needs at least one expert")
        self.experts = experts
        super.init()
    }

    /// `count` fresh experts (seeded independently from `seed`).
    public convenience init(
        inFeatures: Int, outFeatures: Int, experts count: Int, rank: Int, scaling: Float, dropout: Float = 0,
        dropoutSite: LoRADropoutSite = .input, initialization: LoRAInit = .kaimingA, seed: UInt64, key: String = "ExpertLoRA"
    ) throws {
        guard count >= 1 else { throw AdapterError.invalidSetting("'\(key)': an expert LoRA needs at least one expert, got \(count)") }
        let root = SplitMix64(seed: seed)
        let experts = try (0..<count).map { e in
            try LoRA(
                inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, scaling: scaling, dropout: dropout,
                dropoutSite: dropoutSite, initialization: initialization, seed: root.fork(UInt64(e)).state, key: key)
        }
        self.init(experts: experts)
    }

    public func stateEntries() -> [(String, Tensor)] {
        experts.enumerated().flatMap { e, lora in lora.stateEntries().map { ("experts.\(e).\($0.0)", $0.1) } }
    }
    override public func namedLocalParameters() -> [(String, Tensor)] { taggedEntries() }
    /// Mixing weights change per call, so there is no single weight to fold in.
    public var isMergeable: Bool { false }

    public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        let n = experts.count
        let weights = mixWeights ?? Tensor.full([n], 1 / Float(n))
        var y = baseOutput
        for (e, lora) in experts.enumerated() {
            let branch = lora.branch(input, training: layer.isTraining)
            y = y + branch * ExpertLoRA.column(weights, e, n: n, like: branch)
        }
        return y
    }

    /// Expert `e`'s weight, shaped to broadcast over `like` (`[B, 1, …, 1]` or a scalar).
    static func column(_ w: Tensor, _ e: Int, n: Int, like: Tensor) -> Tensor {
        if w.rank == 1 {
            precondition(w.shape == [n], "ExpertLoRA: mixWeights \(w.shape) must be [\(n)] or [batch, \(n)]")
            return w.slice(axis: 0, e..<(e + 1))
        }
        precondition(w.rank == 2 && w.shape[1] == n && like.rank >= 2 && like.shape[0] == w.shape[0],
            "ExpertLoRA: mixWeights \(w.shape) must be [batch, \(n)] for input batch \(like.shape.first ?? 0)")
        return w.slice(axis: 1, e..<(e + 1)).reshaped([w.shape[0]] + [Int](repeating: 1, count: like.rank - 1))
    }

    public func merge(into layer: Linear) { preconditionFailure(AdapterError.notMergeable(method: "ExpertLoRA").description) }
    public func unmerge(from layer: Linear) {}
}

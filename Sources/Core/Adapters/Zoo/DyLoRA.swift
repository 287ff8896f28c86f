/// DyLoRA (Valipour et al., EACL 2023): one LoRA block trained so that every truncation to its
/// leading `b` ranks is a usable adapter, `b ∈ [r_min, r_max]`.
///
///     ΔW_b = s_b · B[:, :b] · A[:b, :],   A [R, in],  B [out, R],  R = r_max
///
/// Training (layer in training mode): each forward draws `b` uniformly from
/// `r_min…r_max` with the adapter's own seeded stream (one forward = one step in PEFTKit's
/// trainers; layers draw independently, which samples the same distribution per layer).
/// With `frozenLower` only row `b−1` of A and column `b−1` of B receive gradients (the paper's
/// "frozen" update); otherwise all of `A[:b]`, `B[:, :b]`. Evaluation and merging use
/// `evalRank` (default `R`), which can be changed after training without retraining.
///
/// [recon — only the abstract was reachable in this pass, so this is not verified] Scaling: the paper keeps LoRA's `α/r` convention with `r` the rank in use,
/// so `s_b = α / b` (the stored file carries α, not `s`). The default update mode in the paper's
/// experiments could not be confirmed from the abstract alone; PEFTKit defaults to updating
/// all leading ranks (the mode the paper presents first) and offers the frozen mode as an option.
///
/// Keys: `lora_A.weight [R, in]`, `lora_B.weight [out, R]` (LoRA's). Params: `R(in + out)`.
/// Init: A Kaiming-uniform, B zero → unchanged at init.
public final class DyLoRA: ZooAdapter {
    public let loraA: Tensor
    public let loraB: Tensor
    public let maxRank: Int
    public let minRank: Int
    public let alpha: Float
    public let frozenLower: Bool
    /// Rank used in evaluation mode and by `merge`.
    public var evalRank: Int
    /// The rank of the last training forward (for logging).
    public private(set) var lastSampledRank: Int
    var rng: SplitMix64

    public init(a: Tensor, b: Tensor, minRank: Int, alpha: Float, evalRank: Int? = nil, frozenLower: Bool = false, seed: UInt64 = 0) {
        precondition(a.rank == 2 && b.rank == 2 && b.shape[1] == a.shape[0], "DyLoRA: A \(a.shape) and B \(b.shape) do not chain")
        loraA = a
        loraB = b
        maxRank = a.shape[0]
        self.minRank = Swift.max(1, Swift.min(minRank, maxRank))
        self.alpha = alpha
        self.evalRank = evalRank ?? maxRank
        self.frozenLower = frozenLower
        lastSampledRank = self.evalRank
        rng = SplitMix64(seed: seed ^ 0x4479_4C6F)
        super.init()
        a.requiresGrad = true
        b.requiresGrad = true
    }

    public convenience init(inFeatures: Int, outFeatures: Int, maxRank: Int, minRank: Int, alpha: Float, evalRank: Int? = nil,
                            frozenLower: Bool = false, seed: UInt64, key: String = "DyLoRA") throws {
        guard maxRank > 0 else { throw AdapterError.invalidRank(key: key, rank: maxRank, limit: Swift.max(inFeatures, outFeatures)) }
        var g = SplitMix64(seed: seed)
        let a = Tensor.kaimingUniform([maxRank, inFeatures], using: &g)
        self.init(a: a, b: Tensor.zeros([outFeatures, maxRank]), minRank: minRank, alpha: alpha, evalRank: evalRank,
                  frozenLower: frozenLower, seed: g.next())
    }

    override public func trainableEntries() -> [(String, Tensor)] { [("lora_A.weight", loraA), ("lora_B.weight", loraB)] }

    /// `A[:b]` and `B[:, :b]`, with the lower ranks detached in frozen mode.
    func truncated(_ b: Int, training: Bool) -> (Tensor, Tensor) {
        var a = loraA.slice(axis: 0, 0..<b), bb = loraB.slice(axis: 1, 0..<b)
        if training && frozenLower && b > 1 {
            a = Tensor.concat([loraA.slice(axis: 0, 0..<(b - 1)).detached(), loraA.slice(axis: 0, (b - 1)..<b)], axis: 0)
            bb = Tensor.concat([loraB.slice(axis: 1, 0..<(b - 1)).detached(), loraB.slice(axis: 1, (b - 1)..<b)], axis: 1)
        }
        return (a, bb)
    }

    /// Draws the next training rank.
    func sampleRank() -> Int { minRank + Int(rng.next() % UInt64(maxRank - minRank + 1)) }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        let b = layer.isTraining ? sampleRank() : evalRank
        lastSampledRank = b
        let (a, bb) = truncated(b, training: layer.isTraining)
        return baseOutput + (input.linear(weight: a) * (alpha / Float(b))).linear(weight: bb)
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        let (a, bb) = truncated(evalRank, training: false)
        return bb.matmul(a) * (alpha / Float(evalRank))
    }
}

/// Kronecker adapter: DiffuseKronA (Marjit et al. 2024) in peft's `LoKr` form,
///
///     ΔW = s · W1 ⊗ W2,   W1 [out_l, in_m],  W2 [out_k, in_n],   s = alpha / r,
///
/// `ΔW[(p·out_k + q), (u·in_n + v)] = s·W1[p, u]·W2[q, v]`, with `out = out_l·out_k` and
/// `in = in_m·in_n` chosen by peft's `factorization(dim, decompose_factor)` (the divisor pair
/// closest to √dim, smaller first). As peft: `W2` is a low-rank product `W2a [out_k, r] ·
/// W2b [r, in_n]` when `r < max(out_k, in_n)/2`, else full; `W1` is full unless
/// `decompose_both` and `r < max(out_l, in_m)/2`. With both factors full this is exactly the
/// DiffuseKronA parametrisation. Keys: `lokr_w1` or `lokr_w1_a`/`lokr_w1_b`, `lokr_w2` or
/// `lokr_w2_a`/`lokr_w2_b` (fixtures `zoo/lokr`, `zoo/lokr_full`).
///
/// Init (peft's default): `W1` zeros (or `W1a` zeros, `W1b` Kaiming-uniform when decomposed), `W2`
/// (or both its factors) Kaiming-uniform → unchanged at init. `init_weights: "lycoris"` zeros
/// `W2` (or `W2b`) and draws `W1`.
/// Rank and module dropout are training-time regularisers of peft that PEFTKit does not apply;
/// they do not change inference.
///
/// Parameter count: `|W1| + |W2|` with `|full| = rows·cols`, `|low-rank| = r·(rows + cols)`.
public final class LoKr: ZooAdapter {
    /// One Kronecker factor: full, or a low-rank product `a·b`.
    public enum Factor {
        case full(Tensor)
        case lowRank(a: Tensor, b: Tensor)

        var tensors: [Tensor] {
            switch self {
            case let .full(t): return [t]
            case let .lowRank(a, b): return [a, b]
            }
        }

        /// The factor as a matrix (recorded for autograd).
        func matrix() -> Tensor {
            switch self {
            case let .full(t): return t
            case let .lowRank(a, b): return a.matmul(b)
            }
        }

        func entries(_ prefix: String) -> [(String, Tensor)] {
            switch self {
            case let .full(t): return [(prefix, t)]
            case let .lowRank(a, b): return [(prefix + "_a", a), (prefix + "_b", b)]
            }
        }
    }

    public let w1: Factor
    public let w2: Factor
    public let scaling: Float
    /// `(out_l, out_k)` and `(in_m, in_n)`.
    public let outSplit: (Int, Int)
    public let inSplit: (Int, Int)

    public init(w1: Factor, w2: Factor, scaling: Float, outSplit: (Int, Int), inSplit: (Int, Int)) {
        self.w1 = w1
        self.w2 = w2
        self.scaling = scaling
        self.outSplit = outSplit
        self.inSplit = inSplit
        super.init()
        for t in w1.tensors + w2.tensors { t.requiresGrad = true }
    }

    /// Fresh factors for a `[out, in]` layer under peft's rules.
    public convenience init(inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float, decomposeBoth: Bool = false,
                            decomposeFactor: Int = -1, lycorisInit: Bool = false, seed: UInt64, key: String = "LoKr") throws {
        guard rank > 0 else { throw AdapterError.invalidRank(key: key, rank: rank, limit: Swift.max(inFeatures, outFeatures)) }
        if decomposeFactor > 0 && (inFeatures % decomposeFactor != 0 || outFeatures % decomposeFactor != 0) {
            throw AdapterError.invalidSetting(
                "'\(key)': decompose_factor \(decomposeFactor) does not divide the layer's sizes (in \(inFeatures), out \(outFeatures)); choose a common divisor or -1")
        }
        let (inM, inN) = ZooMath.factorization(inFeatures, factor: decomposeFactor)
        let (outL, outK) = ZooMath.factorization(outFeatures, factor: decomposeFactor)
        var rng = SplitMix64(seed: seed)
        let useW1 = !(decomposeBoth && Float(rank) < Float(Swift.max(outL, inM)) / 2)
        let useW2 = !(Float(rank) < Float(Swift.max(outK, inN)) / 2)
        // peft (default init): w1 zeros (w1_a zeros when decomposed), w2 / w2_a / w2_b Kaiming-uniform.
        // lycoris: w1 (factors) Kaiming, w2 (or w2_b) zeros.
        func draw(_ shape: [Int]) -> Tensor { Tensor.kaimingUniform(shape, using: &rng) }
        let w1: Factor, w2: Factor
        if useW1 {
            w1 = .full(lycorisInit ? draw([outL, inM]) : Tensor.zeros([outL, inM]))
        } else {
            w1 = .lowRank(a: lycorisInit ? draw([outL, rank]) : Tensor.zeros([outL, rank]), b: draw([rank, inM]))
        }
        if useW2 {
            w2 = .full(lycorisInit ? Tensor.zeros([outK, inN]) : draw([outK, inN]))
        } else {
            w2 = .lowRank(a: draw([outK, rank]), b: lycorisInit ? Tensor.zeros([rank, inN]) : draw([rank, inN]))
        }
        self.init(w1: w1, w2: w2, scaling: alpha / Float(rank), outSplit: (outL, outK), inSplit: (inM, inN))
    }

    override public func trainableEntries() -> [(String, Tensor)] { w1.entries("lokr_w1") + w2.entries("lokr_w2") }

    /// `s · kron(W1, W2)` as `[out, in]`, by broadcasting `W1 [l,1,m,1] · W2 [1,k,1,n]`.
    override public func deltaWeight(layer: Linear) -> Tensor {
        let (l, k) = outSplit, (m, n) = inSplit
        let a = w1.matrix().reshaped([l, 1, m, 1])
        let b = (w2.matrix() * scaling).reshaped([1, k, 1, n])
        return (a * b).reshaped([l * k, m * n])
    }
}

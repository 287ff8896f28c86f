/// TLoRA — transform plus residual adaptation (Tao et al., arXiv 2501.08727): a dense,
/// full-rank transform of the frozen weight and a compact residual, both tensor-structured.
///
///     W = W0·(I + ΔT) + s·R
///     ΔT = Σ_t G_t ⊗ H_t          G_t [i1, i1], H_t [i2, i2],  in = i1·i2
///     R  = Σ_ρ U_ρ ⊗ V_ρ          U_ρ [o1, i1], V_ρ [o2, i2],  out = o1·o2
///
/// Each Kronecker sum is a two-core tensor-train matrix (TT ranks `t`, `ρ`), so `ΔT` can be full
/// rank with `t(i1² + i2²)` parameters. The factorisations are peft's `factorization` (divisor
/// pair closest to √dim). `s = α / ρ`.
///
/// [recon] Confirmed from the paper's abstract: a learnable full-rank dense transform applied
/// to the pre-trained weight plus a residual, both via tensor decompositions, with DoRA as a
/// special case. Not verified (the method section was not reachable in this pass): the side of
/// the transform (input side here, so `W0·T` mixes input features and a diagonal `T` gives
/// DoRA-like column scaling), and the exact decompositions (the paper uses tensor-train /
/// tensor-ring forms over finer factorisations; two-core Kronecker sums are the simplest
/// members of that family).
///
/// Init: `H_t = 0`, `V_ρ = 0` (G, U Kaiming-uniform) → unchanged at init.
/// Keys: `tlora_transform_G [t, i1, i1]`, `tlora_transform_H [t, i2, i2]`,
/// `tlora_residual_U [ρ, o1, i1]`, `tlora_residual_V [ρ, o2, i2]`.
/// Params: `t(i1² + i2²) + ρ(o1·i1 + o2·i2)`.
public final class TLoRA: ZooAdapter {
    public let g: Tensor, h: Tensor, u: Tensor, v: Tensor
    public let scaling: Float
    let inSplit: (Int, Int), outSplit: (Int, Int)

    public init(g: Tensor, h: Tensor, u: Tensor, v: Tensor, scaling: Float) {
        self.g = g
        self.h = h
        self.u = u
        self.v = v
        self.scaling = scaling
        inSplit = (g.shape[1], h.shape[1])
        outSplit = (u.shape[1], v.shape[1])
        super.init()
        for t in [g, h, u, v] { t.requiresGrad = true }
    }

    public convenience init(inFeatures: Int, outFeatures: Int, transformRank: Int, residualRank: Int, alpha: Float, seed: UInt64) {
        let (i1, i2) = ZooMath.factorization(inFeatures), (o1, o2) = ZooMath.factorization(outFeatures)
        var rng = SplitMix64(seed: seed)
        let g = Tensor.kaimingUniform([transformRank, i1, i1], using: &rng)
        let u = Tensor.kaimingUniform([residualRank, o1, i1], using: &rng)
        self.init(g: g, h: Tensor.zeros([transformRank, i2, i2]), u: u, v: Tensor.zeros([residualRank, o2, i2]), scaling: alpha / Float(residualRank))
    }

    override public func trainableEntries() -> [(String, Tensor)] {
        [("tlora_transform_G", g), ("tlora_transform_H", h), ("tlora_residual_U", u), ("tlora_residual_V", v)]
    }

    /// `Σ_k A_k ⊗ B_k` for `A [K, a1, a2]`, `B [K, b1, b2]` → `[a1·b1, a2·b2]`.
    static func kroneckerSum(_ a: Tensor, _ b: Tensor) -> Tensor {
        let k = a.shape[0], a1 = a.shape[1], a2 = a.shape[2], b1 = b.shape[1], b2 = b.shape[2]
        let prod = a.reshaped([k, a1, 1, a2, 1]) * b.reshaped([k, 1, b1, 1, b2])
        return prod.sum(axis: 0).reshaped([a1 * b1, a2 * b2])
    }

    /// `ΔT [in, in]`.
    func transformDelta() -> Tensor { TLoRA.kroneckerSum(g, h) }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        // x·(W0·ΔT)ᵀ = (x·ΔTᵀ)·W0ᵀ: one [in, in] and one frozen [out, in] product per row.
        let transformed = input.linear(weight: transformDelta()).linear(weight: layer.weight)
        let residual = input.linear(weight: TLoRA.kroneckerSum(u, v) * scaling)
        return baseOutput + transformed + residual
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        layer.weight.matmul(transformDelta()) + TLoRA.kroneckerSum(u, v) * scaling
    }
}

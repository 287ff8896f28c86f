/// Singular-value tuning (CLIP-SVD, Koleilat et al. 2025): a frozen `W = U·diag(s₀)·Vᵀ`
/// (full-rank SVD computed when attached) in which only the singular values `s` train.
///
/// The forward is written as the base output plus the change of spectrum,
///
///     y = W·x + b + U·((s − s₀) ⊙ (Vᵀ·x)),
///
/// which equals `U·(s ⊙ Vᵀ·x) + b` exactly in real arithmetic and, unlike recomposing
/// `U·diag(s)·Vᵀ`, returns the base output bit-for-bit at initialisation (the SVD's float
/// error never enters). The bias stays on the output side, as in the reference code.
/// Merging folds `U·diag(s − s₀)·Vᵀ` into W.
///
/// Speed: as the only adapter on its layer it runs as one GEMM with the adapted weight
/// `W' = W + U·diag(s − s₀)·Vᵀ` (`LinearWeightAdapter`), rebuilt only when `s` changed since the
/// last call (once per optimizer step in training, never during inference), so inference costs
/// what the plain model costs and a training step spends one `[out, k]·[k, in]` product on the
/// rebuild and one `[out, in]·[in, k]` product on the gradient of `s`
/// (`ds_j = Σ_a U[a, j]·(G·V)[a, j]` with `G = ∂L/∂W'`) instead of four token-sized products.
/// At initialisation `s = s₀` and `W'` is W itself, bit for bit. The cache assumes the base
/// weight does not change while the adapter is attached (the factors were computed from it);
/// merging and unmerging drop it, and a trainable base weight is never cached.
///
/// Key: `svd_s` `[k]` (the trained singular values). U, V and s₀ are recomputed from the base
/// weight on load, so files stay small; a singular vector pair may flip sign between SVD
/// runs, which leaves `U·diag(s)·Vᵀ` unchanged.
///
/// ```swift
/// let svt = try SingularValueTuning(layer: fc)   // k = min(in, out)
/// fc.attach(svt)
/// ```
public final class SingularValueTuning: Module, ManagedLinearAdapter, LinearWeightAdapter {
    /// Left singular vectors `[out, k]` (frozen).
    public let u: Tensor
    /// Right singular vectors, transposed, `[k, in]` (frozen).
    public let vt: Tensor
    /// Singular values of the base weight `[k]` (frozen reference).
    public let initialValues: Tensor
    /// Trainable singular values `[k]`, initialised to `initialValues`.
    public let values: Tensor
    public var adapterName = "default"
    /// The singular values `cachedWeight` was built for (empty: no cache).
    private var cachedValues: [Float] = []
    /// `W + U·diag(cachedValues − s₀)·Vᵀ` `[out, in]`.
    private var cachedWeight: [Float] = []

    /// Decomposes `layer.weight`. `rank` keeps the `rank` largest singular directions
    /// trainable (default: all, `min(in, out)`); the rest stay frozen inside W.
    public init(layer: Linear, rank: Int? = nil, key: String = "SingularValueTuning") throws {
        let out = layer.outFeatures, inF = layer.inFeatures
        let full = Swift.min(out, inF)
        let k = rank ?? full
        guard k > 0 && k <= full else { throw AdapterError.invalidRank(key: key, rank: k, limit: full) }
        let (u, s, vt) = try LAPACK.svd(layer.weight.storage, rows: out, cols: inF)
        // Keep the leading k columns of U and rows of Vᵀ.
        var uk = [Float](repeating: 0, count: out * k)
        for i in 0..<out { for j in 0..<k { uk[i * k + j] = u[i * full + j] } }
        self.u = Tensor(uk, shape: [out, k])
        self.vt = Tensor(Array(vt[0..<(k * inF)]), shape: [k, inF])
        initialValues = Tensor(Array(s[0..<k]), shape: [k])
        values = Tensor(Array(s[0..<k]), shape: [k], requiresGrad: true)
        super.init()
    }

    public func stateEntries() -> [(String, Tensor)] { [("svd_s", values)] }
    override public func namedLocalParameters() -> [(String, Tensor)] { taggedEntries() }
    public var isMergeable: Bool { true }

    public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        let change = values - initialValues  // [k]; gradient flows to `values`
        return baseOutput + (input.linear(weight: vt) * change).linear(weight: u)
    }

    /// `W + U·diag(s − s₀)·Vᵀ` as one tensor whose gradient flows to `values` (and to
    /// `layer.weight` if that trains); see the type's note on caching.
    public func adaptedWeight(layer: Linear) -> Tensor {
        let w = layer.weight
        let out = u.shape[0], k = u.shape[1], inF = vt.shape[1]
        precondition(w.shape == [out, inF], "SingularValueTuning: factors U \(u.shape), Vᵀ \(vt.shape) do not fit \(w.shape)")
        let weight: [Float]
        if !w.requiresGrad && !cachedWeight.isEmpty && cachedValues == values.storage {
            weight = cachedWeight
        } else {
            weight = rebuiltWeight(w.storage)
            if w.requiresGrad {
                cachedValues = []; cachedWeight = []
            } else {
                cachedValues = values.storage; cachedWeight = weight
            }
        }
        let (u, vt, values) = (self.u, self.vt, self.values)
        return Tensor(weight, shape: w.shape).recording("svd_weight", [values, w]) { g in
            if values.requiresGrad {
                // ds_j = Σ_a U[a, j] · (G·V)[a, j]: one [out, in]·[in, k] product, then a column dot.
                var gv = uninitializedFloats(out * k)
                var ds = [Float](repeating: 0, count: k)
                g.withUnsafeBufferPointer { gp in
                    vt.storage.withUnsafeBufferPointer { vp in
                        gv.withUnsafeMutableBufferPointer { tp in
                            BLAS.sgemm(transA: false, transB: true, m: out, n: k, k: inF, a: gp.baseAddress!, lda: inF,
                                       b: vp.baseAddress!, ldb: inF, beta: 0, c: tp.baseAddress!, ldc: k)
                        }
                    }
                }
                u.storage.withUnsafeBufferPointer { up in
                    gv.withUnsafeBufferPointer { tp in
                        for a in 0..<out { for j in 0..<k { ds[j] += up[a * k + j] * tp[a * k + j] } }
                    }
                }
                values.accumulateGrad(ds)
            }
            if w.requiresGrad { w.accumulateGrad(g) }
        }
    }

    /// `base + U·diag(s − s₀)·Vᵀ`; `base` itself (no copy) while `s = s₀`.
    private func rebuiltWeight(_ base: [Float]) -> [Float] {
        let out = u.shape[0], k = u.shape[1], inF = vt.shape[1]
        var change = [Float](repeating: 0, count: k)
        for j in 0..<k { change[j] = values.storage[j] - initialValues.storage[j] }
        if change.allSatisfy({ $0 == 0 }) { return base }
        var scaledU = u.storage
        for i in 0..<out { for j in 0..<k { scaledU[i * k + j] *= change[j] } }
        var w = base
        addProduct(&w, scaledU, vt.storage, m: out, n: inF, k: k, alpha: 1)
        return w
    }

    /// `U·diag(s − s₀)·Vᵀ` `[out, in]`.
    public func deltaWeight() -> Tensor {
        Tensor(deltaStorage(sign: 1), shape: [u.shape[0], vt.shape[1]])
    }

    private func deltaStorage(sign: Float) -> [Float] {
        let out = u.shape[0], k = u.shape[1], inF = vt.shape[1]
        var scaledU = u.storage
        for i in 0..<out { for j in 0..<k { scaledU[i * k + j] *= sign * (values.storage[j] - initialValues.storage[j]) } }
        var d = [Float](repeating: 0, count: out * inF)
        addProduct(&d, scaledU, vt.storage, m: out, n: inF, k: k, alpha: 1)
        return d
    }

    public func merge(into layer: Linear) { fold(into: layer, sign: 1) }
    public func unmerge(from layer: Linear) { fold(into: layer, sign: -1) }

    private func fold(into layer: Linear, sign: Float) {
        precondition(layer.weight.shape == [u.shape[0], vt.shape[1]], "SingularValueTuning: factors do not fit \(layer.weight.shape)")
        cachedValues = []; cachedWeight = []
        let d = deltaStorage(sign: sign)
        for i in 0..<d.count { layer.weight.storage[i] += d[i] }
    }
}

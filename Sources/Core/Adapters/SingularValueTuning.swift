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
/// Key: `svd_s` `[k]` (the trained singular values). U, V and s₀ are recomputed from the base
/// weight on load, so files stay small; a singular vector pair may flip sign between SVD
/// runs, which leaves `U·diag(s)·Vᵀ` unchanged.
///
/// ```swift
/// let svt = try SingularValueTuning(layer: fc)   // k = min(in, out)
/// fc.attach(svt)
/// ```
public final class SingularValueTuning: Module, ManagedLinearAdapter {
    /// Left singular vectors `[out, k]` (frozen).
    public let u: Tensor
    /// Right singular vectors, transposed, `[k, in]` (frozen).
    public let vt: Tensor
    /// Singular values of the base weight `[k]` (frozen reference).
    public let initialValues: Tensor
    /// Trainable singular values `[k]`, initialised to `initialValues`.
    public let values: Tensor
    public var adapterName = "default"

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
        let d = deltaStorage(sign: sign)
        for i in 0..<d.count { layer.weight.storage[i] += d[i] }
    }
}

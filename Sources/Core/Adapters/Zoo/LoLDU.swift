import Foundation

/// LoLDU (Shi et al., arXiv 2410.13618; code `SKDDJ/LoLDU`): only the diagonal of a frozen LDU
/// factorisation of the base weight trains.
///
/// `W0 = P·L·D·U` by LU with partial (row) pivoting (`L [out, k]` unit lower, `U [k, in]` unit
/// upper after dividing each row by its pivot `D`, `k = min(out, in)`). The leading `r`
/// components stay frozen as `Lr`, `Ur` and their diagonal `z [r]` trains:
///
///     W = W0 + σ · P·Lr·diag(z − z0)·Ur,   z0 = D[:r],   σ = α / r
///
/// which equals the code's `Wres + σ·P·Lr·diag(z)·Ur` with `Wres = W0 − σ·P·Lr·diag(z0)·Ur`, written
/// so that the base output is returned bit-for-bit at init (`z = z0`, the "lu" init). As in
/// the released code σ is a constant (it is registered but not optimised there). The
/// permutation is folded into `Lr`'s rows. A zero pivot leaves its row of U unscaled with
/// `z0 = 1`, which keeps `Lr·diag(z0)·Ur` equal to the LU product.
///
/// Key: `loldu_z [r]`. Frozen factors are recomputed from the base weight on load (LU with
/// partial pivoting is deterministic). Params: `r`.
public final class LoLDU: ZooAdapter {
    public let z: Tensor
    public let z0: Tensor
    /// `P·Lr` `[out, r]` (frozen).
    public let lower: Tensor
    /// `Ur` `[r, in]` (frozen, unit diagonal).
    public let upper: Tensor
    public let sigma: Float

    public init(layer: Linear, rank: Int, alpha: Float, key: String = "LoLDU") throws {
        let out = layer.outFeatures, inF = layer.inFeatures, k = Swift.min(out, inF)
        guard rank > 0 && rank <= k else { throw AdapterError.invalidRank(key: key, rank: rank, limit: k) }
        let (l, u, perm) = LoLDU.luDecompose(layer.weight.storage, rows: out, cols: inF)
        var lp = [Float](repeating: 0, count: out * rank), ur = [Float](repeating: 0, count: rank * inF), d0 = [Float](repeating: 1, count: rank)
        for p in 0..<out { for c in 0..<rank { lp[perm[p] * rank + c] = Float(l[p * k + c]) } }
        for c in 0..<rank {
            let pivot = u[c * inF + c]
            let scale = pivot == 0 ? 1 : pivot
            d0[c] = Float(scale)
            for j in 0..<inF { ur[c * inF + j] = Float(u[c * inF + j] / scale) }
        }
        lower = Tensor(lp, shape: [out, rank])
        upper = Tensor(ur, shape: [rank, inF])
        z0 = Tensor(d0, shape: [rank])
        z = Tensor(d0, shape: [rank], requiresGrad: true)
        sigma = alpha / Float(rank)
        super.init()
    }

    /// Doolittle LU with partial pivoting in Double: returns `L [rows, k]` (unit lower),
    /// `U [k, cols]` and `perm` with `A[perm[p], :] = (L·U)[p, :]`.
    static func luDecompose(_ a: [Float], rows: Int, cols: Int) -> (l: [Double], u: [Double], perm: [Int]) {
        let k = Swift.min(rows, cols)
        var m = a.map(Double.init)
        var perm = Array(0..<rows)
        for c in 0..<k {
            var best = c
            for p in c..<rows where Swift.abs(m[p * cols + c]) > Swift.abs(m[best * cols + c]) { best = p }
            if best != c {
                for j in 0..<cols { m.swapAt(c * cols + j, best * cols + j) }
                perm.swapAt(c, best)
            }
            let pivot = m[c * cols + c]
            guard pivot != 0 else { continue }
            for p in (c + 1)..<rows {
                let f = m[p * cols + c] / pivot
                m[p * cols + c] = f
                if f != 0 { for j in (c + 1)..<cols { m[p * cols + j] -= f * m[c * cols + j] } }
            }
        }
        var l = [Double](repeating: 0, count: rows * k), u = [Double](repeating: 0, count: k * cols)
        for p in 0..<rows {
            for c in 0..<k {
                if p == c { l[p * k + c] = 1 } else if p > c { l[p * k + c] = m[p * cols + c] }
            }
        }
        for c in 0..<k { for j in c..<cols { u[c * cols + j] = m[c * cols + j] } }
        return (l, u, perm)
    }

    override public func trainableEntries() -> [(String, Tensor)] { [("loldu_z", z)] }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        baseOutput + (input.linear(weight: upper) * ((z - z0) * sigma)).linear(weight: lower)
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        (lower * ((z - z0) * sigma).reshaped([1, z.count])).matmul(upper)
    }
}

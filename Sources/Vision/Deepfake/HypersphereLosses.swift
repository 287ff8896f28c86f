import Core
import Foundation

/// The metric losses GenD adds on its hypersphere embedding (Wang & Isola, ICML 2020, and a
/// label-aware alignment), composed from differentiable Core ops so autograd gives their
/// gradients. `z` is `[B, D]`; GenD passes the L2-normalised features.
public enum HypersphereLosses {
    /// Squared Euclidean distances `[B, B]`: ‖zᵢ‖² + ‖zⱼ‖² − 2 zᵢ·zⱼ, clamped at 0 (rounding can
    /// make it slightly negative for near-equal rows).
    public static func pairwiseSquaredDistances(_ z: Tensor) -> Tensor {
        precondition(z.rank == 2, "pairwiseSquaredDistances: z must be [B, D], got \(z.shape)")
        let n = z.shape[0]
        let sq = (z * z).sum(axis: 1, keepDims: true)                  // [B, 1]
        let gram = z.matmul(z.transposed())                            // [B, B]
        return (sq + sq.reshaped([1, n]) - gram * 2).clamp(min: 0)
    }

    /// Constant `[B, B]` mask with 1 at the pairs i < j that `include(i, j)` keeps.
    static func pairMask(_ n: Int, _ include: (Int, Int) -> Bool) -> (mask: Tensor, count: Int) {
        var m = [Float](repeating: 0, count: n * n)
        var count = 0
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) where include(i, j) {
                m[i * n + j] = 1
                count += 1
            }
        }
        return (Tensor(m, shape: [n, n]), count)
    }

    /// Uniformity: log( mean over pairs i < j of exp(−t·‖zᵢ − zⱼ‖²) ), the inner mean clamped to
    /// ≥ 1e-6 before the log (GenD's `unifalign.py`; `pdist` over all pairs, labels ignored).
    /// Needs at least two rows.
    public static func uniformity(_ z: Tensor, t: Float = 2) -> Tensor {
        let n = z.shape[0]
        precondition(n >= 2, "uniformity needs at least two embeddings")
        let (mask, count) = pairMask(n) { _, _ in true }
        let kernel = (pairwiseSquaredDistances(z) * (-t)).exp()
        return ((kernel * mask).sum() / Float(count)).clamp(min: 1e-6).log()
    }

    /// Label-aware alignment: mean over same-label pairs i < j of ‖zᵢ − zⱼ‖^α (α = 2 uses the
    /// squared distance directly). Zero, with no gradient, when the batch has no such pair.
    public static func alignment(_ z: Tensor, labels: [Int], alpha: Float = 2) -> Tensor {
        let n = z.shape[0]
        precondition(labels.count == n, "alignment: \(labels.count) labels for \(n) embeddings")
        let (mask, count) = pairMask(n) { labels[$0] == labels[$1] }
        guard count > 0 else { return Tensor(scalar: 0) }
        let d2 = pairwiseSquaredDistances(z)
        // ‖·‖^α = (‖·‖²)^(α/2); the tiny shift keeps the derivative finite at coincident points for α < 2.
        let powered = alpha == 2 ? d2 : (d2 + 1e-12).pow(alpha / 2)
        return (powered * mask).sum() / Float(count)
    }

    /// x / ‖x‖₂ per row (with 1e-12 under the root against an all-zero row).
    public static func normalized(_ x: Tensor) -> Tensor {
        x / ((x * x).sum(axis: -1, keepDims: true) + 1e-12).sqrt()
    }
}

/// GenD's objective: `L = CE(logits, y) + λu·L_unif(z) + λa·L_align(z, y)` (λu = 0.5, λa = 0.1,
/// t = 2, α = 2 in the "LN+L2+UnAl" configurations).
public struct GenDLoss: Sendable, Codable, Equatable {
    public var uniformityWeight: Float = 0.5
    public var alignmentWeight: Float = 0.1
    public var temperature: Float = 2
    public var alpha: Float = 2

    public init(uniformityWeight: Float = 0.5, alignmentWeight: Float = 0.1, temperature: Float = 2, alpha: Float = 2) {
        self.uniformityWeight = uniformityWeight
        self.alignmentWeight = alignmentWeight
        self.temperature = temperature
        self.alpha = alpha
    }

    /// The three terms and their weighted sum (`total` carries the graph).
    public struct Terms {
        public var total: Tensor
        public var crossEntropy: Float
        public var uniformity: Float
        public var alignment: Float
    }

    public func callAsFunction(logits: Tensor, embeddings z: Tensor, labels: [Int]) -> Terms {
        let ce = logits.crossEntropy(targets: labels)
        var total = ce
        var u: Float = 0, a: Float = 0
        if uniformityWeight != 0 && z.shape[0] >= 2 {
            let lu = HypersphereLosses.uniformity(z, t: temperature)
            u = lu.item
            total = total + lu * uniformityWeight
        }
        if alignmentWeight != 0 {
            let la = HypersphereLosses.alignment(z, labels: labels, alpha: alpha)
            a = la.item
            total = total + la * alignmentWeight   // a constant 0 when no pair exists
        }
        return Terms(total: total, crossEntropy: ce.item, uniformity: u, alignment: a)
    }
}

import Core
import Foundation

/// Additive-margin softmax losses of face recognition on a classifier over training identities
/// (insightface's `CombinedMarginLoss`): logits are s·cos θ_j between the L2-normalised
/// embedding and the L2-normalised class weights, with a margin on the true class, then
/// cross-entropy.
public enum MarginLoss: Sendable, Equatable {
    /// CosFace: cos θ_y − m (insightface (1, 0, 0.4)).
    case cosFace(scale: Float = 64, margin: Float = 0.4)
    /// ArcFace: cos(θ_y + m) (insightface (1, 0.5, 0)). `straightThrough` reproduces insightface,
    /// which applies the margin under no_grad so the gradient is that of plain cos θ_y.
    case arcFace(scale: Float = 64, margin: Float = 0.5, straightThrough: Bool = false)

    /// `s · margin-adjusted cosines` `[B, K]` for embeddings `[B, D]`, class weights `[K, D]`.
    public func logits(embeddings e: Tensor, classWeights w: Tensor, targets: [Int]) -> Tensor {
        precondition(e.rank == 2 && w.rank == 2 && e.shape[1] == w.shape[1] && targets.count == e.shape[0],
                     "MarginLoss: embeddings \(e.shape), class weights \(w.shape), \(targets.count) targets do not fit")
        let k = w.shape[0]
        precondition(targets.allSatisfy { $0 >= 0 && $0 < k }, "MarginLoss: target outside 0..<\(k)")
        func normalized(_ t: Tensor) -> Tensor { t / (t.square().sum(axes: [1], keepDims: true) + 1e-12).sqrt() }
        let cos = normalized(e).linear(weight: normalized(w))   // [B, K]
        var onehot = [Float](repeating: 0, count: cos.count)
        for (i, t) in targets.enumerated() { onehot[i * k + t] = 1 }
        let mask = Tensor(onehot, shape: cos.shape)
        switch self {
        case let .cosFace(s, m):
            return (cos - mask * m) * s
        case let .arcFace(s, m, straightThrough):
            if straightThrough {
                // Target logit moved to cos(θ+m) by a constant: gradient as for cos θ.
                let shift = withoutGrad {
                    Tensor(cos.storage.enumerated().map { i, c in
                        guard onehot[i] == 1 else { return 0 }
                        let cc = min(max(c, -1), 1)
                        return Float(Foundation.cos(Foundation.acos(Double(cc)) + Double(m))) - c
                    }, shape: cos.shape)
                }
                return (cos + shift) * s
            }
            // cos(θ+m) = cos θ·cos m − sin θ·sin m, with sin θ = √(1 − cos²θ) kept off 0.
            let sin = (1 - cos.square()).clamp(min: 1e-7).sqrt()
            let target = cos * Float(Foundation.cos(Double(m))) - sin * Float(Foundation.sin(Double(m)))
            return (cos * (1 - mask) + target * mask) * s
        }
    }

    /// Mean cross-entropy of `logits(...)` against `targets`.
    public func loss(embeddings e: Tensor, classWeights w: Tensor, targets: [Int]) -> Tensor {
        logits(embeddings: e, classWeights: w, targets: targets).crossEntropy(targets: targets)
    }
}

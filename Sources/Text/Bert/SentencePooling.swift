import Core
import Foundation

/// Sentence-level pooling of token states, as sentence-transformers does it. Composed from
/// differentiable ops, so gradients flow (contrastive fine-tuning of embeddings).
extension Tensor {
    /// `[B, T, C]` → `[B, C]`: the mean of each row's tokens whose `mask` entry (`[B·T]`, 1/0) is
    /// 1. A row with no attended token gives zeros (the count is clamped to 1e-9, as
    /// sentence-transformers clamps it).
    public func maskedMeanPooled(mask: [Int]) -> Tensor {
        precondition(rank == 3 && mask.count == shape[0] * shape[1],
                     "maskedMeanPooled: hidden \(shape) needs a [\(shape[0]), \(rank > 1 ? shape[1] : 0)] mask, got \(mask.count) entries")
        let (b, t) = (shape[0], shape[1])
        let m = Tensor(mask.map(Float.init), shape: [b, t, 1])
        var counts = [Float](repeating: 0, count: b)
        for i in 0..<b { for j in 0..<t { counts[i] += Float(mask[i * t + j]) } }
        let denominators = Tensor(counts.map { Swift.max($0, 1e-9) }, shape: [b, 1])
        return (self * m).sum(axis: 1) / denominators
    }

    /// Each row of the last axis divided by its Euclidean norm (at least `eps`), as PyTorch's
    /// `F.normalize(x, dim=-1)`.
    public func l2Normalized(eps: Float = 1e-12) -> Tensor {
        let norms = square().sum(axis: rank - 1, keepDims: true).sqrt()
        // clamp's gradient is zero below eps, as max(norm, eps) in PyTorch.
        return self / norms.clamp(min: eps)
    }
}

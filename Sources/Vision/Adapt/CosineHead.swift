import Core
import Foundation

/// A cosine classifier for vision-only backbones: `logits = τ · ⟨n(f − μ), n(w_c)⟩` with `n`
/// the L2 normalisation, `μ` a frozen centre (the support features' mean, SimpleShot's CL2N;
/// zero when centring is off) and one trainable row `w_c` per class.
///
/// Initialised from the normalised class means of the (centred, normalised) support features,
/// so before any training it is the nearest-class-mean classifier — the vision-only analogue
/// of CLIP-SVD's text prototypes, which also start as a working zero-shot classifier.
public final class CosineHead: Module {
    /// `[C, D]`, trainable.
    public let weight: Tensor
    /// `[D]`, frozen.
    public let center: Tensor
    public let scale: Float

    public init(weight: Tensor, center: Tensor, scale: Float) {
        precondition(weight.rank == 2 && center.shape == [weight.shape[1]], "CosineHead: weight [C, D] and center [D] must agree")
        self.weight = weight
        self.center = center
        self.scale = scale
        weight.requiresGrad = true
        center.requiresGrad = false
        super.init()
    }

    /// The class-mean head of `features [N, D]` with `labels` in `0..<classes`. Throws naming
    /// a class without any feature (its mean would be undefined).
    public static func classMeans(features: Tensor, labels: [Int], classes: [String], centered: Bool, scale: Float) throws -> CosineHead {
        let n = features.shape[0], d = features.shape[1]
        precondition(labels.count == n, "one label per feature row")
        var center = [Float](repeating: 0, count: d)
        if centered {
            for i in 0..<n { for j in 0..<d { center[j] += features.storage[i * d + j] } }
            for j in 0..<d { center[j] /= Float(max(n, 1)) }
        }
        var sums = [Float](repeating: 0, count: classes.count * d)
        var counts = [Int](repeating: 0, count: classes.count)
        for i in 0..<n {
            let c = labels[i]
            counts[c] += 1
            // Each sample enters as n(f − μ), so one unusually large feature does not dominate.
            var norm: Float = 0
            for j in 0..<d { let v = features.storage[i * d + j] - center[j]; norm += v * v }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            for j in 0..<d { sums[c * d + j] += (features.storage[i * d + j] - center[j]) * inv }
        }
        if let empty = counts.firstIndex(of: 0) {
            throw DatasetError("class '\(classes[empty])' has no training image that could be decoded; add images or remove the class folder")
        }
        for c in 0..<classes.count {
            var norm: Float = 0
            for j in 0..<d { norm += sums[c * d + j] * sums[c * d + j] }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            for j in 0..<d { sums[c * d + j] *= inv }
        }
        return CosineHead(weight: Tensor(sums, shape: [classes.count, d]), center: Tensor(center, shape: [d]), scale: scale)
    }

    override public func namedLocalParameters() -> [(String, Tensor)] { [("weight", weight), ("center", center)] }

    /// `features [B, D]` → logits `[B, C]`.
    public func callAsFunction(_ features: Tensor) -> Tensor {
        l2Normalized(features - center).matmul(l2Normalized(weight).transposed()) * scale
    }
}

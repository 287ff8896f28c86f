/// Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_` with the 2-norm:
/// the norm of all gradients taken together is computed; when it exceeds `maxNorm`, every
/// gradient is multiplied by `maxNorm / (norm + 1e-6)`. Returns the norm before clipping
/// (log it: a rising norm is the first sign of divergence).
///
/// A non-finite norm is returned as is and leaves the gradients untouched, so the caller can
/// skip that step. Parameters without a gradient are ignored. The sum of squares is accumulated in Double so
/// large models do not lose small contributions.
///
/// ```swift
/// let norm = clipGradNorm(model.trainableParameters(), maxNorm: 1.0)
/// ```
@discardableResult
public func clipGradNorm(_ parameters: [(String, Tensor)], maxNorm: Float) -> Float {
    clipGradNorm(parameters.map(\.1), maxNorm: maxNorm)
}

/// Clipping over bare tensors; see `clipGradNorm(_:maxNorm:)`.
@discardableResult
public func clipGradNorm(_ tensors: [Tensor], maxNorm: Float) -> Float {
    var sumSquares = 0.0
    for t in tensors {
        guard let g = t.gradStorage else { continue }
        for v in g { sumSquares += Double(v) * Double(v) }
    }
    let norm = Float(sumSquares.squareRoot())
    // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1.
    let coef = maxNorm / (norm + 1e-6)
    guard coef < 1 else { return norm }
    for t in tensors where t.gradStorage != nil {
        t.gradStorage = t.gradStorage!.map { $0 * coef }
    }
    return norm
}

import Foundation

/// Composed (unfused) versions of the hot ops, built only from verified primitives.
/// They are the reference the fused kernels in `Kernels/` are tested against, and the
/// fallback for shapes a kernel does not handle.
extension Tensor {
    /// Gauss error function, elementwise.
    public func erf() -> Tensor {
        unaryOp("erf", { Foundation.erf($0) }, derivative: { x, _ in
            2 / Float.pi.squareRoot() * Foundation.exp(-x * x)
        })
    }

    /// Softmax over the last axis, composed: exp(x − max) / Σ exp(x − max).
    public func softmaxComposed() -> Tensor {
        let shifted = self - max(axis: -1, keepDims: true).detached()
        let e = shifted.exp()
        return e / e.sum(axis: -1, keepDims: true)
    }

    /// LayerNorm over the last axis, composed: (x − μ) / √(σ² + eps) · γ + β (biased σ², as PyTorch).
    public func layerNormComposed(weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        let mu = mean(axis: -1, keepDims: true)
        let centered = self - mu
        let variance = centered.square().mean(axis: -1, keepDims: true)
        var y = centered / (variance + eps).sqrt()
        if let w = weight { y = y * w }
        if let b = bias { y = y + b }
        return y
    }

    /// Exact GELU, composed: x · ½ · (1 + erf(x / √2)).
    public func geluComposed() -> Tensor {
        self * ((self * Float(1 / 2.0.squareRoot())).erf() + 1) * 0.5
    }

    /// Tanh-approximated GELU, composed: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    public func geluTanhComposed() -> Tensor {
        let c = Float((2 / Double.pi).squareRoot())
        let inner = (self + self.pow(3) * 0.044715) * c
        return self * (inner.tanh() + 1) * 0.5
    }

    /// Scaled dot-product attention, composed. `q [..., Tq, D]`, `k [..., Tk, D]`, `v [..., Tk, Dv]`;
    /// `mask` is additive (0 keep, large negative drop) and broadcasts to `[..., Tq, Tk]`.
    public static func attentionComposed(
        q: Tensor, k: Tensor, v: Tensor, mask: Tensor? = nil, scale: Float? = nil
    ) -> Tensor {
        let s = scale ?? 1 / Float(q.shape.last!).squareRoot()
        var scores = q.matmul(k.transposed(-2, -1)) * s
        if let m = mask { scores = scores + m }
        return scores.softmaxComposed().matmul(v)
    }

    /// Mean softmax cross-entropy over rows of `logits [N, C]`, composed. Rows whose target
    /// equals `ignoreIndex` contribute nothing and are not counted in the mean.
    public func crossEntropyComposed(targets: [Int], ignoreIndex: Int = -100) -> Tensor {
        precondition(rank == 2 && targets.count == shape[0], "crossEntropy: logits \(shape) vs \(targets.count) targets")
        let c = shape[1]
        let logp = self - (self - max(axis: -1, keepDims: true).detached()).exp().sum(axis: -1, keepDims: true).log()
            - max(axis: -1, keepDims: true).detached()
        var pick = [Float](repeating: 0, count: count)
        var kept = 0
        for (r, t) in targets.enumerated() where t != ignoreIndex {
            precondition(t >= 0 && t < c, "crossEntropy: target \(t) out of range 0..<\(c) at row \(r)")
            pick[r * c + t] = 1
            kept += 1
        }
        return -(logp * Tensor(pick, shape: shape)).sum() / Float(Swift.max(kept, 1))
    }
}

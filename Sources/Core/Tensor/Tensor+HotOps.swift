/// Public entry points of the hot ops. Each runs its fused kernel in `Kernels/` (one autograd
/// node with a hand-written backward); the composed references in `Tensor+Composite.swift`
/// stay as the test oracle.
extension Tensor {
    /// Softmax over the last axis. Rows that are entirely −∞ give zeros (not NaN).
    public func softmax() -> Tensor { softmaxFused() }

    /// LayerNorm over the last axis with optional affine `weight`/`bias` of shape `[C]`.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        layerNormFused(weight: weight, bias: bias, eps: eps)
    }

    /// Exact (erf) GELU, as `torch.nn.functional.gelu` and BERT's "gelu".
    public func gelu() -> Tensor { geluVectorized() }

    /// Tanh-approximated GELU ("gelu_new", `approximate="tanh"`).
    public func geluTanh() -> Tensor { geluTanhFused() }

    /// Scaled dot-product attention: `q [..., Tq, D]`, `k [..., Tk, D]`, `v [..., Tk, Dv]`, an
    /// optional additive `mask` broadcastable to `[..., Tq, Tk]` (0 keep, −1e9 or −∞ drop; e.g.
    /// `[B, 1, 1, Tk]` for key padding), `scale` defaulting to 1/√D.
    public static func scaledDotProductAttention(
        q: Tensor, k: Tensor, v: Tensor, mask: Tensor? = nil, scale: Float? = nil
    ) -> Tensor {
        attentionFused(q: q, k: k, v: v, mask: mask, scale: scale)
    }

    /// Mean softmax cross-entropy of `logits [N, C]` against class indices, skipping rows whose
    /// target is `ignoreIndex` (as `torch.nn.functional.cross_entropy`, reduction "mean").
    /// `labelSmoothing` ε mixes the one-hot target with the uniform distribution, as torch's.
    public func crossEntropy(targets: [Int], ignoreIndex: Int = -100, labelSmoothing: Float = 0) -> Tensor {
        crossEntropyFused(targets: targets, ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing)
    }
}

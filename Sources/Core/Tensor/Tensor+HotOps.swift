/// Public entry points of the hot ops. Each forwards to its fused kernel in `Kernels/`
/// (or, until one exists, to the composed reference in `Tensor+Composite.swift`).
extension Tensor {
    /// Softmax over the last axis.
    public func softmax() -> Tensor { softmaxComposed() }

    /// LayerNorm over the last axis with optional affine `weight`/`bias` of shape `[C]`.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        layerNormComposed(weight: weight, bias: bias, eps: eps)
    }

    /// Exact (erf) GELU, as `torch.nn.functional.gelu` and BERT's "gelu".
    public func gelu() -> Tensor { geluComposed() }

    /// Tanh-approximated GELU ("gelu_new", `approximate="tanh"`).
    public func geluTanh() -> Tensor { geluTanhComposed() }

    /// Scaled dot-product attention over `[..., T, D]` with an optional additive mask.
    public static func scaledDotProductAttention(
        q: Tensor, k: Tensor, v: Tensor, mask: Tensor? = nil, scale: Float? = nil
    ) -> Tensor {
        attentionComposed(q: q, k: k, v: v, mask: mask, scale: scale)
    }

    /// Mean softmax cross-entropy of `logits [N, C]` against class indices, skipping `ignoreIndex`.
    public func crossEntropy(targets: [Int], ignoreIndex: Int = -100) -> Tensor {
        crossEntropyComposed(targets: targets, ignoreIndex: ignoreIndex)
    }
}

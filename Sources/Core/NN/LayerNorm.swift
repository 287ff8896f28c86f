/// Layer normalisation over the last axis with learned scale `weight [dim]` and shift
/// `bias [dim]` (PyTorch's `nn.LayerNorm`, biased variance). The eps comes from the model
/// config: BERT/ViT use 1e-12, DINOv2 1e-6, CLIP/Whisper 1e-5.
///
/// ```swift
/// let ln = try LayerNorm(dim: 32, eps: 1e-12, at: layer.pp("output.LayerNorm"))
/// let y = ln(x)
/// ```
public final class LayerNorm: Module {
    public let weight: Tensor?
    public let bias: Tensor?
    public let eps: Float

    /// A layer over existing tensors (either may be nil for a non-affine norm).
    public init(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) {
        if let w = weight, let b = bias { precondition(w.shape == b.shape, "LayerNorm: weight \(w.shape) vs bias \(b.shape)") }
        self.weight = weight
        self.bias = bias
        self.eps = eps
        super.init()
    }

    /// Builds `path.weight` (ones when fresh) and, if `bias`, `path.bias` (zeros when fresh).
    public convenience init(dim: Int, eps: Float = 1e-5, bias: Bool = true, at path: ParamPath) throws {
        let w = try path.get([dim], "weight", initializer: .ones)
        let b = bias ? try path.get([dim], "bias", initializer: .zeros) : nil
        self.init(weight: w, bias: b, eps: eps)
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        if let w = weight { out.append(("weight", w)) }
        if let b = bias { out.append(("bias", b)) }
        return out
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.layerNorm(weight: weight, bias: bias, eps: eps)
    }
}

/// Parametric ReLU (He et al. 2015): `y = x` where `x > 0`, else `a_c · x`, with one learned
/// slope per channel (axis 1) or one shared slope. This is ONNX `PRelu` with a `[C, 1, 1]` slope
/// and `torch.nn.PReLU(num_parameters: C)`; face networks such as MobileFaceNet/SFace use it
/// after every convolution.
extension Tensor {
    /// `x` of rank ≥ 2 with channels on axis 1 (or any rank with a single slope); `slope` has
    /// `shape[1]` values (any shape holding that many, e.g. `[C]` or `[C, 1, 1]`) or one value.
    public func prelu(slope: Tensor) -> Tensor {
        let channels = slope.count
        precondition(channels == 1 || (rank >= 2 && shape[1] == channels),
                     "prelu: slope has \(channels) values, input \(shape) needs 1 or shape[1]")
        // One fused pass (ConvNormActivation.swift); a vector with one shared slope is viewed as [1, n].
        if rank < 2 { return reshaped([1, count]).channelAffine(scale: nil, shift: nil, slope: slope).reshaped(shape) }
        return channelAffine(scale: nil, shift: nil, slope: slope)
    }
}

/// `nn.PReLU(num_parameters: channels)`: one slope per channel, PyTorch init 0.25. The
/// checkpoint key is `weight` (shape `[channels]`).
public final class PReLU: Module {
    public let weight: Tensor

    public init(weight: Tensor) {
        self.weight = weight
        super.init()
    }

    /// Loads `path.weight` or initialises every slope to 0.25 (PyTorch's default).
    public convenience init(channels: Int, at path: ParamPath) throws {
        let w = try path.get([channels], "weight", initializer: .ones)
        // A freshly initialised slope (trainable) starts at PyTorch's 0.25; a loaded one is kept.
        if w.requiresGrad { for i in 0..<channels { w.storage[i] = 0.25 } }
        self.init(weight: w)
    }

    override public func namedLocalParameters() -> [(String, Tensor)] { [("weight", weight)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.prelu(slope: weight) }

    /// The layer on channels-last maps `[…, C]`.
    public func channelsLast(_ x: Tensor) -> Tensor { x.channelAffine(scale: nil, shift: nil, slope: weight, channelsLast: true) }
}

/// Convolution layers over `Tensor.conv1d` / `conv2d`, with PyTorch's parameter names and layout.

/// `nn.Conv1d`: weight `[out, in/groups, kernel]`, optional bias `[out]`.
public final class Conv1d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, dilation: Int, groups: Int

    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
    }

    /// Builds the layer from `path.weight` / `path.bias` (random init as PyTorch when absent).
    public convenience init(
        inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true, at path: ParamPath
    ) throws {
        let fanIn = inChannels / groups * kernelSize
        let bound = 1 / Float(Swift.max(fanIn, 1)).squareRoot()
        let w = try path.get([outChannels, inChannels / groups, kernelSize], "weight", initializer: .kaimingUniform)
        let b = bias ? try path.get([outChannels], "bias", initializer: .uniform(bound: bound)) : nil
        self.init(weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// `x [B, C, L]` → `[B, out, L']`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv1d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// `nn.Conv2d`: weight `[out, in/groups, kH, kW]`, optional bias `[out]`.
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: (Int, Int), padding: (Int, Int), groups: Int

    public init(weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), groups: Int = 1) {
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.groups = groups
        super.init()
    }

    /// Builds the layer from `path.weight` / `path.bias` (random init as PyTorch when absent).
    public convenience init(
        inChannels: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), groups: Int = 1, bias: Bool = true, at path: ParamPath
    ) throws {
        let fanIn = inChannels / groups * kernel.0 * kernel.1
        let bound = 1 / Float(Swift.max(fanIn, 1)).squareRoot()
        let w = try path.get([outChannels, inChannels / groups, kernel.0, kernel.1], "weight", initializer: .kaimingUniform)
        let b = bias ? try path.get([outChannels], "bias", initializer: .uniform(bound: bound)) : nil
        self.init(weight: w, bias: b, stride: stride, padding: padding, groups: groups)
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// `x [B, C, H, W]` → `[B, out, H', W']`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, groups: groups)
    }
}

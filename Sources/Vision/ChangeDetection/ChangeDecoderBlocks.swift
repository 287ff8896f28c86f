import Core

/// A 2-D convolution with PyTorch's parameter layout (`weight [O, I/g, k, k]`, `bias [O]`),
/// "same" padding for odd kernels, any dilation and groups, optionally followed by BatchNorm
/// and GELU (the decoder's Conv-BN-GELU unit). Core's `Conv2d` has no dilation, which ASPP needs.
public final class ConvUnit: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let norm: BatchNorm2d?
    public let activate: Bool
    public let dilation: Int
    public let groups: Int

    /// `normAndActivation`: BatchNorm + GELU after the convolution (then the convolution has no
    /// bias, as `Conv2d(bias=False)` before BN).
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int = 1, dilation: Int = 1, groups: Int = 1,
                normAndActivation: Bool = true, at path: ParamPath) throws {
        precondition(kernel % 2 == 1, "ConvUnit: kernel must be odd for same padding")
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "ConvUnit: channels not divisible by groups")
        weight = try path.get([outChannels, inChannels / groups, kernel, kernel], "conv.weight", initializer: .kaimingUniform)
        let bound = 1 / Float(max(1, inChannels / groups * kernel * kernel)).squareRoot()
        bias = normAndActivation ? nil : try path.get([outChannels], "conv.bias", initializer: .uniform(bound: bound))
        norm = normAndActivation ? try BatchNorm2d(channels: outChannels, at: path.pp("bn")) : nil
        activate = normAndActivation
        self.dilation = dilation
        self.groups = groups
        super.init()
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        [("conv.weight", weight)] + (bias.map { [("conv.bias", $0)] } ?? [])
    }

    override public func namedChildren() -> [(String, Module)] { norm.map { [("bn", $0)] } ?? [] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let k = weight.shape[2]
        let pad = dilation * (k - 1) / 2
        var y = x.conv2d(weight: weight, bias: bias, padding: (pad, pad), dilation: (dilation, dilation), groups: groups)
        if let norm { y = norm(y) }
        return activate ? y.gelu() : y
    }
}

/// Depthwise-separable block: depthwise 3×3 (dilated as asked) Conv-BN-GELU, then pointwise
/// 1×1 Conv-BN-GELU (PeftCD's `DW-refine`).
public final class DepthwiseSeparableBlock: Module {
    public let depthwise: ConvUnit
    public let pointwise: ConvUnit

    public init(_ inChannels: Int, _ outChannels: Int, dilation: Int = 1, at path: ParamPath) throws {
        depthwise = try ConvUnit(inChannels, inChannels, kernel: 3, dilation: dilation, groups: inChannels, at: path.pp("dw"))
        pointwise = try ConvUnit(inChannels, outChannels, kernel: 1, at: path.pp("pw"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("dw", depthwise), ("pw", pointwise)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { pointwise(depthwise(x)) }
}

/// Atrous spatial pyramid pooling with depthwise branches: one depthwise 3×3 Conv-BN-GELU per
/// dilation rate (1, 2, 4, 8 in PeftCD), concatenated on channels and projected back by a
/// 1×1 Conv-BN-GELU.
public final class DepthwiseASPP: Module {
    public let branches: ModuleList<ConvUnit>
    public let project: ConvUnit
    public let rates: [Int]

    public init(channels: Int, rates: [Int] = [1, 2, 4, 8], at path: ParamPath) throws {
        self.rates = rates
        branches = ModuleList(try rates.enumerated().map { i, r in
            try ConvUnit(channels, channels, kernel: 3, dilation: r, groups: channels, at: path.pp("branches").pp(String(i)))
        })
        project = try ConvUnit(channels * rates.count, channels, kernel: 1, at: path.pp("project"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("branches", branches), ("project", project)] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        project(Tensor.concat(branches.items.map { $0(x) }, axis: 1))
    }
}

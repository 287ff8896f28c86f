/// Non-linearities for adapters (AdapterHub's `non_linearity` names).
public enum AdapterActivation: String, Equatable, Sendable {
    case relu, gelu, geluTanh = "gelu_new", silu = "swish", tanh, identity

    public func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: return x.relu()
        case .gelu: return x.gelu()
        case .geluTanh: return x.geluTanh()
        case .silu: return x.silu()
        case .tanh: return x.tanh()
        case .identity: return x
        }
    }
}

/// Where a bottleneck adapter reads from, relative to the sublayer it accompanies.
public enum BottleneckPlacement: String, Equatable, Sendable {
    /// Sequential (Houlsby/Pfeiffer): reads the sublayer output, `out' = [out +] s·f(out)`.
    case series
    /// Parallel (He et al.; PETL-AST "par"): reads the sublayer input, `out' = out + s·f(in) [+ in]`.
    case parallel
}

/// How the two projections start.
public enum BottleneckInit: String, Equatable, Sendable {
    /// Down as PyTorch's Linear default, up (weight and bias) zero: the model starts exactly
    /// unchanged (AdapterHub's "mam"/LoRA-style init; PETL-AST's intent).
    case zeroUp
    /// AdapterHub's default "bert": both weights N(0, 0.01²), biases zero (near identity).
    case bert
    /// Both projections with PyTorch's Linear default (PeftCD's pre-block adapter).
    case pytorchDefault
}

/// A bottleneck adapter: `f(x) = s · up(act(down(x)))`, width d → d/RR → d (Houlsby et al.
/// 2019, Pfeiffer et al. 2020; AdapterHub's `Adapter`). Placed at a `SublayerSite` of a
/// transformer layer through `SequenceAdapter`, or called directly before a block
/// (`x + f(x)`, PeftCD) with `callAsFunction`.
///
/// - series, residual on (Pfeiffer / Houlsby): `out + f(out)`; residual off: `f(out)` replaces
///   the sublayer output (PETL-AST's sequential variant without residual).
/// - parallel: `out + f(in)`, plus `in` when `residual` (PETL-AST's `apply_residual`).
///
/// Pfeiffer = one adapter at `.feedForward`; Houlsby = one at `.attention` and one at
/// `.feedForward`. Keys as AdapterHub: `adapter_down.0.weight/bias`, `adapter_up.weight/bias`,
/// and `scaling` when learned.
///
/// ```swift
/// let a = try BottleneckAdapter(width: 768, reductionFactor: 16, placement: .series, seed: 1)
/// layer.setAdapter(a, at: .feedForward)
/// ```
public final class BottleneckAdapter: Module, SequenceAdapter {
    public let down: Linear
    public let up: Linear
    public let activation: AdapterActivation
    /// Applied to `f(x)` after the up-projection (PeftCD uses a trailing GELU).
    public let outputActivation: AdapterActivation
    public let placement: BottleneckPlacement
    public let residual: Bool
    /// Fixed multiplier of `f` (ignored when `learnedScale` is set).
    public let fixedScale: Float
    /// A trainable scalar multiplier (AdapterHub `scaling="learned"`), starting at 1.
    public let learnedScale: Tensor?
    private let downContainer: ModuleListOfOne

    public init(
        width: Int, bottleneck: Int, placement: BottleneckPlacement = .series, residual: Bool = true,
        activation: AdapterActivation = .relu, outputActivation: AdapterActivation = .identity, scale: Float = 1,
        learnScale: Bool = false, initialization: BottleneckInit = .zeroUp, seed: UInt64, key: String = "BottleneckAdapter"
    ) throws {
        guard bottleneck > 0 else { throw AdapterError.invalidRank(key: key, rank: bottleneck, limit: width) }
        var rng = SplitMix64(seed: seed)
        switch initialization {
        case .zeroUp, .pytorchDefault:
            down = Linear(inFeatures: width, outFeatures: bottleneck, using: &rng)
            if initialization == .zeroUp {
                up = Linear(weight: Tensor.zeros([width, bottleneck], requiresGrad: true), bias: Tensor.zeros([width], requiresGrad: true))
            } else {
                up = Linear(inFeatures: bottleneck, outFeatures: width, using: &rng)
            }
        case .bert:
            down = Linear(weight: Tensor.normal([bottleneck, width], std: 0.01, using: &rng, requiresGrad: true), bias: Tensor.zeros([bottleneck], requiresGrad: true))
            up = Linear(weight: Tensor.normal([width, bottleneck], std: 0.01, using: &rng, requiresGrad: true), bias: Tensor.zeros([width], requiresGrad: true))
        }
        self.activation = activation
        self.outputActivation = outputActivation
        self.placement = placement
        self.residual = residual
        fixedScale = scale
        learnedScale = learnScale ? Tensor.ones([1], requiresGrad: true) : nil
        downContainer = ModuleListOfOne(down)
        super.init()
    }

    /// Bottleneck `round(width / reductionFactor)` (AdapterHub's `reduction_factor`).
    public convenience init(
        width: Int, reductionFactor: Int, placement: BottleneckPlacement = .series, residual: Bool = true,
        activation: AdapterActivation = .relu, scale: Float = 1, learnScale: Bool = false,
        initialization: BottleneckInit = .zeroUp, seed: UInt64
    ) throws {
        let b = Int((Double(width) / Double(Swift.max(reductionFactor, 1))).rounded())
        try self.init(
            width: width, bottleneck: b, placement: placement, residual: residual, activation: activation, scale: scale,
            learnScale: learnScale, initialization: initialization, seed: seed)
    }

    override public func namedChildren() -> [(String, Module)] { [("adapter_down", downContainer), ("adapter_up", up)] }
    override public func namedLocalParameters() -> [(String, Tensor)] { learnedScale.map { [("scaling", $0)] } ?? [] }

    /// `s · outAct(up(act(down(x))))`.
    public func transform(_ x: Tensor) -> Tensor {
        let h = outputActivation.apply(up(activation.apply(down(x))))
        if let s = learnedScale { return h * s }
        return fixedScale == 1 ? h : h * fixedScale
    }

    public func forward(input: Tensor, output: Tensor) -> Tensor {
        switch placement {
        case .series:
            let f = transform(output)
            return residual ? output + f : f
        case .parallel:
            let f = output + transform(input)
            return residual ? f + input : f
        }
    }

    /// Pre-block use: `x + f(x)`.
    public func callAsFunction(_ x: Tensor) -> Tensor { x + transform(x) }
}

/// `adapter_down` is a `Sequential(Linear, activation)` in AdapterHub, so its Linear sits
/// under key `0`.
final class ModuleListOfOne: Module {
    let item: Module
    init(_ item: Module) {
        self.item = item
        super.init()
    }
    override func namedChildren() -> [(String, Module)] { [("0", item)] }
}

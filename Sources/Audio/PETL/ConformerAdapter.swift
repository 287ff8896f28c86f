import Core

/// The Conformer-convolution adapter of PETL-AST (Cappellazzo et al., MLSP 2024): the
/// convolution module of a Conformer block run along the token axis as a bottleneck,
///
///     x [B, T, d] → pointwise Conv1d(d → 2b) → GLU (→ b) → depthwise Conv1d(b, kernel k, 'same')
///       → BatchNorm1d(b) → SiLU → pointwise Conv1d(b → d) → [B, T, d],   b = round(d / RR)
///
/// placed at a transformer sublayer like any `SequenceAdapter`:
/// - parallel: `out' = out + A(in) [+ in]` (the paper's best: parallel to the FFN, no residual);
/// - sequential: `out' = A(out) [+ out]`.
///
/// All convolutions have biases and PyTorch's default init (Kaiming-uniform with a = √5, bias
/// U(±1/√fan_in)); nothing is zeroed, as in the reference. The reference code also builds a
/// LayerNorm(d) whose output it discards; it is left out here, since it changes nothing but the
/// parameter count. The BatchNorm keeps running statistics: batch statistics while the adapter is
/// in training mode, running ones in evaluation mode (`train()` / `eval()` on the adapter).
///
/// Keys (PyTorch shapes): `pointwise_conv1.{weight [2b, d, 1], bias}`,
/// `depthwise_conv.{weight [b, 1, k], bias}`, `batch_norm.{weight, bias, running_mean, running_var}`,
/// `pointwise_conv2.{weight [d, b, 1], bias}`.
public final class ConformerAdapter: Module, SequenceAdapter {
    public let width: Int
    public let bottleneck: Int
    public let kernelSize: Int
    public let placement: BottleneckPlacement
    public let residual: Bool
    public let pointwise1: Conv1d
    public let depthwise: Conv1d
    public let batchNorm: BatchNorm1d
    public let pointwise2: Conv1d

    /// A fresh adapter for width `width` with bottleneck `round(width / reductionRate)`.
    /// `kernelSize` must be odd ('same' padding of (k − 1)/2 on each side, as PyTorch pads).
    public init(width: Int, reductionRate: Int, kernelSize: Int = 31, placement: BottleneckPlacement = .parallel,
                residual: Bool = false, seed: UInt64) throws {
        let b = Int((Double(width) / Double(max(reductionRate, 1))).rounded())
        guard reductionRate >= 1, b >= 1 else {
            throw AdapterError.invalidSetting("conformer adapter: reduction rate \(reductionRate) leaves no bottleneck for width \(width); use a rate of at most \(width)")
        }
        guard kernelSize >= 1, kernelSize % 2 == 1 else {
            throw AdapterError.invalidSetting("conformer adapter: kernel size \(kernelSize) must be odd for 'same' padding (the paper uses 31)")
        }
        self.width = width
        bottleneck = b
        self.kernelSize = kernelSize
        self.placement = placement
        self.residual = residual
        let store = WeightStore.random(seed: seed)
        let root = store.root
        pointwise1 = try Conv1d(inChannels: width, outChannels: 2 * b, kernelSize: 1, at: root.pp("pointwise_conv1"))
        depthwise = try Conv1d(inChannels: b, outChannels: b, kernelSize: kernelSize, padding: (kernelSize - 1) / 2,
                               groups: b, at: root.pp("depthwise_conv"))
        batchNorm = try BatchNorm1d(channels: b, at: root.pp("batch_norm"))
        pointwise2 = try Conv1d(inChannels: b, outChannels: width, kernelSize: 1, at: root.pp("pointwise_conv2"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("pointwise_conv1", pointwise1), ("depthwise_conv", depthwise), ("batch_norm", batchNorm), ("pointwise_conv2", pointwise2)]
    }

    /// Trainable tensors (the BatchNorm's running statistics are buffers, never trained).
    public var trainableTensors: [Tensor] {
        [pointwise1.weight, pointwise1.bias!, depthwise.weight, depthwise.bias!, batchNorm.weight, batchNorm.bias,
         pointwise2.weight, pointwise2.bias!]
    }

    /// The module itself: `[B, T, d]` → `[B, T, d]`.
    public func transform(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3 && x.shape[2] == width, "ConformerAdapter: input must be [B, T, \(width)], got \(x.shape)")
        let batch = x.shape[0], tokens = x.shape[1], b = bottleneck
        // A pointwise convolution is a Linear over the channel axis; running it on [B, T, C]
        // avoids two transposes and uses one GEMM.
        let w1 = pointwise1.weight.reshaped([2 * b, width])
        let expanded = x.linear(weight: w1, bias: pointwise1.bias)              // [B, T, 2b]
        // GLU over channels (PyTorch GLU(dim=1)): first half · σ(second half).
        let gated = expanded.slice(axis: 2, 0..<b) * expanded.slice(axis: 2, b..<(2 * b)).sigmoid()
        let channels = gated.transposed(1, 2)                                    // [B, b, T]
        let mixed = batchNorm(depthwise(channels)).silu()                        // [B, b, T]
        let w2 = pointwise2.weight.reshaped([width, b])
        let out = mixed.transposed(1, 2).linear(weight: w2, bias: pointwise2.bias)  // [B, T, d]
        precondition(out.shape == [batch, tokens, width])
        return out
    }

    public func forward(input: Tensor, output: Tensor) -> Tensor {
        switch placement {
        case .parallel:
            let y = output + transform(input)
            return residual ? y + input : y
        case .series:
            let f = transform(output)
            return residual ? output + f : f
        }
    }
}

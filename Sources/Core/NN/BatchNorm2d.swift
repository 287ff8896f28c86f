/// `nn.BatchNorm2d` over `[B, C, H, W]` (ONNX `BatchNormalization` on images): in training,
/// normalises each channel with the batch statistics over batch and positions (biased
/// variance) and updates the running mean / unbiased running variance with `momentum`; in
/// evaluation, uses the running statistics. Names follow PyTorch (`weight`, `bias`,
/// `running_mean`, `running_var`).
///
/// ONNX's `momentum` attribute is the weight of the *old* running value (0.9), PyTorch's is
/// the weight of the new batch value (0.1): pass `1 − onnxMomentum` when importing.
public final class BatchNorm2d: Module {
    public let weight: Tensor
    public let bias: Tensor
    /// Running statistics (buffers: never trained, updated in place during training).
    public let runningMean: Tensor
    public let runningVar: Tensor
    public let eps: Float
    public let momentum: Float

    public init(weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, eps: Float = 1e-5, momentum: Float = 0.1) {
        let c = weight.count
        // Kept as given (no reshape: a reshaped copy would not be the leaf an optimiser updates).
        precondition([weight, bias, runningMean, runningVar].allSatisfy { $0.shape == [c] },
                     "BatchNorm2d: weight, bias, running_mean and running_var must all be [\(c)]")
        self.weight = weight
        self.bias = bias
        self.runningMean = runningMean
        self.runningVar = runningVar
        self.runningMean.requiresGrad = false
        self.runningVar.requiresGrad = false
        self.eps = eps
        self.momentum = momentum
        super.init()
    }

    /// Loads or initialises (γ = 1, β = 0, mean 0, var 1) the four tensors under `path`.
    public convenience init(channels: Int, eps: Float = 1e-5, momentum: Float = 0.1, at path: ParamPath) throws {
        self.init(
            weight: try path.get([channels], "weight", initializer: .ones),
            bias: try path.get([channels], "bias", initializer: .zeros),
            runningMean: try path.get([channels], "running_mean", initializer: .zeros),
            runningVar: try path.get([channels], "running_var", initializer: .ones),
            eps: eps, momentum: momentum)
    }

    public var channels: Int { weight.count }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        [("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVar)]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }

    /// The layer on `[B, C, H, W]`, or on `[B, H, W, C]` with `channelsLast`; with `slope`, a
    /// PReLU (one slope per channel, or one shared) follows in the same pass.
    public func forward(_ x: Tensor, channelsLast: Bool = false, slope: Tensor? = nil) -> Tensor {
        precondition(x.rank == 4, "BatchNorm2d: input must be [B, C, H, W] or [B, H, W, C], got \(x.shape)")
        let c = channelsLast ? x.shape[3] : x.shape[1]
        precondition(c == channels, "BatchNorm2d: input has \(c) channels, layer has \(channels)")
        if isTraining {
            // Batch statistics are reduced on the NCHW layout (a channels-last map is transposed
            // there and back: training a face network's BatchNorm is the rare case).
            let nchw = channelsLast ? x.permuted([0, 3, 1, 2]) : x
            let (y, mean, variance) = nchw.batchNormTraining(weight: weight, bias: bias, eps: eps)
            updateRunningStatistics(mean: mean, variance: variance, count: nchw.count / c)
            let out = channelsLast ? y.permuted([0, 2, 3, 1]) : y
            return slope.map { out.channelAffine(scale: nil, shift: nil, slope: $0, channelsLast: channelsLast) } ?? out
        }
        let (scale, shift) = inferenceAffine()
        return x.channelAffine(scale: scale, shift: shift, slope: slope, channelsLast: channelsLast)
    }

    /// Inference as one per-channel affine map `y = a·x + b` with `a = γ/√(var+ε)` and
    /// `b = β − mean·a`. The `[C]`-sized algebra stays differentiable, so γ and β still train
    /// with frozen statistics.
    public func inferenceAffine() -> (scale: Tensor, shift: Tensor) {
        let inverse = Tensor(runningVar.storage.map { 1 / ($0 + eps).squareRoot() }, shape: [channels])
        let scale = weight * inverse
        return (scale, bias - runningMean * scale)
    }

    /// `running ← (1 − momentum)·running + momentum·batch`, the variance made unbiased first.
    func updateRunningStatistics(mean: [Float], variance: [Float], count n: Int) {
        let unbiased = Float(n) / Float(Swift.max(n - 1, 1))
        for i in 0..<channels {
            runningMean.storage[i] = (1 - momentum) * runningMean.storage[i] + momentum * mean[i]
            runningVar.storage[i] = (1 - momentum) * runningVar.storage[i] + momentum * variance[i] * unbiased
        }
    }
}

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

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "BatchNorm2d: input must be [B, C, H, W], got \(x.shape)")
        let c = x.shape[1]
        precondition(c == channels, "BatchNorm2d: input has \(c) channels, layer has \(channels)")
        let statShape = [1, c, 1, 1]
        if isTraining {
            let n = x.shape[0] * x.shape[2] * x.shape[3]
            precondition(n > 1, "BatchNorm2d: training needs more than one value per channel, got input \(x.shape)")
            let mean = x.mean(axes: [0, 2, 3], keepDims: true)
            let centered = x - mean
            let variance = centered.square().mean(axes: [0, 2, 3], keepDims: true)
            withoutGrad {
                let unbiased = Float(n) / Float(n - 1)
                for i in 0..<c {
                    runningMean.storage[i] = (1 - momentum) * runningMean.storage[i] + momentum * mean.storage[i]
                    runningVar.storage[i] = (1 - momentum) * runningVar.storage[i] + momentum * variance.storage[i] * unbiased
                }
            }
            return centered / (variance + eps).sqrt() * weight.reshaped(statShape) + bias.reshaped(statShape)
        }
        // Inference folds the statistics into one per-channel affine map, y = a·x + b with
        // a = γ/√(var+ε) and b = β − mean·a: two passes over x instead of four. The [C]-sized
        // algebra stays differentiable, so γ and β still train with frozen statistics.
        let inverse = Tensor(runningVar.storage.map { 1 / ($0 + eps).squareRoot() }, shape: [c])
        let scale = weight * inverse
        let shift = bias - runningMean * scale
        return x * scale.reshaped(statShape) + shift.reshaped(statShape)
    }
}

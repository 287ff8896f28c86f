/// `nn.BatchNorm1d` over `[B, C]` or `[B, C, L]`: in training, normalises with the batch
/// statistics (biased variance) and updates the running mean / unbiased running variance with
/// `momentum`; in evaluation, uses the running statistics. Parameter and buffer names follow
/// PyTorch (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` is not kept).
public final class BatchNorm1d: Module {
    public let weight: Tensor
    public let bias: Tensor
    /// Running statistics (buffers: never trained, updated in place during training).
    public let runningMean: Tensor
    public let runningVar: Tensor
    public let eps: Float
    public let momentum: Float

    public init(channels: Int, eps: Float = 1e-5, momentum: Float = 0.1, at path: ParamPath) throws {
        weight = try path.get([channels], "weight", initializer: .ones)
        bias = try path.get([channels], "bias", initializer: .zeros)
        runningMean = try path.get([channels], "running_mean", initializer: .zeros)
        runningVar = try path.get([channels], "running_var", initializer: .ones)
        runningMean.requiresGrad = false
        runningVar.requiresGrad = false
        self.eps = eps
        self.momentum = momentum
        super.init()
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        [("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVar)]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 || x.rank == 3, "BatchNorm1d: input must be [B, C] or [B, C, L], got \(x.shape)")
        let c = x.shape[1]
        precondition(c == weight.count, "BatchNorm1d: \(c) channels, layer has \(weight.count)")
        if isTraining {
            let (y, mean, variance) = x.batchNormTraining(weight: weight, bias: bias, eps: eps)
            let n = x.count / c
            let unbiased = Float(n) / Float(n - 1)
            for i in 0..<c {
                runningMean.storage[i] = (1 - momentum) * runningMean.storage[i] + momentum * mean[i]
                runningVar.storage[i] = (1 - momentum) * runningVar.storage[i] + momentum * variance[i] * unbiased
            }
            return y
        }
        // Running statistics: one per-channel affine map (see BatchNorm2d.inferenceAffine).
        let inverse = Tensor(runningVar.storage.map { 1 / ($0 + eps).squareRoot() }, shape: [c])
        let scale = weight * inverse
        return x.channelAffine(scale: scale, shift: bias - runningMean * scale)
    }
}

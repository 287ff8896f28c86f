import Foundation

/// Training losses. Each returns a scalar (mean over elements or rows) and carries its gradient.
extension Tensor {
    /// Mean squared error `mean((self − target)²)`; shapes must match (target gets no gradient
    /// unless it requires one).
    public func mseLoss(_ target: Tensor) -> Tensor {
        precondition(shape == target.shape, "mseLoss: prediction \(shape) vs target \(target.shape)")
        return (self - target).square().mean()
    }

    /// Binary cross-entropy on logits, mean over elements, as `F.binary_cross_entropy_with_logits`:
    /// `ℓ = max(x, 0) − x·y + log(1 + e^{−|x|})` (never overflows) with gradient `(σ(x) − y)/N`.
    /// Written as one op because composing it from `abs` gives the wrong gradient at x = 0, where
    /// zero-initialised heads start. `posWeight` (per class, broadcast over the last axis)
    /// multiplies the positive term, as PyTorch's `pos_weight`.
    public func binaryCrossEntropyWithLogits(_ targets: Tensor, posWeight: Tensor? = nil) -> Tensor {
        precondition(shape == targets.shape, "binaryCrossEntropyWithLogits: logits \(shape) vs targets \(targets.shape)")
        let n = Swift.max(count, 1)
        let classes = shape.last ?? 1
        if let pw = posWeight { precondition(pw.count == classes, "binaryCrossEntropyWithLogits: posWeight \(pw.shape) vs \(classes) classes") }
        let x = storage, y = targets.storage
        var total = 0.0
        for i in 0..<count {
            // log σ(−x) = −(max(x,0) + log(1+e^{−|x|})); log σ(x) = −(max(−x,0) + log(1+e^{−|x|}))
            let soft = Double(Foundation.log1p(Foundation.exp(-Swift.abs(x[i]))))
            let logSigNeg = -(Double(Swift.max(x[i], 0)) + soft)
            let logSigPos = -(Double(Swift.max(-x[i], 0)) + soft)
            let w = Double(posWeight?.storage[i % classes] ?? 1)
            total += -(w * Double(y[i]) * logSigPos + (1 - Double(y[i])) * logSigNeg)
        }
        let logits = self
        return Tensor(scalar: Float(total / Double(n))).recording("bce_with_logits", [logits, targets]) { g in
            let scale = g[0] / Float(n)
            if logits.requiresGrad {
                var gx = [Float](repeating: 0, count: x.count)
                for i in 0..<x.count {
                    let s = stableSigmoid(x[i])
                    let w = posWeight?.storage[i % classes] ?? 1
                    // d/dx of −[w·y·log σ(x) + (1−y)·log σ(−x)] = −w·y·(1−σ) + (1−y)·σ
                    gx[i] = scale * (-w * y[i] * (1 - s) + (1 - y[i]) * s)
                }
                logits.accumulateGrad(gx)
            }
            if targets.requiresGrad {
                // dℓ/dy = −w·log σ(x) + log σ(−x)
                var gy = [Float](repeating: 0, count: y.count)
                for i in 0..<y.count {
                    let soft = Foundation.log1p(Foundation.exp(-Swift.abs(x[i])))
                    let w = posWeight?.storage[i % classes] ?? 1
                    gy[i] = scale * (w * (Swift.max(-x[i], 0) + soft) - (Swift.max(x[i], 0) + soft))
                }
                targets.accumulateGrad(gy)
            }
        }
    }

    /// Softmax cross-entropy for logits `[..., C]` (e.g. `[B, T, C]` token logits) against one class
    /// index per row, mean over rows whose target is not `ignoreIndex`.
    public func crossEntropyLoss(targets: [Int], ignoreIndex: Int = -100) -> Tensor {
        precondition(rank >= 1, "crossEntropyLoss: logits need a class axis, got \(shape)")
        let classes = shape[rank - 1]
        let rows = count / Swift.max(classes, 1)
        precondition(targets.count == rows, "crossEntropyLoss: logits \(shape) have \(rows) rows but \(targets.count) targets were given")
        let flat = rank == 2 ? self : reshaped([rows, classes])
        return flat.crossEntropy(targets: targets, ignoreIndex: ignoreIndex)
    }
}

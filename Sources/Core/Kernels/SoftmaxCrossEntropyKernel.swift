import Foundation

/// Fused log-softmax + negative log-likelihood over logits `[N, C]`, as
/// `torch.nn.functional.cross_entropy(logits, targets, ignore_index:, reduction="mean",
/// label_smoothing: ε)`: rows whose target is `ignoreIndex` add nothing and are not counted.
///
/// Per kept row, with lse = log Σ_c exp(x_c) (computed after subtracting the row max):
///   loss_r = (1 − ε)(lse − x_t) + ε·(lse − mean_c x_c) = lse − (1 − ε)·x_t − ε·mean_c x_c
/// The second form is the smoothed target q = (1 − ε)·onehot(t) + ε/C against log-softmax.
/// Only lse is kept for backward (N floats), not the N×C probabilities.
///
/// One deviation from torch: when every row is ignored, torch returns NaN (0/0); we return 0
/// with a zero gradient, so a batch of pure padding cannot poison training.
public enum SoftmaxCrossEntropyKernel {
    // MARK: - Forward / backward pair

    /// Writes each kept row's loss (unscaled) into `losses` and its log-sum-exp into `lse`;
    /// ignored rows get 0 in both.
    @inlinable
    public static func forward(
        losses: UnsafeMutablePointer<Float>,  // [N]
        lse: UnsafeMutablePointer<Float>,     // [N]
        logits: UnsafePointer<Float>,         // [N, C]
        targets: UnsafePointer<Int>,          // [N]
        rows: Range<Int>, C: Int, ignoreIndex: Int, smoothing: Float
    ) {
        for r in rows {
            let t = targets[r]
            if t == ignoreIndex {
                losses[r] = 0
                lse[r] = 0
                continue
            }
            let xr = logits + r * C
            var m = -Float.infinity
            for c in 0..<C where xr[c] > m { m = xr[c] }
            var s: Float = 0, total: Float = 0
            for c in 0..<C {
                s += Foundation.exp(xr[c] - m)
                total += xr[c]
            }
            let l = m + Foundation.log(s)
            lse[r] = l
            losses[r] = l - (1 - smoothing) * xr[t] - smoothing * total / Float(C)
        }
    }

    /// dlogits[r, c] = scale · (softmax(x_r)_c − (1 − ε)[c == t] − ε/C) for kept rows, 0 for ignored.
    /// `scale` is the upstream gradient divided by the number of kept rows.
    @inlinable
    public static func backward(
        dlogits: UnsafeMutablePointer<Float>,  // [N, C]
        logits: UnsafePointer<Float>,          // [N, C]
        lse: UnsafePointer<Float>,             // [N]
        targets: UnsafePointer<Int>,           // [N]
        rows: Range<Int>, C: Int, ignoreIndex: Int, smoothing: Float, scale: Float
    ) {
        let uniform = smoothing / Float(C)
        for r in rows {
            let dr = dlogits + r * C
            let t = targets[r]
            if t == ignoreIndex {
                for c in 0..<C { dr[c] = 0 }
                continue
            }
            let xr = logits + r * C, l = lse[r]
            for c in 0..<C { dr[c] = scale * (Foundation.exp(xr[c] - l) - uniform) }
            dr[t] -= scale * (1 - smoothing)
        }
    }
}

// MARK: - Autograd wrapper

extension Tensor {
    /// Mean softmax cross-entropy of `logits [N, C]` (self) against class indices, as one
    /// autograd node (see `SoftmaxCrossEntropyKernel`). Returns a scalar.
    public func crossEntropyFused(targets: [Int], ignoreIndex: Int = -100, labelSmoothing: Float = 0) -> Tensor {
        let x = self
        precondition(rank == 2, "crossEntropy: logits must be [N, C], got \(shape)")
        let N = shape[0], C = shape[1]
        precondition(targets.count == N, "crossEntropy: \(targets.count) targets for logits \(shape) (need \(N))")
        precondition(labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy: labelSmoothing \(labelSmoothing) must be in [0, 1]")
        var kept = 0
        for (r, t) in targets.enumerated() where t != ignoreIndex {
            precondition(t >= 0 && t < C, "crossEntropy: target \(t) at row \(r) is outside 0..<\(C) (and is not ignoreIndex \(ignoreIndex))")
            kept += 1
        }
        var losses = [Float](repeating: 0, count: N)
        var lse = [Float](repeating: 0, count: N)
        var unused: [Float] = []
        withConstPointers([x.storage]) { p in
            targets.withUnsafeBufferPointer { tp in
                let tp = SendableConstPointer(tp.baseAddress ?? UnsafePointer(bitPattern: 8)!)
                withMutablePointers(&losses, &lse, &unused) { lp, sp, _ in
                    guard let lp, let sp, let xp = p[0] else { return }
                    parallelChunks(N, costPerItem: 6 * C) { rows in
                        SoftmaxCrossEntropyKernel.forward(
                            losses: lp.base, lse: sp.base, logits: xp.base, targets: tp.base, rows: rows, C: C,
                            ignoreIndex: ignoreIndex, smoothing: labelSmoothing)
                    }
                }
            }
        }
        // Sum the per-row losses in Double so the mean does not depend on row order rounding.
        let total = losses.reduce(0.0) { $0 + Double($1) }
        let loss = kept == 0 ? 0 : Float(total / Double(kept))
        return Tensor([loss], shape: []).recording("cross_entropy", [x]) { g in
            if kept == 0 { return }
            let scale = g[0] / Float(kept)
            let dx = withConstPointers([x.storage, lse]) { p in
                targets.withUnsafeBufferPointer { tp in
                    let tp = SendableConstPointer(tp.baseAddress!)
                    return makeBuffer(N * C) { d in
                        parallelChunks(N, costPerItem: 6 * C) { rows in
                            SoftmaxCrossEntropyKernel.backward(
                                dlogits: d.base, logits: p[0]!.base, lse: p[1]!.base, targets: tp.base, rows: rows,
                                C: C, ignoreIndex: ignoreIndex, smoothing: labelSmoothing, scale: scale)
                        }
                    }
                }
            }
            x.accumulateGrad(dx)
        }
    }
}

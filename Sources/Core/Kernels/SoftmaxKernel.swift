import Foundation

/// Fused softmax over the last axis: forward/backward pair on raw buffers, one autograd node.
///
/// The row maximum is subtracted before `exp` so no term overflows. A row whose entries are
/// all −∞ (every position masked out) has no defined softmax; it yields zeros, not NaN, so a
/// fully padded row contributes nothing downstream and gets a zero gradient.
public enum SoftmaxKernel {
    // MARK: - Forward / backward pair

    /// y[r, :] = exp(x[r, :] − max) / Σ exp(x[r, :] − max) for r in `rows`.
    @inlinable
    public static func forward(
        y: UnsafeMutablePointer<Float>,  // [N, C]
        x: UnsafePointer<Float>,         // [N, C]
        rows: Range<Int>, C: Int
    ) {
        for r in rows { softmaxRow(y + r * C, x + r * C, C) }
    }

    /// One row, also used by the attention kernel (`y` may equal `x`: in-place is allowed).
    @inlinable
    public static func softmaxRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ C: Int) {
        var m = -Float.infinity
        for i in 0..<C where x[i] > m { m = x[i] }
        if m == -.infinity {
            // All −∞ (or empty): define the result as zeros instead of 0/0.
            for i in 0..<C { y[i] = 0 }
            return
        }
        var s: Float = 0
        for i in 0..<C {
            let e = Foundation.exp(x[i] - m)
            y[i] = e
            s += e
        }
        let inv = 1 / s
        for i in 0..<C { y[i] *= inv }
    }

    /// dx = y ⊙ (dy − Σ_j dy_j·y_j): the softmax Jacobian diag(y) − y·yᵀ applied to dy.
    /// `dx` may equal `dy` (in-place is allowed).
    @inlinable
    public static func backward(
        dx: UnsafeMutablePointer<Float>,  // [N, C]
        dy: UnsafePointer<Float>,         // [N, C]
        y: UnsafePointer<Float>,          // [N, C] saved forward output
        rows: Range<Int>, C: Int
    ) {
        for r in rows { backwardRow(dx + r * C, dy + r * C, y + r * C, C) }
    }

    /// One row of `backward`.
    @inlinable
    public static func backwardRow(
        _ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ C: Int
    ) {
        var dot: Float = 0
        for i in 0..<C { dot += dy[i] * y[i] }
        for i in 0..<C { dx[i] = y[i] * (dy[i] - dot) }
    }
}

// MARK: - Autograd wrapper

extension Tensor {
    /// Softmax over the last axis as one autograd node (see `SoftmaxKernel`).
    public func softmaxFused() -> Tensor {
        let x = self
        precondition(rank >= 1, "softmax: input must have at least one axis, got a scalar")
        let C = shape[rank - 1]
        let N = C == 0 ? 0 : count / C
        let y = withConstPointers([x.storage]) { p in
            makeBuffer(N * C) { o in
                parallelChunks(N, costPerItem: 8 * C) { rows in
                    SoftmaxKernel.forward(y: o.base, x: p[0]!.base, rows: rows, C: C)
                }
            }
        }
        return Tensor(y, shape: shape).recording("softmax", [x]) { g in
            let dx = withConstPointers([g, y]) { p in
                makeBuffer(N * C) { d in
                    parallelChunks(N, costPerItem: 3 * C) { rows in
                        SoftmaxKernel.backward(dx: d.base, dy: p[0]!.base, y: p[1]!.base, rows: rows, C: C)
                    }
                }
            }
            x.accumulateGrad(dx)
        }
    }
}

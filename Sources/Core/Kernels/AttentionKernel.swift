/// Fused scaled dot-product attention with an optional additive mask: a forward/backward pair
/// on raw buffers, one autograd node. Per (batch, head) slice:
///   S = scale · Q·Kᵀ + mask      [Tq, Tk]
///   P = softmax(S) over keys     [Tq, Tk]  (kept for backward)
///   O = P·V                      [Tq, Dv]
/// The three products go through `BLAS.sgemm`; the mask is read through broadcast strides, so a
/// `[B, 1, 1, Tk]` key-padding mask is never expanded to `[B, H, Tq, Tk]`. A query row whose
/// keys are all masked with −∞ gets P = 0 (output 0), not NaN.
public enum AttentionKernel {
    /// Where a slice's mask values live: element (i, j) of slice `bh` is
    /// `mask[base[bh] + i·rowStride + j·colStride]`.
    public struct MaskLayout: @unchecked Sendable {
        public let values: UnsafePointer<Float>
        public let base: UnsafePointer<Int>
        public let rowStride: Int
        public let colStride: Int

        public init(values: UnsafePointer<Float>, base: UnsafePointer<Int>, rowStride: Int, colStride: Int) {
            self.values = values
            self.base = base
            self.rowStride = rowStride
            self.colStride = colStride
        }
    }

    // MARK: - Forward / backward pair
    //
    // Threading: the GEMMs run one slice after another and let OpenBLAS use its own threads;
    // only the softmax rows (no BLAS inside) are split with `parallelChunks`. Calling sgemm from
    // several of our workers at once made the forward 5-10× slower on 2 cores (OpenBLAS's
    // threads and ours fight for the cores), so the slice loop is deliberately serial.

    /// Forward over all `BH` slices.
    @inlinable
    public static func forward(
        out: UnsafeMutablePointer<Float>,    // [BH, Tq, Dv]
        probs: UnsafeMutablePointer<Float>,  // [BH, Tq, Tk]
        q: UnsafePointer<Float>,             // [BH, Tq, D]
        k: UnsafePointer<Float>,             // [BH, Tk, D]
        v: UnsafePointer<Float>,             // [BH, Tk, Dv]
        mask: MaskLayout?,
        BH: Int, Tq: Int, Tk: Int, D: Int, Dv: Int, scale: Float
    ) {
        // S = scale · Q·Kᵀ, written into the probability buffer and normalised in place.
        for bh in 0..<BH {
            BLAS.sgemm(transA: false, transB: true, m: Tq, n: Tk, k: D, alpha: scale, a: q + bh * Tq * D, lda: D,
                       b: k + bh * Tk * D, ldb: D, beta: 0, c: probs + bh * Tq * Tk, ldc: Tk)
        }
        let ps = SendablePointer(probs)
        parallelChunks(BH * Tq, costPerItem: 12 * Tk) { rows in
            for r in rows {
                let row = ps.base + r * Tk
                if let m = mask {
                    let mrow = m.values + m.base[r / Tq] + (r % Tq) * m.rowStride
                    for j in 0..<Tk { row[j] += mrow[j * m.colStride] }
                }
                SoftmaxKernel.softmaxRow(row, row, Tk)
            }
        }
        // O = P·V
        for bh in 0..<BH {
            BLAS.sgemm(transA: false, transB: false, m: Tq, n: Dv, k: Tk, a: probs + bh * Tq * Tk, lda: Tk,
                       b: v + bh * Tk * Dv, ldb: Dv, beta: 0, c: out + bh * Tq * Dv, ldc: Dv)
        }
    }

    /// Backward over all slices. Outputs that are nil are not computed.
    ///   dV = Pᵀ·dO
    ///   dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P))   (softmax backward, row by row)
    ///   dQ = scale · dS·K,  dK = scale · dSᵀ·Q
    /// `dscores` receives dS (it is also the additive mask's gradient); nil skips dS, dQ and dK.
    @inlinable
    public static func backward(
        dq: UnsafeMutablePointer<Float>?,       // [BH, Tq, D]
        dk: UnsafeMutablePointer<Float>?,       // [BH, Tk, D]
        dv: UnsafeMutablePointer<Float>?,       // [BH, Tk, Dv]
        dscores: UnsafeMutablePointer<Float>?,  // [BH, Tq, Tk]
        dout: UnsafePointer<Float>,             // [BH, Tq, Dv]
        q: UnsafePointer<Float>,                // [BH, Tq, D]
        k: UnsafePointer<Float>,                // [BH, Tk, D]
        v: UnsafePointer<Float>,                // [BH, Tk, Dv]
        probs: UnsafePointer<Float>,            // [BH, Tq, Tk]
        BH: Int, Tq: Int, Tk: Int, D: Int, Dv: Int, scale: Float
    ) {
        if let dv {
            for bh in 0..<BH {
                BLAS.sgemm(transA: true, transB: false, m: Tk, n: Dv, k: Tq, a: probs + bh * Tq * Tk, lda: Tk,
                           b: dout + bh * Tq * Dv, ldb: Dv, beta: 0, c: dv + bh * Tk * Dv, ldc: Dv)
            }
        }
        guard let dscores else { return }
        for bh in 0..<BH {
            BLAS.sgemm(transA: false, transB: true, m: Tq, n: Tk, k: Dv, a: dout + bh * Tq * Dv, lda: Dv,
                       b: v + bh * Tk * Dv, ldb: Dv, beta: 0, c: dscores + bh * Tq * Tk, ldc: Tk)
        }
        let ds = SendablePointer(dscores), ps = SendableConstPointer(probs)
        parallelChunks(BH * Tq, costPerItem: 4 * Tk) { rows in
            for r in rows { SoftmaxKernel.backwardRow(ds.base + r * Tk, ds.base + r * Tk, ps.base + r * Tk, Tk) }
        }
        for bh in 0..<BH {
            let dsl = dscores + bh * Tq * Tk
            if let dq {
                BLAS.sgemm(transA: false, transB: false, m: Tq, n: D, k: Tk, alpha: scale, a: dsl, lda: Tk,
                           b: k + bh * Tk * D, ldb: D, beta: 0, c: dq + bh * Tq * D, ldc: D)
            }
            if let dk {
                BLAS.sgemm(transA: true, transB: false, m: Tk, n: D, k: Tq, alpha: scale, a: dsl, lda: Tk,
                           b: q + bh * Tq * D, ldb: D, beta: 0, c: dk + bh * Tk * D, ldc: D)
            }
        }
    }
}

// MARK: - Autograd wrapper

extension Tensor {
    /// Scaled dot-product attention as one autograd node (see `AttentionKernel`).
    /// `q [..., Tq, D]`, `k [..., Tk, D]`, `v [..., Tk, Dv]` with equal leading axes; `mask` is
    /// additive and broadcasts to `[..., Tq, Tk]`; `scale` defaults to 1/√D.
    /// Leading axes that differ (broadcast batch) fall back to the composed version.
    public static func attentionFused(
        q: Tensor, k: Tensor, v: Tensor, mask: Tensor? = nil, scale: Float? = nil
    ) -> Tensor {
        precondition(q.rank >= 2 && k.rank >= 2 && v.rank >= 2,
                     "attention: q, k, v need rank ≥ 2, got \(q.shape), \(k.shape), \(v.shape)")
        let lead = Array(q.shape.dropLast(2))
        let Tq = q.shape[q.rank - 2], D = q.shape[q.rank - 1]
        let Tk = k.shape[k.rank - 2], Dv = v.shape[v.rank - 1]
        precondition(k.shape.last == D, "attention: q \(q.shape) and k \(k.shape) differ in the feature size")
        precondition(v.shape[v.rank - 2] == Tk, "attention: k \(k.shape) and v \(v.shape) differ in the key count")
        guard Array(k.shape.dropLast(2)) == lead, Array(v.shape.dropLast(2)) == lead,
              q.count > 0, k.count > 0, v.count > 0
        else { return attentionComposed(q: q, k: k, v: v, mask: mask, scale: scale) }
        let s = scale ?? 1 / Float(D).squareRoot()
        let BH = lead.reduce(1, *)
        let scoreShape = lead + [Tq, Tk]

        // Mask layout: per-slice base offsets plus row/column strides (0 on broadcast axes).
        var maskBase: [Int] = []
        var rowStride = 0, colStride = 0
        if let m = mask {
            precondition(m.rank <= scoreShape.count && Shape.broadcast(m.shape, scoreShape) == scoreShape,
                         "attention: mask \(m.shape) does not broadcast to scores \(scoreShape)")
            let ms = Shape.broadcastStrides(m.shape, to: scoreShape)
            rowStride = ms[lead.count]
            colStride = ms[lead.count + 1]
            maskBase = [Int](repeating: 0, count: BH)
            for bh in 0..<BH {
                var rest = bh, off = 0
                for a in stride(from: lead.count - 1, through: 0, by: -1) {
                    off += (rest % lead[a]) * ms[a]
                    rest /= lead[a]
                }
                maskBase[bh] = off
            }
        }

        var out = [Float](repeating: 0, count: BH * Tq * Dv)
        var probs = [Float](repeating: 0, count: BH * Tq * Tk)
        var unused: [Float] = []
        withConstPointers([q.storage, k.storage, v.storage, mask?.storage]) { p in
            maskBase.withUnsafeBufferPointer { mb in
                let layout = p[3].map {
                    AttentionKernel.MaskLayout(values: $0.base, base: mb.baseAddress!, rowStride: rowStride, colStride: colStride)
                }
                withMutablePointers(&out, &probs, &unused) { o, pr, _ in
                    AttentionKernel.forward(
                        out: o!.base, probs: pr!.base, q: p[0]!.base, k: p[1]!.base, v: p[2]!.base, mask: layout,
                        BH: BH, Tq: Tq, Tk: Tk, D: D, Dv: Dv, scale: s)
                }
            }
        }

        let inputs = [q, k, v] + (mask.map { [$0] } ?? [])
        return Tensor(out, shape: lead + [Tq, Dv]).recording("attention", inputs) { g in
            let needMask = mask?.requiresGrad ?? false
            let needScores = q.requiresGrad || k.requiresGrad || needMask
            var dq = [Float](repeating: 0, count: q.requiresGrad ? q.count : 0)
            var dk = [Float](repeating: 0, count: k.requiresGrad ? k.count : 0)
            var dv = [Float](repeating: 0, count: v.requiresGrad ? v.count : 0)
            var dscores = [Float](repeating: 0, count: needScores ? BH * Tq * Tk : 0)
            withConstPointers([g, q.storage, k.storage, v.storage, probs]) { p in
                withMutablePointers(&dq, &dk, &dv) { dqp, dkp, dvp in
                    dscores.withUnsafeMutableBufferPointer { ds in
                        AttentionKernel.backward(
                            dq: dqp?.base, dk: dkp?.base, dv: dvp?.base, dscores: needScores ? ds.baseAddress : nil,
                            dout: p[0]!.base, q: p[1]!.base, k: p[2]!.base, v: p[3]!.base, probs: p[4]!.base,
                            BH: BH, Tq: Tq, Tk: Tk, D: D, Dv: Dv, scale: s)
                    }
                }
            }
            if q.requiresGrad { q.accumulateGrad(dq) }
            if k.requiresGrad { k.accumulateGrad(dk) }
            if v.requiresGrad { v.accumulateGrad(dv) }
            if needMask, let m = mask { m.accumulateGrad(Shape.reduceGrad(dscores, from: scoreShape, to: m.shape)) }
        }
    }
}

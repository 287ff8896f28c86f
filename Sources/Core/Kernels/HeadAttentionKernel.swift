/// Multi-head attention read straight from the projections' `[B, T, H·D]` layout, with optional
/// dropout on the attention probabilities: one autograd node, no head split/merge copies.
///
/// Head h of batch row b is the column block `h·D ..< (h+1)·D` of a `[T, H·D]` matrix, so each
/// per-head GEMM passes the full row width as its leading dimension instead of copying heads into
/// `[B, H, T, D]` (four permute copies forward, four backward, saved). Per (b, h):
///   S = scale·Q·Kᵀ + mask,  P = softmax(S),  D = P ⊙ M / (1−p)  (M: keep mask, training only),
///   O = D·V, written into the `[B, Tq, H·Dv]` output at the head's columns.
/// Backward: dV = Dᵀ·dO, dD = dO·Vᵀ, dP = dD ⊙ M/(1−p), dS = P ⊙ (dP − rowsum(dP ⊙ P)),
/// dQ = scale·dS·K, dK = scale·dSᵀ·Q. Saved: P and the keep mask as bytes; D is rebuilt in the
/// backward from those two (one pass) rather than kept alive (a third `[B, H, Tq, Tk]` buffer).
///
/// Dropout masks come from per-row SplitMix64 streams derived from one draw of the caller's
/// generator, so they do not depend on how rows are split across threads.
public enum HeadAttentionKernel {
    /// Additive mask of shape `[Bm, 1, Qm, Tk]` with Bm ∈ {1, B}, Qm ∈ {1, Tq}, as
    /// `MultiHeadAttention.additiveMask` builds it.
    public struct Mask {
        let values: [Float]
        let batchStride: Int
        let rowStride: Int

        /// Nil when `mask` does not have that shape family (the caller then uses the general path).
        public init?(_ mask: Tensor, batch: Int, queries: Int, keys: Int) {
            let s = mask.shape
            guard s.count == 4, s[1] == 1, s[3] == keys, s[0] == 1 || s[0] == batch, s[2] == 1 || s[2] == queries else { return nil }
            values = mask.storage
            batchStride = s[0] == 1 ? 0 : s[2] * keys
            rowStride = s[2] == 1 ? 0 : keys
        }
    }

    /// The forward pass; `probs` receives P `[B, H, Tq, Tk]`, `keep` the dropout mask (empty when
    /// `dropout == 0`), `dropped` scratch for D (may alias nothing else).
    static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, dropped: UnsafeMutablePointer<Float>?,
        keep: UnsafeMutablePointer<UInt8>?, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        mask: UnsafePointer<Float>?, maskBatchStride: Int, maskRowStride: Int,
        B: Int, H: Int, Tq: Int, Tk: Int, D: Int, Dv: Int, scale: Float, dropout: Float, seed: UInt64
    ) {
        let (C, Cv) = (H * D, H * Dv)
        for b in 0..<B {
            for h in 0..<H {
                BLAS.sgemm(transA: false, transB: true, m: Tq, n: Tk, k: D, alpha: scale, a: q + b * Tq * C + h * D, lda: C,
                           b: k + b * Tk * C + h * D, ldb: C, beta: 0, c: probs + (b * H + h) * Tq * Tk, ldc: Tk)
            }
        }
        let ps = SendablePointer(probs)
        let ms = mask.map { SendableConstPointer($0) }
        let ds = dropped.map { SendablePointer($0) }, ks = keep.map { SendablePointer($0) }
        let keepScale = 1 / (1 - dropout)
        // Keep an element when its 24-bit uniform is ≥ p (probability 1 − p), as `Dropout`.
        let threshold = UInt64((Double(dropout) * 16_777_216).rounded(.up))
        parallelChunks(B * H * Tq, costPerItem: 16 * Tk) { rows in
            for r in rows {
                let row = ps.base + r * Tk
                if let m = ms {
                    let b = r / (H * Tq), i = r % Tq
                    let mrow = m.base + b * maskBatchStride + i * maskRowStride
                    for j in 0..<Tk { row[j] += mrow[j] }
                }
                VectorMath.softmaxRow(row, row, Tk)
                if let ds, let ks {
                    var rng = SplitMix64(seed: seed ^ (UInt64(r) &* 0x9E37_79B9_7F4A_7C15))
                    let drow = ds.base + r * Tk, krow = ks.base + r * Tk
                    for j in 0..<Tk {
                        let keepIt = (rng.next() >> 40) >= threshold
                        krow[j] = keepIt ? 1 : 0
                        drow[j] = keepIt ? row[j] * keepScale : 0
                    }
                }
            }
        }
        let weights = UnsafePointer(dropped ?? probs)
        for b in 0..<B {
            for h in 0..<H {
                BLAS.sgemm(transA: false, transB: false, m: Tq, n: Dv, k: Tk, a: weights + (b * H + h) * Tq * Tk, lda: Tk,
                           b: v + b * Tk * Cv + h * Dv, ldb: Cv, beta: 0, c: out + b * Tq * Cv + h * Dv, ldc: Cv)
            }
        }
    }

    /// The backward pass. `scratch` holds `[B, H, Tq, Tk]` floats (it receives dS); nil outputs
    /// are skipped.
    static func backward(
        dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        probs: UnsafePointer<Float>, keep: UnsafePointer<UInt8>?,
        B: Int, H: Int, Tq: Int, Tk: Int, D: Int, Dv: Int, scale: Float, dropout: Float
    ) {
        let (C, Cv) = (H * D, H * Dv)
        let keepScale = 1 / (1 - dropout)
        let ss = SendablePointer(scratch), ps = SendableConstPointer(probs)
        let ks = keep.map { SendableConstPointer($0) }
        if let dv {
            // D = P ⊙ M/(1−p) rebuilt into the scratch buffer, then dV = Dᵀ·dO.
            var weights = probs
            if let ks {
                parallelChunks(B * H * Tq * Tk, costPerItem: 1) { range in
                    for i in range { ss.base[i] = ks.base[i] != 0 ? ps.base[i] * keepScale : 0 }
                }
                weights = UnsafePointer(scratch)
            }
            for b in 0..<B {
                for h in 0..<H {
                    BLAS.sgemm(transA: true, transB: false, m: Tk, n: Dv, k: Tq, a: weights + (b * H + h) * Tq * Tk, lda: Tk,
                               b: dout + b * Tq * Cv + h * Dv, ldb: Cv, beta: 0, c: dv + b * Tk * Cv + h * Dv, ldc: Cv)
                }
            }
        }
        guard dq != nil || dk != nil else { return }
        for b in 0..<B {
            for h in 0..<H {
                BLAS.sgemm(transA: false, transB: true, m: Tq, n: Tk, k: Dv, a: dout + b * Tq * Cv + h * Dv, lda: Cv,
                           b: v + b * Tk * Cv + h * Dv, ldb: Cv, beta: 0, c: scratch + (b * H + h) * Tq * Tk, ldc: Tk)
            }
        }
        parallelChunks(B * H * Tq, costPerItem: 4 * Tk) { rows in
            for r in rows {
                let d = ss.base + r * Tk, p = ps.base + r * Tk
                if let ks {
                    let kr = ks.base + r * Tk
                    for j in 0..<Tk { d[j] = kr[j] != 0 ? d[j] * keepScale : 0 }
                }
                VectorMath.softmaxBackwardRow(d, d, p, Tk)
            }
        }
        for b in 0..<B {
            for h in 0..<H {
                let dsl = scratch + (b * H + h) * Tq * Tk
                if let dq {
                    BLAS.sgemm(transA: false, transB: false, m: Tq, n: D, k: Tk, alpha: scale, a: dsl, lda: Tk,
                               b: k + b * Tk * C + h * D, ldb: C, beta: 0, c: dq + b * Tq * C + h * D, ldc: C)
                }
                if let dk {
                    BLAS.sgemm(transA: true, transB: false, m: Tk, n: D, k: Tq, alpha: scale, a: dsl, lda: Tk,
                               b: q + b * Tq * C + h * D, ldb: C, beta: 0, c: dk + b * Tk * C + h * D, ldc: C)
                }
            }
        }
    }
}

extension Tensor {
    /// Attention over heads packed in the last axis: `q [B, Tq, H·D]`, `k [B, Tk, H·D]`,
    /// `v [B, Tk, H·Dv]` → `[B, Tq, H·Dv]`, with an optional additive `mask` `[Bm, 1, Qm, Tk]`
    /// (no gradient) and, when `dropout > 0`, dropout on the probabilities drawn from `rng`.
    /// Returns nil when the mask has another shape (use the general path then).
    public static func headAttention(
        q: Tensor, k: Tensor, v: Tensor, heads H: Int, mask: Tensor?, scale: Float,
        dropout: Float = 0, rng: inout SplitMix64
    ) -> Tensor? {
        precondition(q.rank == 3 && k.rank == 3 && v.rank == 3 && q.shape[0] == k.shape[0] && k.shape[0] == v.shape[0]
                     && k.shape[1] == v.shape[1] && q.shape[2] == k.shape[2] && q.shape[2] % H == 0 && v.shape[2] % H == 0,
                     "headAttention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit \(H) heads")
        precondition(dropout >= 0 && dropout < 1, "headAttention: dropout \(dropout) outside [0, 1)")
        let (B, Tq, Tk) = (q.shape[0], q.shape[1], k.shape[1])
        let (D, Dv) = (q.shape[2] / H, v.shape[2] / H)
        var layout: HeadAttentionKernel.Mask?
        if let m = mask {
            guard let l = HeadAttentionKernel.Mask(m, batch: B, queries: Tq, keys: Tk), !m.requiresGrad else { return nil }
            layout = l
        }
        guard B > 0, Tq > 0, Tk > 0, D > 0, Dv > 0 else { return nil }
        if dropout == 0 && Tk >= BlockedAttentionKernel.minimumKeys && BlockedAttentionKernel.enabled {
            return blockedHeadAttention(q: q, k: k, v: v, mask: layout, shape: BlockedAttentionKernel.Geometry(
                B: B, H: H, Tq: Tq, Tk: Tk, D: D, Dv: Dv, scale: scale,
                maskBatchStride: layout?.batchStride ?? 0, maskRowStride: layout?.rowStride ?? 0),
                saveProbabilities: BlockedAttentionKernel.saveProbabilities)
        }
        let seed = dropout > 0 ? rng.next() : 0
        let n = B * H * Tq * Tk
        var probs = uninitializedFloats(n)
        var keep = [UInt8](repeating: 0, count: dropout > 0 ? n : 0)
        var out = uninitializedFloats(B * Tq * H * Dv)
        do {
            var dropped = uninitializedFloats(dropout > 0 ? n : 0)
            withConstPointers([q.storage, k.storage, v.storage, layout?.values]) { p in
                probs.withUnsafeMutableBufferPointer { pr in
                    out.withUnsafeMutableBufferPointer { o in
                        dropped.withUnsafeMutableBufferPointer { dr in
                            keep.withUnsafeMutableBufferPointer { kp in
                                HeadAttentionKernel.forward(
                                    out: o.baseAddress!, probs: pr.baseAddress!, dropped: dropout > 0 ? dr.baseAddress : nil,
                                    keep: dropout > 0 ? kp.baseAddress : nil,
                                    q: p[0]!.base, k: p[1]!.base, v: p[2]!.base, mask: p[3]?.base,
                                    maskBatchStride: layout?.batchStride ?? 0, maskRowStride: layout?.rowStride ?? 0,
                                    B: B, H: H, Tq: Tq, Tk: Tk, D: D, Dv: Dv, scale: scale, dropout: dropout, seed: seed)
                            }
                        }
                    }
                }
            }
        }
        return Tensor(out, shape: [B, Tq, H * Dv]).recording("head_attention", [q, k, v]) { g in
            var dq = uninitializedFloats(q.requiresGrad ? q.count : 0)
            var dk = uninitializedFloats(k.requiresGrad ? k.count : 0)
            var dv = uninitializedFloats(v.requiresGrad ? v.count : 0)
            var scratch = uninitializedFloats(n)
            withConstPointers([g, q.storage, k.storage, v.storage, probs]) { p in
                withMutablePointers(&dq, &dk, &dv) { dqp, dkp, dvp in
                    scratch.withUnsafeMutableBufferPointer { s in
                        keep.withUnsafeBufferPointer { kp in
                            HeadAttentionKernel.backward(
                                dq: dqp?.base, dk: dkp?.base, dv: dvp?.base, scratch: s.baseAddress!, dout: p[0]!.base,
                                q: p[1]!.base, k: p[2]!.base, v: p[3]!.base, probs: p[4]!.base, keep: dropout > 0 ? kp.baseAddress : nil,
                                B: B, H: H, Tq: Tq, Tk: Tk, D: D, Dv: Dv, scale: scale, dropout: dropout)
                        }
                    }
                }
            }
            if q.requiresGrad { q.accumulateGrad(dq) }
            if k.requiresGrad { k.accumulateGrad(dk) }
            if v.requiresGrad { v.accumulateGrad(dv) }
        }
    }
}

extension Tensor {
    /// `headAttention` without dropout, always through `BlockedAttentionKernel` (whatever the
    /// sequence length; `headAttention` itself picks it from `minimumKeys` keys on). Nothing of size
    /// `[B, H, Tq, Tk]` is kept for the backward unless `saveProbabilities`. Returns nil when the
    /// mask is not of the `[Bm, 1, Qm, Tk]` family or requires a gradient.
    public static func blockedHeadAttention(
        q: Tensor, k: Tensor, v: Tensor, heads H: Int, mask: Tensor?, scale: Float,
        saveProbabilities: Bool = BlockedAttentionKernel.saveProbabilities
    ) -> Tensor? {
        precondition(q.rank == 3 && k.rank == 3 && v.rank == 3 && q.shape[0] == k.shape[0] && k.shape[0] == v.shape[0]
                     && k.shape[1] == v.shape[1] && q.shape[2] == k.shape[2] && q.shape[2] % H == 0 && v.shape[2] % H == 0,
                     "blockedHeadAttention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit \(H) heads")
        let (B, Tq, Tk) = (q.shape[0], q.shape[1], k.shape[1])
        let (D, Dv) = (q.shape[2] / H, v.shape[2] / H)
        var layout: HeadAttentionKernel.Mask?
        if let m = mask {
            guard let l = HeadAttentionKernel.Mask(m, batch: B, queries: Tq, keys: Tk), !m.requiresGrad else { return nil }
            layout = l
        }
        guard B > 0, Tq > 0, Tk > 0, D > 0, Dv > 0 else { return nil }
        return blockedHeadAttention(q: q, k: k, v: v, mask: layout, shape: BlockedAttentionKernel.Geometry(
            B: B, H: H, Tq: Tq, Tk: Tk, D: D, Dv: Dv, scale: scale,
            maskBatchStride: layout?.batchStride ?? 0, maskRowStride: layout?.rowStride ?? 0), saveProbabilities: saveProbabilities)
    }

    static func blockedHeadAttention(
        q: Tensor, k: Tensor, v: Tensor, mask: HeadAttentionKernel.Mask?, shape g: BlockedAttentionKernel.Geometry,
        saveProbabilities: Bool
    ) -> Tensor {
        let training = Tensor.shouldRecord([q, k, v])
        let rows = g.B * g.H * g.Tq
        let keepProbs = training && saveProbabilities
        var rowMax = uninitializedFloats(training && !keepProbs ? rows : 0)
        var rowInv = uninitializedFloats(training && !keepProbs ? rows : 0)
        var probs = uninitializedFloats(keepProbs ? rows * g.Tk : 0)
        var out = uninitializedFloats(g.B * g.Tq * g.Cv)
        withConstPointers([q.storage, k.storage, v.storage, mask?.values]) { p in
            withMutablePointers(&rowMax, &rowInv, &probs) { mx, iv, pr in
                out.withUnsafeMutableBufferPointer { o in
                    BlockedAttentionKernel.forward(out: o.baseAddress!, rowMax: mx?.base, rowInv: iv?.base, probs: pr?.base,
                                                   q: p[0]!.base, k: p[1]!.base, v: p[2]!.base, mask: p[3]?.base, shape: g)
                }
            }
        }
        return Tensor(out, shape: [g.B, g.Tq, g.Cv]).recording("blocked_attention", [q, k, v]) { grad in
            var dq = uninitializedFloats(q.requiresGrad ? q.count : 0)
            var dk = uninitializedFloats(k.requiresGrad ? k.count : 0)
            var dv = uninitializedFloats(v.requiresGrad ? v.count : 0)
            withConstPointers([grad, q.storage, k.storage, v.storage, mask?.values, probs, rowMax, rowInv]) { p in
                withMutablePointers(&dq, &dk, &dv) { dqp, dkp, dvp in
                    BlockedAttentionKernel.backward(
                        dq: dqp?.base, dk: dkp?.base, dv: dvp?.base, dout: p[0]!.base, q: p[1]!.base, k: p[2]!.base, v: p[3]!.base,
                        mask: p[4]?.base, probs: p[5]?.base, rowMax: p[6]?.base, rowInv: p[7]?.base, shape: g)
                }
            }
            if q.requiresGrad { q.accumulateGrad(dq) }
            if k.requiresGrad { k.accumulateGrad(dk) }
            if v.requiresGrad { v.accumulateGrad(dv) }
        }
    }
}

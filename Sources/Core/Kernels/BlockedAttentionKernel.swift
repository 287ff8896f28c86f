import Foundation

/// Row-blocked ("flash-style") multi-head attention for long sequences, in the layout of
/// `HeadAttentionKernel` (`q [B, Tq, H·D]`, `k [B, Tk, H·D]`, `v [B, Tk, H·Dv]`, heads read in
/// place) without dropout.
///
/// The plain kernel writes all `[B, H, Tq, Tk]` scores, normalises them, then multiplies by V:
/// for AST-base at batch 2 (1214 tokens) that is a 141 MB buffer per layer, written by one GEMM,
/// read and rewritten by the softmax pass and read again by the next GEMM, far larger than any
/// cache. Here each work item is one block of `R` query rows of one (batch, head):
///
///     S = scale·Q_blk·Kᵀ + mask     [R, Tk]   (in a per-worker scratch block that stays in L2)
///     P = softmax(S) row by row      (the row maximum m and 1/Σ are kept: 2 floats per row)
///     O_blk = P·V                    written into the output at the head's columns
///
/// The backward pass works per (batch, head) and walks its query blocks, either recomputing a
/// block's P from Q, K, the mask and the saved (m, 1/Σ) — bit-identical to the forward's P, since
/// the same GEMM call and the same arithmetic produce it — or reading the P the forward saved
/// (`saveProbabilities`). Per block, with dO_blk the output gradient rows:
///
///     dV += P_blkᵀ·dO_blk,  dP = dO_blk·Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),
///     dQ_blk = scale·dS·K,  dK += scale·dSᵀ·Q_blk
///
/// Recomputing costs one extra `R×Tk×D` GEMM per block (1/5 more attention GEMM work in the
/// backward) and saves the `[B, H, Tq, Tk]` buffer; keeping P is the default (see
/// `saveProbabilities`). Inference keeps nothing of size `[B, H, Tq, Tk]` either way.
///
/// Threading: work items (forward: query blocks; backward: heads, since dK/dV accumulate over a
/// head's blocks) run on our workers, each calling single-threaded `sgemm` on its own slice
/// (`BLAS.withSingleThread`), as PyTorch's CPU attention does. The small per-block products would
/// not keep two OpenBLAS threads busy.
public enum BlockedAttentionKernel {
    /// Query rows per block. 64 rows × 1500 keys × 4 B = 384 KB per scores block (two blocks
    /// in the backward), so a block stays in a 1 MB L2 between the GEMM, the softmax and the next GEMM.
    public static let blockRows = 64

    /// Keys from which `Tensor.headAttention` uses this kernel. Below it the plain kernel's
    /// `[B, H, Tq, Tk]` buffers are small enough to stay in cache (ViT-S: 197 tokens).
    public static let minimumKeys = 384

    /// `PEFTKIT_BLOCKED_ATTENTION=0` switches the blocked path off (A/B comparisons).
    public static let enabled: Bool = ProcessInfo.processInfo.environment["PEFTKIT_BLOCKED_ATTENTION"] != "0"

    /// Whether training keeps the probabilities (default) or recomputes them in the backward
    /// (`PEFTKIT_ATTENTION_SAVE_PROBS=0`: saves the `[B, H, Tq, Tk]` buffer, as much memory as the
    /// plain kernel keeps). Measured on the Whisper-tiny encoder (1500 tokens, 1 thread, CPU time
    /// per training step): keeping 0.85 s, recomputing 0.89–0.92 s, plain kernel 0.86–0.87 s, so
    /// the recomputed GEMM costs more than the memory traffic it saves on this machine.
    public static let saveProbabilities: Bool = ProcessInfo.processInfo.environment["PEFTKIT_ATTENTION_SAVE_PROBS"] != "0"

    /// Geometry shared by forward and backward.
    @usableFromInline
    struct Geometry: Sendable {
        let B: Int, H: Int, Tq: Int, Tk: Int, D: Int, Dv: Int
        let scale: Float
        let maskBatchStride: Int, maskRowStride: Int
        var C: Int { H * D }
        var Cv: Int { H * Dv }
        var blocks: Int { (Tq + BlockedAttentionKernel.blockRows - 1) / BlockedAttentionKernel.blockRows }
    }

    /// Scores of rows `i0..<i0+r` of head (b, h) with the mask added: `s [r, Tk]`.
    @inline(__always)
    static func scores(
        _ s: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
        b: Int, h: Int, i0: Int, r: Int, _ g: Geometry, _ gemm: SingleThreadGEMM
    ) {
        gemm.sgemm(transA: false, transB: true, m: r, n: g.Tk, k: g.D, alpha: g.scale, a: q + (b * g.Tq + i0) * g.C + h * g.D, lda: g.C,
                   b: k + b * g.Tk * g.C + h * g.D, ldb: g.C, beta: 0, c: s, ldc: g.Tk)
        guard let mask else { return }
        for i in 0..<r {
            let row = s + i * g.Tk, mrow = mask + b * g.maskBatchStride + (i0 + i) * g.maskRowStride
            for j in 0..<g.Tk { row[j] += mrow[j] }
        }
    }

    /// Forward. `rowMax`/`rowInv` `[B, H, Tq]` receive each row's maximum and 1/Σ (nil: not
    /// needed, inference); `probs` `[B, H, Tq, Tk]` receives P when the caller keeps it.
    static func forward(
        out: UnsafeMutablePointer<Float>, rowMax: UnsafeMutablePointer<Float>?, rowInv: UnsafeMutablePointer<Float>?,
        probs: UnsafeMutablePointer<Float>?,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
        shape g: Geometry
    ) {
        let R = blockRows, Tk = g.Tk
        let os = SendablePointer(out), qs = SendableConstPointer(q), ks = SendableConstPointer(k), vs = SendableConstPointer(v)
        let ms = mask.map { SendableConstPointer($0) }
        let mx = rowMax.map { SendablePointer($0) }, iv = rowInv.map { SendablePointer($0) }
        let ps = probs.map { SendablePointer($0) }
        let items = g.B * g.H * g.blocks
        BLAS.withSingleThread { gemm in
            parallelChunks(items, costPerItem: R * Tk * (2 * g.D + 2 * g.Dv + 24)) { range in
                var scratch = uninitializedFloats(ps == nil ? R * Tk : 0)
                scratch.withUnsafeMutableBufferPointer { sb in
                    for item in range {
                        let bh = item / g.blocks, blk = item % g.blocks
                        let b = bh / g.H, h = bh % g.H
                        let i0 = blk * R, r = Swift.min(R, g.Tq - i0)
                        let s = ps.map { $0.base + (bh * g.Tq + i0) * Tk } ?? sb.baseAddress!
                        scores(s, q: qs.base, k: ks.base, mask: ms?.base, b: b, h: h, i0: i0, r: r, g, gemm)
                        for i in 0..<r {
                            let row = s + i * Tk
                            let m = VectorMath.maximum(row, Tk)
                            var inv: Float = 0
                            if m == -.infinity {
                                for j in 0..<Tk { row[j] = 0 }
                            } else {
                                for j in 0..<Tk { row[j] = VectorMath.expNonPositive(row[j] - m) }
                                inv = 1 / VectorMath.sum(row, Tk)
                                for j in 0..<Tk { row[j] *= inv }
                            }
                            mx?.base[bh * g.Tq + i0 + i] = m
                            iv?.base[bh * g.Tq + i0 + i] = inv
                        }
                        gemm.sgemm(transA: false, transB: false, m: r, n: g.Dv, k: Tk, a: s, lda: Tk,
                                   b: vs.base + b * Tk * g.Cv + h * g.Dv, ldb: g.Cv,
                                   beta: 0, c: os.base + (b * g.Tq + i0) * g.Cv + h * g.Dv, ldc: g.Cv)
                    }
                }
            }
        }
    }

    /// Backward; nil outputs are skipped. P comes from `probs` when given, else it is recomputed
    /// from `rowMax`/`rowInv` (then both must be given).
    static func backward(
        dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?,
        dout: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        mask: UnsafePointer<Float>?, probs: UnsafePointer<Float>?, rowMax: UnsafePointer<Float>?, rowInv: UnsafePointer<Float>?,
        shape g: Geometry
    ) {
        precondition(probs != nil || (rowMax != nil && rowInv != nil), "BlockedAttentionKernel.backward: no probabilities and no row statistics")
        let R = blockRows, Tk = g.Tk
        let dqs = dq.map { SendablePointer($0) }, dks = dk.map { SendablePointer($0) }, dvs = dv.map { SendablePointer($0) }
        let gs = SendableConstPointer(dout), qs = SendableConstPointer(q), ks = SendableConstPointer(k), vs = SendableConstPointer(v)
        let ms = mask.map { SendableConstPointer($0) }, ps = probs.map { SendableConstPointer($0) }
        let mx = rowMax.map { SendableConstPointer($0) }, iv = rowInv.map { SendableConstPointer($0) }
        let needScores = dq != nil || dk != nil
        let cost = g.Tq * Tk * (4 * g.D + 4 * g.Dv + 24)
        BLAS.withSingleThread { gemm in
            parallelChunks(g.B * g.H, costPerItem: cost) { range in
                var pScratch = uninitializedFloats(ps == nil ? R * Tk : 0)
                var dScratch = uninitializedFloats(needScores ? R * Tk : 0)
                pScratch.withUnsafeMutableBufferPointer { pb in
                    dScratch.withUnsafeMutableBufferPointer { db in
                        for bh in range {
                            let b = bh / g.H, h = bh % g.H
                            for blk in 0..<g.blocks {
                                let i0 = blk * R, r = Swift.min(R, g.Tq - i0)
                                let p: UnsafePointer<Float>
                                if let ps {
                                    p = ps.base + (bh * g.Tq + i0) * Tk
                                } else {
                                    let s = pb.baseAddress!
                                    scores(s, q: qs.base, k: ks.base, mask: ms?.base, b: b, h: h, i0: i0, r: r, g, gemm)
                                    for i in 0..<r {
                                        let row = s + i * Tk
                                        let m = mx!.base[bh * g.Tq + i0 + i], inv = iv!.base[bh * g.Tq + i0 + i]
                                        if m == -.infinity {
                                            for j in 0..<Tk { row[j] = 0 }
                                        } else {
                                            // The forward's two passes, so P is bit-identical.
                                            for j in 0..<Tk { row[j] = VectorMath.expNonPositive(row[j] - m) }
                                            for j in 0..<Tk { row[j] *= inv }
                                        }
                                    }
                                    p = UnsafePointer(s)
                                }
                                let dO = gs.base + (b * g.Tq + i0) * g.Cv + h * g.Dv
                                let beta: Float = blk == 0 ? 0 : 1
                                if let dvs {
                                    gemm.sgemm(transA: true, transB: false, m: Tk, n: g.Dv, k: r, a: p, lda: Tk, b: dO, ldb: g.Cv,
                                               beta: beta, c: dvs.base + b * Tk * g.Cv + h * g.Dv, ldc: g.Cv)
                                }
                                guard needScores else { continue }
                                let d = db.baseAddress!
                                gemm.sgemm(transA: false, transB: true, m: r, n: Tk, k: g.Dv, a: dO, lda: g.Cv,
                                           b: vs.base + b * Tk * g.Cv + h * g.Dv, ldb: g.Cv, beta: 0, c: d, ldc: Tk)
                                for i in 0..<r { VectorMath.softmaxBackwardRow(d + i * Tk, d + i * Tk, p + i * Tk, Tk) }
                                if let dqs {
                                    gemm.sgemm(transA: false, transB: false, m: r, n: g.D, k: Tk, alpha: g.scale, a: d, lda: Tk,
                                               b: ks.base + b * Tk * g.C + h * g.D, ldb: g.C,
                                               beta: 0, c: dqs.base + (b * g.Tq + i0) * g.C + h * g.D, ldc: g.C)
                                }
                                if let dks {
                                    gemm.sgemm(transA: true, transB: false, m: Tk, n: g.D, k: r, alpha: g.scale, a: d, lda: Tk,
                                               b: qs.base + (b * g.Tq + i0) * g.C + h * g.D, ldb: g.C,
                                               beta: beta, c: dks.base + b * Tk * g.C + h * g.D, ldc: g.C)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

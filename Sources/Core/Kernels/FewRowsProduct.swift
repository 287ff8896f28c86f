/// `C[m, n] = A[m, k] · B[n, k]ᵀ` for a few rows m and a large B (a decoder step's output
/// projection: m hypotheses against the whole vocabulary), as one `sgemv` per row of A over
/// L2-sized blocks of B's rows.
///
/// Why not one `sgemm`: OpenBLAS 0.3.21 packs all of B before its kernel runs, and with a handful
/// of rows the kernel fills a fraction of its tile. For Whisper tiny's output projection (B = the
/// `[51864, 384]` token embedding, 80 MB, read once per decoding step) one thread measured, in C
/// against the same library on this machine: 5 rows 7.9–8.2 ms by sgemm, 2.9–3.3 ms for a single
/// row by sgemv. Here B is walked in blocks of about 192 KB: the first row's sgemv brings a block
/// into L2 and the other rows read it from there (about 0.7 ms per extra row), 6.1–6.5 ms for 5
/// rows. From 7–8 rows on sgemm is faster again (8 rows: 8.7 against 7.2–7.4 ms), hence
/// `maximumRows`.
///
/// Row i of C is a function of row i of A and B only: every output is one dot product computed by
/// one single-threaded sgemv call over a block, so a row's values do not depend on how many rows
/// are computed together or on the thread count (blocks, not rows, are split across our workers).
/// Beam search and batched greedy decoding therefore give each hypothesis the logits a one-row
/// step would give it.
public enum FewRowsProduct {
    /// Most rows for which `multiply` beats one `sgemm` (see the type's comment).
    public static let maximumRows = 6

    /// Rows of B per block: about 48 Ki floats (192 KB), well inside a 512 KB–1 MB L2 together
    /// with the rows of A and C.
    public static func blockRows(k: Int) -> Int { Swift.max(8, 49_152 / Swift.max(k, 1)) }

    /// C = A·Bᵀ with row-major A `[m, k]` (row stride `lda`), B `[n, k]` (stride `ldb`) and C
    /// `[m, n]` (stride `ldc`); C is overwritten. Any m works; the speed argument holds for
    /// m ≤ `maximumRows`.
    public static func multiply(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m <= 0 || n <= 0 { return }
        let block = blockRows(k: k)
        let blocks = (n + block - 1) / block
        let (ap, bp, cp) = (SendableConstPointer(a), SendableConstPointer(b), SendablePointer(c))
        BLAS.withSingleThread { gemm in
            parallelChunks(blocks, costPerItem: m * block * Swift.max(k, 1)) { range in
                for blk in range {
                    let j0 = blk * block, rows = Swift.min(block, n - j0)
                    for i in 0..<m {
                        // m = 1: BLAS routes it to sgemv (no packing), reading the block in place.
                        gemm.sgemm(transA: false, transB: true, m: 1, n: rows, k: k, a: ap.base + i * lda, lda: lda,
                                   b: bp.base + j0 * ldb, ldb: ldb, beta: 0, c: cp.base + i * ldc + j0, ldc: ldc)
                    }
                }
            }
        }
    }

    /// `x [..., k]` times `weight [n, k]`ᵀ without autograd: `[rows · n]` row-major, where rows is
    /// the product of x's leading dimensions.
    public static func multiply(_ x: Tensor, weight: Tensor) -> [Float] {
        let k = weight.shape[1], n = weight.shape[0]
        precondition(weight.rank == 2 && x.shape.last == k, "FewRowsProduct: \(x.shape) · \(weight.shape)ᵀ")
        let m = x.shape.dropLast().reduce(1, *)
        if m == 0 || n == 0 { return [] }
        if k == 0 { return [Float](repeating: 0, count: m * n) }
        return makeBuffer(m * n) { out in
            x.storage.withUnsafeBufferPointer { xs in
                weight.storage.withUnsafeBufferPointer { ws in
                    multiply(m: m, n: n, k: k, a: xs.baseAddress!, lda: k, b: ws.baseAddress!, ldb: k,
                             c: out.base, ldc: n)
                }
            }
        }
    }
}

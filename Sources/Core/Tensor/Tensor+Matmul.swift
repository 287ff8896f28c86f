/// Matrix products through `BLAS.sgemm` (the only GEMM path in PEFTKit).
extension Tensor {
    /// Batched matrix product: `a [..., M, K] · b [..., K, N] → [..., M, N]`, batch axes broadcast.
    /// A 2-D `b` is applied to every row of `a` in one GEMM.
    public func matmul(_ b: Tensor) -> Tensor {
        let a = self
        precondition(a.rank >= 2 && b.rank >= 2, "matmul: needs rank ≥ 2, got \(a.shape) and \(b.shape)")
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
        let k2 = b.shape[b.rank - 2], n = b.shape[b.rank - 1]
        precondition(k == k2, "matmul: inner sizes differ: \(a.shape) · \(b.shape)")
        if b.rank == 2 {
            // Fold a's batch axes into M: a single GEMM.
            let rows = a.count / Swift.max(k, 1)
            var out = uninitializedFloats(rows * n)
            Tensor.gemm(false, false, rows, n, k, a.storage, b.storage, &out, beta: 0)
            let outShape = Array(a.shape.dropLast()) + [n]
            return Tensor(out, shape: outShape).recording("matmul", [a, b]) { g in
                if a.requiresGrad {  // dA = g · Bᵀ
                    var ga = uninitializedFloats(a.count)
                    Tensor.gemm(false, true, rows, k, n, g, b.storage, &ga, beta: 0)
                    a.accumulateGrad(ga)
                }
                if b.requiresGrad {  // dB = Aᵀ · g
                    var gb = uninitializedFloats(b.count)
                    Tensor.gemm(true, false, k, n, rows, a.storage, g, &gb, beta: 0)
                    b.accumulateGrad(gb)
                }
            }
        }
        let batch = Shape.broadcast(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        let ae = a.expand(to: batch + [m, k]).detachedIfCopy(of: a)
        let be = b.expand(to: batch + [k, n]).detachedIfCopy(of: b)
        let nb = batch.reduce(1, *)
        var out = uninitializedFloats(nb * m * n)
        Tensor.batchedGemm(nb, false, false, m, n, k, ae.storage, be.storage, &out)
        let outShape = batch + [m, n]
        return Tensor(out, shape: outShape).recording("matmul", [a, b]) { g in
            if a.requiresGrad {
                var ga = uninitializedFloats(nb * m * k)
                Tensor.batchedGemm(nb, false, true, m, k, n, g, be.storage, &ga)
                a.accumulateGrad(Shape.reduceGrad(ga, from: batch + [m, k], to: a.shape))
            }
            if b.requiresGrad {
                var gb = uninitializedFloats(nb * k * n)
                Tensor.batchedGemm(nb, true, false, k, n, m, ae.storage, g, &gb)
                b.accumulateGrad(Shape.reduceGrad(gb, from: batch + [k, n], to: b.shape))
            }
        }
    }

    /// Raw values of an expanded copy (no graph edge back to the source).
    private func detachedIfCopy(of source: Tensor) -> Tensor { self === source ? source : detached() }

    /// `x [..., in] · Wᵀ + bias` with `weight [out, in]` as stored by PyTorch's `nn.Linear`.
    /// Gradients are computed only for inputs that require them: a frozen W costs no dW GEMM.
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let x = self
        precondition(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
        let outF = weight.shape[0], inF = weight.shape[1]
        precondition(x.shape.last == inF, "linear: input \(x.shape) does not end in \(inF) (weight \(weight.shape))")
        if let b = bias { precondition(b.shape == [outF], "linear: bias \(b.shape) must be [\(outF)]") }
        let rows = x.count / Swift.max(inF, 1)
        // Every element is written: by the bias copy (then GEMM accumulates), or by GEMM with beta 0.
        var out = uninitializedFloats(rows * outF)
        if let b = bias {
            // Pre-fill with the bias and let GEMM accumulate (beta = 1): no second pass.
            out.withUnsafeMutableBufferPointer { o in
                b.storage.withUnsafeBufferPointer { bv in
                    for r in 0..<rows { (o.baseAddress! + r * outF).update(from: bv.baseAddress!, count: outF) }
                }
            }
        }
        Tensor.gemm(false, true, rows, outF, inF, x.storage, weight.storage, &out, beta: bias == nil ? 0 : 1)
        let outShape = Array(x.shape.dropLast()) + [outF]
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor(out, shape: outShape).recording("linear", inputs) { g in
            if x.requiresGrad {  // dX = g · W
                var gx = uninitializedFloats(x.count)
                Tensor.gemm(false, false, rows, inF, outF, g, weight.storage, &gx, beta: 0)
                x.accumulateGrad(gx)
            }
            if weight.requiresGrad {  // dW = gᵀ · X
                var gw = uninitializedFloats(weight.count)
                Tensor.gemm(true, false, outF, inF, rows, g, x.storage, &gw, beta: 0)
                weight.accumulateGrad(gw)
            }
            if let b = bias, b.requiresGrad {
                var gb = [Float](repeating: 0, count: outF)
                g.withUnsafeBufferPointer { gp in
                    gb.withUnsafeMutableBufferPointer { bp in
                        for r in 0..<rows { for j in 0..<outF { bp[j] += gp[r * outF + j] } }
                    }
                }
                b.accumulateGrad(gb)
            }
        }
    }

    /// C = op(A)·op(B) (+ C when beta = 1) on contiguous row-major buffers.
    static func gemm(
        _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ a: [Float], _ b: [Float], _ c: inout [Float], beta: Float
    ) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    BLAS.sgemm(
                        transA: ta, transB: tb, m: m, n: n, k: k, a: ap.baseAddress!, lda: ta ? m : k,
                        b: bp.baseAddress!, ldb: tb ? k : n, beta: beta, c: cp.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// `count` independent GEMMs over consecutive blocks of A, B and C.
    static func batchedGemm(
        _ count: Int, _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ a: [Float], _ b: [Float], _ c: inout [Float]
    ) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    for i in 0..<count {
                        BLAS.sgemm(
                            transA: ta, transB: tb, m: m, n: n, k: k, a: ap.baseAddress! + i * m * k, lda: ta ? m : k,
                            b: bp.baseAddress! + i * k * n, ldb: tb ? k : n, beta: 0,
                            c: cp.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
    }
}

/// A buffer of `n` floats left uninitialised, for results that a GEMM with beta = 0 (or a copy)
/// overwrites completely: zero-filling first would cost a pass over memory plus page faults.
/// A count of 0 returns `[]`: building an empty array with `unsafeUninitializedCapacity` writes
/// the count into the process-wide empty-array storage, which ThreadSanitizer reports as a race
/// when kernels on several threads do it at once.
@inline(__always)
func uninitializedFloats(_ n: Int) -> [Float] {
    if n == 0 { return [] }
    return [Float](unsafeUninitializedCapacity: n) { _, c in c = n }
}

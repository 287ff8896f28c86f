/// Fused LayerNorm over the last axis: a forward/backward pair on raw buffers (llm.c style),
/// wrapped as one autograd node by `Tensor.layerNormFused`.
///
/// Statistics are computed in Float with two passes (mean, then Σ(x − μ)²), which stays
/// accurate when |μ| is large compared with σ, unlike the one-pass E[x²] − μ² form.
/// The variance is the biased one (divide by C), as `torch.nn.LayerNorm`.
public enum LayerNormKernel {
    // MARK: - Forward / backward pair

    /// out = (x − μ) · rstd · w + b per row; also writes μ and rstd = 1/√(σ² + eps) for backward.
    @inlinable
    public static func forward(
        out: UnsafeMutablePointer<Float>,   // [N, C]
        mean: UnsafeMutablePointer<Float>,  // [N]
        rstd: UnsafeMutablePointer<Float>,  // [N]
        x: UnsafePointer<Float>,            // [N, C]
        weight: UnsafePointer<Float>?,      // [C] or nil (γ = 1)
        bias: UnsafePointer<Float>?,        // [C] or nil (β = 0)
        rows: Range<Int>, C: Int, eps: Float
    ) {
        let invC = 1 / Float(C)
        for r in rows {
            let xr = x + r * C, yr = out + r * C
            var m: Float = 0
            for i in 0..<C { m += xr[i] }
            m *= invC
            var v: Float = 0
            for i in 0..<C {
                let d = xr[i] - m
                v += d * d
            }
            v *= invC
            let s = 1 / (v + eps).squareRoot()
            switch (weight, bias) {
            case let (w?, b?): for i in 0..<C { yr[i] = (xr[i] - m) * s * w[i] + b[i] }
            case let (w?, nil): for i in 0..<C { yr[i] = (xr[i] - m) * s * w[i] }
            case let (nil, b?): for i in 0..<C { yr[i] = (xr[i] - m) * s + b[i] }
            case (nil, nil): for i in 0..<C { yr[i] = (xr[i] - m) * s }
            }
            mean[r] = m
            rstd[r] = s
        }
    }

    /// Backward over `rows`. With x̂ = (x − μ)·rstd and g = dout · w:
    ///   dbias   += Σ_rows dout                      (bias enters additively)
    ///   dweight += Σ_rows dout · x̂                  (weight scales x̂)
    ///   dx       = rstd · (g − mean(g) − x̂ · mean(g · x̂))
    /// The last line is the chain rule through μ (the mean(g) term) and through σ (the x̂ term).
    /// `dx` is overwritten; `dweight`/`dbias` accumulate (+=), so a caller can give each thread its own.
    @inlinable
    public static func backward(
        dx: UnsafeMutablePointer<Float>?,       // [N, C] or nil when x is frozen
        dweight: UnsafeMutablePointer<Float>?,  // [C] or nil
        dbias: UnsafeMutablePointer<Float>?,    // [C] or nil
        dout: UnsafePointer<Float>,             // [N, C]
        x: UnsafePointer<Float>,                // [N, C]
        weight: UnsafePointer<Float>?,          // [C] or nil
        mean: UnsafePointer<Float>,             // [N]
        rstd: UnsafePointer<Float>,             // [N]
        rows: Range<Int>, C: Int
    ) {
        let invC = 1 / Float(C)
        for r in rows {
            let xr = x + r * C, gr = dout + r * C
            let m = mean[r], s = rstd[r]
            if let db = dbias { for i in 0..<C { db[i] += gr[i] } }
            if let dw = dweight { for i in 0..<C { dw[i] += gr[i] * (xr[i] - m) * s } }
            guard let dxr = dx.map({ $0 + r * C }) else { continue }
            // Two row means of g = dout·w: mean(g) and mean(g·x̂).
            var meanG: Float = 0, meanGX: Float = 0
            if let w = weight {
                for i in 0..<C {
                    let g = gr[i] * w[i]
                    meanG += g
                    meanGX += g * (xr[i] - m) * s
                }
            } else {
                for i in 0..<C {
                    meanG += gr[i]
                    meanGX += gr[i] * (xr[i] - m) * s
                }
            }
            meanG *= invC
            meanGX *= invC
            if let w = weight {
                for i in 0..<C { dxr[i] = s * (gr[i] * w[i] - meanG - (xr[i] - m) * s * meanGX) }
            } else {
                for i in 0..<C { dxr[i] = s * (gr[i] - meanG - (xr[i] - m) * s * meanGX) }
            }
        }
    }
}

// MARK: - Autograd wrapper

extension Tensor {
    /// LayerNorm over the last axis as one autograd node (see `LayerNormKernel`).
    /// `weight`/`bias` must be `[C]`; gradients are computed only for inputs that require them.
    public func layerNormFused(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let x = self
        precondition(rank >= 1, "layerNorm: input must have at least one axis, got a scalar")
        let C = shape[rank - 1]
        if let w = weight { precondition(w.shape == [C], "layerNorm: weight \(w.shape) must be [\(C)] for input \(shape)") }
        if let b = bias { precondition(b.shape == [C], "layerNorm: bias \(b.shape) must be [\(C)] for input \(shape)") }
        if count == 0 { return layerNormComposed(weight: weight, bias: bias, eps: eps) }
        let N = count / C
        // stats: μ in [0, N), rstd in [N, 2N); kept for the backward pass.
        var stats = [Float](repeating: 0, count: 2 * N)
        var out = [Float](repeating: 0, count: N * C)
        var unused: [Float] = []
        withConstPointers([x.storage, weight?.storage, bias?.storage]) { p in
            withMutablePointers(&out, &stats, &unused) { o, st, _ in
                parallelChunks(N, costPerItem: 4 * C) { rows in
                    LayerNormKernel.forward(
                        out: o!.base, mean: st!.base, rstd: st!.base + N, x: p[0]!.base,
                        weight: p[1]?.base, bias: p[2]?.base, rows: rows, C: C, eps: eps)
                }
            }
        }
        let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
        return Tensor(out, shape: shape).recording("layer_norm", inputs) { g in
            let needX = x.requiresGrad, needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
            // Each row block accumulates its own dweight/dbias row; the rows are summed afterwards,
            // so no two threads ever add into the same buffer.
            let blocks = reductionBlocks(rows: N, work: 6 * N * C)
            var dx = [Float](repeating: 0, count: needX ? N * C : 0)
            var dw = [Float](repeating: 0, count: needW ? blocks * C : 0)
            var db = [Float](repeating: 0, count: needB ? blocks * C : 0)
            withConstPointers([g, x.storage, weight?.storage, stats]) { p in
                withMutablePointers(&dx, &dw, &db) { dxp, dwp, dbp in
                    parallelChunks(blocks, costPerItem: Parallelism.minimumWorkPerSplit) { range in
                        for blk in range {
                            LayerNormKernel.backward(
                                dx: dxp?.base, dweight: dwp.map { $0.base + blk * C }, dbias: dbp.map { $0.base + blk * C },
                                dout: p[0]!.base, x: p[1]!.base, weight: p[2]?.base,
                                mean: p[3]!.base, rstd: p[3]!.base + N,
                                rows: blockRange(blk, of: blocks, rows: N), C: C)
                        }
                    }
                }
            }
            if needX { x.accumulateGrad(dx) }
            if needW, let w = weight { w.accumulateGrad(sumBlocks(dw, blocks: blocks, width: C)) }
            if needB, let b = bias { b.accumulateGrad(sumBlocks(db, blocks: blocks, width: C)) }
        }
    }
}

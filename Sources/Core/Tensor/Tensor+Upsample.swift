/// Bilinear resizing of feature maps with a backward rule, as PyTorch's
/// `F.interpolate(x, size:, mode="bilinear", align_corners=False)` (no antialias): output pixel
/// centres map to `src = (dst + 0.5)·in/out − 0.5`, clamped at 0, and read the two nearest
/// source rows/columns with linear weights (the far one clamped at the border).
extension Tensor {
    /// Per-axis sampling table: for every output index, the two source indices and the weight
    /// of the second one.
    struct BilinearAxis {
        let low: [Int], high: [Int], weight: [Float]

        init(inSize: Int, outSize: Int) {
            let scale = Float(inSize) / Float(outSize)
            var low = [Int](repeating: 0, count: outSize), high = low
            var weight = [Float](repeating: 0, count: outSize)
            for o in 0..<outSize {
                let src = Swift.max(0, (Float(o) + 0.5) * scale - 0.5)
                let i0 = Swift.min(Int(src), inSize - 1)
                low[o] = i0
                high[o] = Swift.min(i0 + 1, inSize - 1)
                weight[o] = src - Float(i0)
            }
            self.low = low
            self.high = high
            self.weight = weight
        }
    }

    /// `[B, C, H, W]` → `[B, C, height, width]`, bilinear, `align_corners=False`.
    public func upsampledBilinear(height outH: Int, width outW: Int) -> Tensor {
        precondition(rank == 4, "upsampledBilinear: input must be [B, C, H, W], got \(shape)")
        precondition(outH > 0 && outW > 0, "upsampledBilinear: output size \(outH)×\(outW) must be positive")
        let (inH, inW) = (shape[2], shape[3])
        let planes = shape[0] * shape[1]
        if inH == outH && inW == outW { return self * 1 }
        let ay = BilinearAxis(inSize: inH, outSize: outH), ax = BilinearAxis(inSize: inW, outSize: outW)
        // Separable: each source row is first interpolated along x into a scratch plane
        // [inH, outW], then each output row blends two scratch rows (a contiguous, vectorised
        // sweep). Same arithmetic, in the same order, as blending four pixels per output.
        let yLow = ay.low, yHigh = ay.high, yWeight = ay.weight, xLow = ax.low, xHigh = ax.high, xWeight = ax.weight
        let out = withAxisTables(yLow, yHigh, xLow, xHigh) { yl, yh, xl, xh in
            withConstPointers([storage, yWeight, xWeight]) { p in
                makeBuffer(planes * outH * outW) { d in
                    let (srcP, wyP, wxP) = (p[0]!, p[1]!, p[2]!)
                    parallelChunks(planes, costPerItem: (inH + outH) * outW * 3) { range in
                        let (src, wy, wx) = (srcP.base, wyP.base, wxP.base)
                        var scratch = [Float](repeating: 0, count: inH * outW)
                        scratch.withUnsafeMutableBufferPointer { tb in
                            let tmp = tb.baseAddress!
                            for plane in range {
                                let sp = src + plane * inH * inW, dp = d.base + plane * outH * outW
                                for iy in 0..<inH {
                                    let r = sp + iy * inW, t = tmp + iy * outW
                                    for x in 0..<outW {
                                        let (x0, x1) = (xl.base[x], xh.base[x])
                                        t[x] = r[x0] + wx[x] * (r[x1] - r[x0])
                                    }
                                }
                                for y in 0..<outH {
                                    let t0 = tmp + yl.base[y] * outW, t1 = tmp + yh.base[y] * outW, o = dp + y * outW
                                    let w = wy[y]
                                    for x in 0..<outW { o[x] = t0[x] + w * (t1[x] - t0[x]) }
                                }
                            }
                        }
                    }
                }
            }
        }
        let result = Tensor(out, shape: [shape[0], shape[1], outH, outW])
        return result.recording("upsampleBilinear", [self]) { [self] g in
            // The adjoint, in reverse order: spread each output row onto its two scratch rows,
            // then each scratch row onto its source pixels.
            let gx = withAxisTables(yLow, yHigh, xLow, xHigh) { yl, yh, xl, xh in
                withConstPointers([g, yWeight, xWeight]) { p in
                    makeZeroedBuffer(planes * inH * inW) { d in
                        let (gsP, wyP, wxP) = (p[0]!, p[1]!, p[2]!)
                        parallelChunks(planes, costPerItem: (inH + outH) * outW * 4) { range in
                            let (gs, wy, wx) = (gsP.base, wyP.base, wxP.base)
                            var scratch = [Float](repeating: 0, count: inH * outW)
                            scratch.withUnsafeMutableBufferPointer { tb in
                                let tmp = tb.baseAddress!
                                for plane in range {
                                    tmp.update(repeating: 0, count: inH * outW)
                                    let sp = gs + plane * outH * outW, dp = d.base + plane * inH * inW
                                    for y in 0..<outH {
                                        let t0 = tmp + yl.base[y] * outW, t1 = tmp + yh.base[y] * outW, v = sp + y * outW
                                        let w = wy[y]
                                        for x in 0..<outW { t0[x] += v[x] * (1 - w) }
                                        for x in 0..<outW { t1[x] += v[x] * w }
                                    }
                                    for iy in 0..<inH {
                                        let t = tmp + iy * outW, r = dp + iy * inW
                                        for x in 0..<outW {
                                            r[xl.base[x]] += t[x] * (1 - wx[x])
                                            r[xh.base[x]] += t[x] * wx[x]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            self.accumulateGrad(gx)
        }
    }

    /// Read-only pointers to the four index tables of a bilinear resize.
    private func withAxisTables<R>(
        _ a: [Int], _ b: [Int], _ c: [Int], _ d: [Int],
        _ body: (SendableConstPointer<Int>, SendableConstPointer<Int>, SendableConstPointer<Int>, SendableConstPointer<Int>) -> R
    ) -> R {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeBufferPointer { pc in
                    d.withUnsafeBufferPointer { pd in
                        body(SendableConstPointer(pa.baseAddress!), SendableConstPointer(pb.baseAddress!),
                             SendableConstPointer(pc.baseAddress!), SendableConstPointer(pd.baseAddress!))
                    }
                }
            }
        }
    }
}

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
        var out = [Float](repeating: 0, count: planes * outH * outW)
        storage.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = SendableConstPointer(src.baseAddress!), d = SendablePointer(dst.baseAddress!)
                parallelChunks(planes, costPerItem: outH * outW * 8) { range in
                    for p in range {
                        let sp = s.base + p * inH * inW, dp = d.base + p * outH * outW
                        for y in 0..<outH {
                            let r0 = sp + ay.low[y] * inW, r1 = sp + ay.high[y] * inW
                            let wy = ay.weight[y]
                            for x in 0..<outW {
                                let (x0, x1, wx) = (ax.low[x], ax.high[x], ax.weight[x])
                                let top = r0[x0] + wx * (r0[x1] - r0[x0])
                                let bottom = r1[x0] + wx * (r1[x1] - r1[x0])
                                dp[y * outW + x] = top + wy * (bottom - top)
                            }
                        }
                    }
                }
            }
        }
        let result = Tensor(out, shape: [shape[0], shape[1], outH, outW])
        return result.recording("upsampleBilinear", [self]) { [self] g in
            // The adjoint: every output gradient is spread back onto its four source pixels.
            var gx = [Float](repeating: 0, count: planes * inH * inW)
            g.withUnsafeBufferPointer { gs in
                gx.withUnsafeMutableBufferPointer { gd in
                    let s = SendableConstPointer(gs.baseAddress!), d = SendablePointer(gd.baseAddress!)
                    parallelChunks(planes, costPerItem: outH * outW * 8) { range in
                        for p in range {
                            let sp = s.base + p * outH * outW, dp = d.base + p * inH * inW
                            for y in 0..<outH {
                                let r0 = dp + ay.low[y] * inW, r1 = dp + ay.high[y] * inW
                                let wy = ay.weight[y]
                                for x in 0..<outW {
                                    let (x0, x1, wx) = (ax.low[x], ax.high[x], ax.weight[x])
                                    let v = sp[y * outW + x]
                                    let top = v * (1 - wy), bottom = v * wy
                                    r0[x0] += top * (1 - wx)
                                    r0[x1] += top * wx
                                    r1[x0] += bottom * (1 - wx)
                                    r1[x1] += bottom * wx
                                }
                            }
                        }
                    }
                }
            }
            self.accumulateGrad(gx)
        }
    }
}

/// Direct loops for depthwise convolution (every output channel reads one input channel), in
/// both layouts. Going through im2col would build a one-row column matrix per channel and call
/// GEMM with M = 1, which costs far more than the arithmetic; here each kernel tap is one
/// contiguous multiply-add sweep the compiler vectorises:
/// - NCHW (`[B, C, H, W]`): along an output row (stride 1) for every (image, channel) plane;
/// - NHWC (`[B, H, W, C]`): along the channels of one pixel.
/// Every loop writes disjoint memory per parallel item, so `parallelChunks` needs no locks.
enum DepthwiseConvKernel {
    typealias Geometry = Tensor.ConvGeometry

    /// Output positions `o` for which `o·stride + offset` falls inside `0..<inSize`.
    @inline(__always)
    static func validRange(outSize: Int, inSize: Int, stride: Int, offset: Int) -> Range<Int> {
        let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let top = inSize - 1 - offset
        let hi = top < 0 ? 0 : Swift.min(outSize, top / stride + 1)
        return lo..<Swift.max(lo, hi)
    }

    // MARK: NCHW, channel multiplier m = outPerGroup (output channel o reads input o / m)

    static func forwardNCHW(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                            _ out: UnsafeMutablePointer<Float>, _ g: Geometry) {
        let (xs, ws, os) = (SendableConstPointer(x), SendableConstPointer(w), SendablePointer(out))
        let bs = bias.map { SendableConstPointer($0) }
        let inPlane = g.height * g.width, outPlane = g.outH * g.outW, taps = g.kernelH * g.kernelW
        parallelChunks(g.batch * g.outChannels, costPerItem: 2 * outPlane * taps) { planes in
            for p in planes {
                let o = p % g.outChannels, c = o / g.outPerGroup
                let src = xs.base + ((p / g.outChannels) * g.inChannels + c) * inPlane, dst = os.base + p * outPlane
                dst.update(repeating: bs?.base[o] ?? 0, count: outPlane)
                for ky in 0..<g.kernelH {
                    let offY = ky * g.dilationH - g.padH
                    let rows = validRange(outSize: g.outH, inSize: g.height, stride: g.strideH, offset: offY)
                    for kx in 0..<g.kernelW {
                        let offX = kx * g.dilationW - g.padW
                        let cols = validRange(outSize: g.outW, inSize: g.width, stride: g.strideW, offset: offX)
                        if cols.isEmpty { continue }
                        let wv = ws.base[o * taps + ky * g.kernelW + kx]
                        for oy in rows {
                            let s = src + (oy * g.strideH + offY) * g.width + offX, d = dst + oy * g.outW
                            if g.strideW == 1 {
                                for ox in cols { d[ox] += wv * s[ox] }
                            } else {
                                for ox in cols { d[ox] += wv * s[ox * g.strideW] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `gx` (zeroed, `[B, C, H, W]`) += the adjoint of `forwardNCHW` applied to `gout`.
    static func inputGradientNCHW(_ gout: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, _ g: Geometry) {
        let (gs, ws, xs) = (SendableConstPointer(gout), SendableConstPointer(w), SendablePointer(gx))
        let inPlane = g.height * g.width, outPlane = g.outH * g.outW, taps = g.kernelH * g.kernelW
        parallelChunks(g.batch * g.inChannels, costPerItem: 2 * outPlane * taps * g.outPerGroup) { planes in
            for p in planes {
                let b = p / g.inChannels, c = p % g.inChannels
                let dst = xs.base + p * inPlane
                for j in 0..<g.outPerGroup {
                    let o = c * g.outPerGroup + j
                    let src = gs.base + (b * g.outChannels + o) * outPlane
                    for ky in 0..<g.kernelH {
                        let offY = ky * g.dilationH - g.padH
                        let rows = validRange(outSize: g.outH, inSize: g.height, stride: g.strideH, offset: offY)
                        for kx in 0..<g.kernelW {
                            let offX = kx * g.dilationW - g.padW
                            let cols = validRange(outSize: g.outW, inSize: g.width, stride: g.strideW, offset: offX)
                            if cols.isEmpty { continue }
                            let wv = ws.base[o * taps + ky * g.kernelW + kx]
                            for oy in rows {
                                let d = dst + (oy * g.strideH + offY) * g.width + offX, s = src + oy * g.outW
                                if g.strideW == 1 {
                                    for ox in cols { d[ox] += wv * s[ox] }
                                } else {
                                    for ox in cols { d[ox * g.strideW] += wv * s[ox] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `gw [O, 1, kH, kW]` (zeroed) += Σ over images and positions of gout · x at each tap.
    static func weightGradientNCHW(_ gout: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ gw: UnsafeMutablePointer<Float>, _ g: Geometry) {
        let (gs, xs, ws) = (SendableConstPointer(gout), SendableConstPointer(x), SendablePointer(gw))
        let inPlane = g.height * g.width, outPlane = g.outH * g.outW, taps = g.kernelH * g.kernelW
        parallelChunks(g.outChannels, costPerItem: 2 * g.batch * outPlane * taps) { channels in
            for o in channels {
                let c = o / g.outPerGroup
                for b in 0..<g.batch {
                    let src = xs.base + (b * g.inChannels + c) * inPlane, go = gs.base + (b * g.outChannels + o) * outPlane
                    for ky in 0..<g.kernelH {
                        let offY = ky * g.dilationH - g.padH
                        let rows = validRange(outSize: g.outH, inSize: g.height, stride: g.strideH, offset: offY)
                        for kx in 0..<g.kernelW {
                            let offX = kx * g.dilationW - g.padW
                            let cols = validRange(outSize: g.outW, inSize: g.width, stride: g.strideW, offset: offX)
                            if cols.isEmpty { continue }
                            var acc: Float = 0
                            for oy in rows {
                                let s = src + (oy * g.strideH + offY) * g.width + offX, d = go + oy * g.outW
                                for ox in cols { acc += d[ox] * s[ox * g.strideW] }
                            }
                            ws.base[o * taps + ky * g.kernelW + kx] += acc
                        }
                    }
                }
            }
        }
    }

    // MARK: NHWC, multiplier 1 (C = O); weights transposed to [kH·kW, C]

    static func forwardNHWC(_ x: UnsafePointer<Float>, _ wT: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                            _ out: UnsafeMutablePointer<Float>, _ g: Geometry) {
        let (xs, ws, os) = (SendableConstPointer(x), SendableConstPointer(wT), SendablePointer(out))
        let bs = bias.map { SendableConstPointer($0) }
        let ch = g.inChannels, taps = g.kernelH * g.kernelW
        parallelChunks(g.batch * g.outH, costPerItem: 2 * g.outW * ch * taps) { rowRange in
            for r in rowRange {
                let b = r / g.outH, oy = r % g.outH
                for ox in 0..<g.outW {
                    let d = os.base + (r * g.outW + ox) * ch
                    if let bs { d.update(from: bs.base, count: ch) } else { d.update(repeating: 0, count: ch) }
                    for ky in 0..<g.kernelH {
                        let iy = oy * g.strideH - g.padH + ky * g.dilationH
                        if iy < 0 || iy >= g.height { continue }
                        for kx in 0..<g.kernelW {
                            let ix = ox * g.strideW - g.padW + kx * g.dilationW
                            if ix < 0 || ix >= g.width { continue }
                            let s = xs.base + ((b * g.height + iy) * g.width + ix) * ch, wv = ws.base + (ky * g.kernelW + kx) * ch
                            for c in 0..<ch { d[c] += wv[c] * s[c] }
                        }
                    }
                }
            }
        }
    }

    /// `gx [B, H, W, C]` = the adjoint of `forwardNHWC` applied to `gout`, gathered per input
    /// pixel (every written value belongs to one parallel item; `gx` need not be zeroed).
    static func inputGradientNHWC(_ gout: UnsafePointer<Float>, _ wT: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, _ g: Geometry) {
        let (gs, ws, xs) = (SendableConstPointer(gout), SendableConstPointer(wT), SendablePointer(gx))
        let ch = g.inChannels, taps = g.kernelH * g.kernelW
        parallelChunks(g.batch * g.height, costPerItem: 2 * g.width * ch * taps) { rowRange in
            for r in rowRange {
                let b = r / g.height, iy = r % g.height
                for ix in 0..<g.width {
                    let d = xs.base + (r * g.width + ix) * ch
                    d.update(repeating: 0, count: ch)
                    for ky in 0..<g.kernelH {
                        let ny = iy + g.padH - ky * g.dilationH   // = oy·strideH
                        if ny < 0 || ny % g.strideH != 0 || ny / g.strideH >= g.outH { continue }
                        for kx in 0..<g.kernelW {
                            let nx = ix + g.padW - kx * g.dilationW
                            if nx < 0 || nx % g.strideW != 0 || nx / g.strideW >= g.outW { continue }
                            let s = gs.base + ((b * g.outH + ny / g.strideH) * g.outW + nx / g.strideW) * ch
                            let wv = ws.base + (ky * g.kernelW + kx) * ch
                            for c in 0..<ch { d[c] += wv[c] * s[c] }
                        }
                    }
                }
            }
        }
    }

    /// Returns `(gradient of wT [kH·kW, C], gradient of the bias [C])`, summed over all output
    /// pixels; row blocks keep private partial sums that are added at the end.
    static func parameterGradientsNHWC(_ gout: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ g: Geometry) -> (weight: [Float], bias: [Float]) {
        let ch = g.inChannels, taps = g.kernelH * g.kernelW, width = (taps + 1) * ch
        let rows = g.batch * g.outH
        let blocks = reductionBlocks(rows: rows, work: rows * g.outW * ch * taps)
        let (gs, xs) = (SendableConstPointer(gout), SendableConstPointer(x))
        let partial = makeZeroedBuffer(blocks * width) { acc in
            parallelChunks(blocks, costPerItem: Parallelism.minimumWorkPerSplit) { items in
                for blk in items {
                    let a = acc.base + blk * width
                    for r in blockRange(blk, of: blocks, rows: rows) {
                        let b = r / g.outH, oy = r % g.outH
                        for ox in 0..<g.outW {
                            let s = gs.base + (r * g.outW + ox) * ch
                            let ab = a + taps * ch
                            for c in 0..<ch { ab[c] += s[c] }
                            for ky in 0..<g.kernelH {
                                let iy = oy * g.strideH - g.padH + ky * g.dilationH
                                if iy < 0 || iy >= g.height { continue }
                                for kx in 0..<g.kernelW {
                                    let ix = ox * g.strideW - g.padW + kx * g.dilationW
                                    if ix < 0 || ix >= g.width { continue }
                                    let xv = xs.base + ((b * g.height + iy) * g.width + ix) * ch
                                    let aw = a + (ky * g.kernelW + kx) * ch
                                    for c in 0..<ch { aw[c] += s[c] * xv[c] }
                                }
                            }
                        }
                    }
                }
            }
        }
        let total = sumBlocks(partial, blocks: blocks, width: width)
        return (Array(total[0..<(taps * ch)]), Array(total[(taps * ch)...]))
    }
}

/// Convolution on channels-last maps `[B, H, W, C]` (NHWC), with the weight in PyTorch's layout
/// `[O, C/groups, kH, kW]`. A network kept in NHWC runs its 1×1 convolutions as a `Linear` on
/// `[B, H·W, C]` rows (one GEMM for the batch, and adapters attach there) and its per-channel
/// ops vectorise along the contiguous channels, so nothing is transposed between layers.
/// - depthwise (groups = C = O): `DepthwiseConvKernel`'s NHWC loops;
/// - one group: im2col into rows `[(b, y, x), (ky, kx, c)]` and one GEMM per chunk of images;
/// - other groupings: through NCHW `conv2d` (two transposes).
extension Tensor {
    /// `x [B, H, W, C]` ⋆ `weight [O, C/groups, kH, kW]` + `bias [O]` → `[B, H', W', O]`;
    /// the same numbers as `conv2d` on the NCHW transpose.
    public func conv2dChannelsLast(
        weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
        dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, "conv2dChannelsLast: input \(shape) must be [B,H,W,C] and weight \(weight.shape) [O,C/g,kH,kW]")
        let g = ConvGeometry(
            batch: shape[0], inChannels: shape[3], height: shape[1], width: shape[2],
            outChannels: weight.shape[0], kernelH: weight.shape[2], kernelW: weight.shape[3],
            strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1,
            dilationH: dilation.0, dilationW: dilation.1, groups: groups)
        let depthwise = groups > 1 && groups == g.inChannels && g.outChannels == g.inChannels
        guard groups == 1 || depthwise else {
            return permuted([0, 3, 1, 2]).conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
                .permuted([0, 2, 3, 1])
        }
        precondition(weight.shape[1] == g.inPerGroup, "conv2dChannelsLast: weight \(weight.shape) expects \(weight.shape[1]) input channels per group, input has \(g.inPerGroup)")
        precondition(g.outH > 0 && g.outW > 0, "conv2dChannelsLast: input \(shape) too small for kernel \(weight.shape) with padding \(padding)")
        if let b = bias { precondition(b.shape == [g.outChannels], "conv2dChannelsLast: bias \(b.shape) must be [\(g.outChannels)]") }
        return depthwise ? depthwiseChannelsLast(weight: weight, bias: bias, g) : im2colChannelsLast(weight: weight, bias: bias, g)
    }

    /// `w [outer, a, b]` → `[outer, b, a]`: between PyTorch's weight layout `[O, C, taps]` and
    /// the (ky, kx, c) order of channels-last columns, and back.
    static func swapInnerAxes(_ w: [Float], outer: Int, _ a: Int, _ b: Int) -> [Float] {
        var r = [Float](repeating: 0, count: w.count)
        for o in 0..<outer { for i in 0..<a { for j in 0..<b { r[(o * b + j) * a + i] = w[(o * a + i) * b + j] } } }
        return r
    }

    private func depthwiseChannelsLast(weight: Tensor, bias: Tensor?, _ g: ConvGeometry) -> Tensor {
        let x = self, taps = g.kernelH * g.kernelW, ch = g.inChannels
        let wT = Tensor.swapInnerAxes(weight.storage, outer: 1, ch, taps)   // [C, taps] → [taps, C]
        let out = withConstPointers([x.storage, wT, bias?.storage]) { p in
            makeBuffer(g.batch * g.outH * g.outW * ch) { o in DepthwiseConvKernel.forwardNHWC(p[0]!.base, p[1]!.base, p[2]?.base, o.base, g) }
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor(out, shape: [g.batch, g.outH, g.outW, ch]).recording("conv2dDepthwiseNHWC", inputs) { gout in
            if x.requiresGrad {
                x.accumulateGrad(withConstPointers([gout, wT]) { p in
                    makeBuffer(x.count) { d in DepthwiseConvKernel.inputGradientNHWC(p[0]!.base, p[1]!.base, d.base, g) }
                })
            }
            if weight.requiresGrad || bias?.requiresGrad == true {
                let (gwT, gb) = withConstPointers([gout, x.storage]) { p in DepthwiseConvKernel.parameterGradientsNHWC(p[0]!.base, p[1]!.base, g) }
                if weight.requiresGrad { weight.accumulateGrad(Tensor.swapInnerAxes(gwT, outer: 1, taps, ch)) }
                if let bias, bias.requiresGrad { bias.accumulateGrad(gb) }
            }
        }
    }

    private func im2colChannelsLast(weight: Tensor, bias: Tensor?, _ g: ConvGeometry) -> Tensor {
        let x = self, taps = g.kernelH * g.kernelW, ch = g.inChannels, o = g.outChannels
        let k = taps * ch, pixels = g.outH * g.outW
        let wP = Tensor.swapInnerAxes(weight.storage, outer: o, ch, taps)   // [O, (ky, kx, c)]
        // Images per GEMM: columns of at most ~4M values (16 MB) at a time.
        let chunk = Swift.max(1, 4_194_304 / Swift.max(1, pixels * k))
        var out = [Float](repeating: 0, count: g.batch * pixels * o)
        if let bias {
            out.withUnsafeMutableBufferPointer { ob in
                for r in 0..<(g.batch * pixels) { (ob.baseAddress! + r * o).update(from: bias.storage, count: o) }
            }
        }
        var cols = [Float](repeating: 0, count: Swift.min(chunk, g.batch) * pixels * k)
        for start in stride(from: 0, to: g.batch, by: chunk) {
            let n = Swift.min(chunk, g.batch - start)
            Tensor.im2colChannelsLast(x.storage, g, images: start..<(start + n), into: &cols)
            out.withUnsafeMutableBufferPointer { ob in
                withConstPointers([cols, wP]) { p in
                    BLAS.sgemm(transA: false, transB: true, m: n * pixels, n: o, k: k, a: p[0]!.base, lda: k, b: p[1]!.base, ldb: k,
                               beta: bias == nil ? 0 : 1, c: ob.baseAddress! + start * pixels * o, ldc: o)
                }
            }
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor(out, shape: [g.batch, g.outH, g.outW, o]).recording("conv2dNHWC", inputs) { gout in
            var gx = x.requiresGrad ? [Float](repeating: 0, count: x.count) : []
            var gwP = weight.requiresGrad ? [Float](repeating: 0, count: weight.count) : []
            var cols = [Float](repeating: 0, count: Swift.min(chunk, g.batch) * pixels * k)
            for start in stride(from: 0, to: g.batch, by: chunk) where x.requiresGrad || weight.requiresGrad {
                let n = Swift.min(chunk, g.batch - start)
                let goBase = start * pixels * o
                if weight.requiresGrad {  // dW' += G_chunkᵀ · cols
                    Tensor.im2colChannelsLast(x.storage, g, images: start..<(start + n), into: &cols)
                    gwP.withUnsafeMutableBufferPointer { wb in
                        withConstPointers([gout, cols]) { p in
                            BLAS.sgemm(transA: true, transB: false, m: o, n: k, k: n * pixels, a: p[0]!.base + goBase, lda: o,
                                       b: p[1]!.base, ldb: k, beta: 1, c: wb.baseAddress!, ldc: k)
                        }
                    }
                }
                if x.requiresGrad {  // dcols = G_chunk · W', scattered back per image
                    cols.withUnsafeMutableBufferPointer { cb in
                        withConstPointers([gout, wP]) { p in
                            BLAS.sgemm(transA: false, transB: false, m: n * pixels, n: k, k: o, a: p[0]!.base + goBase, lda: o,
                                       b: p[1]!.base, ldb: k, beta: 0, c: cb.baseAddress!, ldc: k)
                        }
                    }
                    Tensor.col2imChannelsLast(cols, g, images: start..<(start + n), into: &gx)
                }
            }
            if x.requiresGrad { x.accumulateGrad(gx) }
            if weight.requiresGrad { weight.accumulateGrad(Tensor.swapInnerAxes(gwP, outer: o, taps, ch)) }
            if let bias, bias.requiresGrad {
                // Column sums of G [rows, O], in row blocks with private partial sums.
                let rows = g.batch * pixels
                let blocks = reductionBlocks(rows: rows, work: rows * o)
                let partial = withConstPointers([gout]) { p in
                    makeZeroedBuffer(blocks * o) { acc in
                        parallelChunks(blocks, costPerItem: Parallelism.minimumWorkPerSplit) { items in
                            for blk in items {
                                let a = acc.base + blk * o
                                for r in blockRange(blk, of: blocks, rows: rows) {
                                    let s = p[0]!.base + r * o
                                    for j in 0..<o { a[j] += s[j] }
                                }
                            }
                        }
                    }
                }
                bias.accumulateGrad(sumBlocks(partial, blocks: blocks, width: o))
            }
        }
    }

    /// Rows `[(b, y, x), (ky, kx, c)]` of the images in `images` (zeros where padded).
    static func im2colChannelsLast(_ x: [Float], _ g: ConvGeometry, images: Range<Int>, into cols: inout [Float]) {
        let ch = g.inChannels, k = g.kernelH * g.kernelW * ch
        cols.withUnsafeMutableBufferPointer { cb in
            let c = SendablePointer(cb.baseAddress!)
            withConstPointers([x]) { xp in
                parallelChunks(images.count * g.outH, costPerItem: g.outW * k) { rowRange in
                    for r in rowRange {
                        let b = images.lowerBound + r / g.outH, oy = r % g.outH
                        for ox in 0..<g.outW {
                            var dst = c.base + (r * g.outW + ox) * k
                            for ky in 0..<g.kernelH {
                                let iy = oy * g.strideH - g.padH + ky * g.dilationH
                                for kx in 0..<g.kernelW {
                                    let ix = ox * g.strideW - g.padW + kx * g.dilationW
                                    if iy >= 0 && iy < g.height && ix >= 0 && ix < g.width {
                                        dst.update(from: xp[0]!.base + ((b * g.height + iy) * g.width + ix) * ch, count: ch)
                                    } else {
                                        dst.update(repeating: 0, count: ch)
                                    }
                                    dst += ch
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds rows back into the NHWC input gradient (the adjoint of `im2colChannelsLast`); one
    /// parallel item per image, so no two items write the same pixel.
    static func col2imChannelsLast(_ cols: [Float], _ g: ConvGeometry, images: Range<Int>, into gx: inout [Float]) {
        let ch = g.inChannels, k = g.kernelH * g.kernelW * ch
        gx.withUnsafeMutableBufferPointer { gb in
            let d = SendablePointer(gb.baseAddress!)
            withConstPointers([cols]) { cp in
                parallelChunks(images.count, costPerItem: g.outH * g.outW * k) { imgs in
                    for i in imgs {
                        let b = images.lowerBound + i
                        for oy in 0..<g.outH {
                            for ox in 0..<g.outW {
                                var src = cp[0]!.base + ((i * g.outH + oy) * g.outW + ox) * k
                                for ky in 0..<g.kernelH {
                                    let iy = oy * g.strideH - g.padH + ky * g.dilationH
                                    for kx in 0..<g.kernelW {
                                        let ix = ox * g.strideW - g.padW + kx * g.dilationW
                                        if iy >= 0 && iy < g.height && ix >= 0 && ix < g.width {
                                            let t = d.base + ((b * g.height + iy) * g.width + ix) * ch
                                            for c in 0..<ch { t[c] += src[c] }
                                        }
                                        src += ch
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// 1-D and 2-D convolution (cross-correlation, as PyTorch) by im2col + the one GEMM path.
/// Groups cover depthwise convolution (groups = channels), used by the Conformer adapter.
extension Tensor {
    /// Geometry of one 2-D convolution.
    struct ConvGeometry {
        let batch, inChannels, height, width: Int
        let outChannels, kernelH, kernelW: Int
        let strideH, strideW, padH, padW, dilationH, dilationW, groups: Int
        var outH: Int { (height + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1 }
        var outW: Int { (width + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1 }
        var inPerGroup: Int { inChannels / groups }
        var outPerGroup: Int { outChannels / groups }
        /// Rows of the im2col matrix for one group: (channel, ky, kx).
        var colRows: Int { inPerGroup * kernelH * kernelW }
    }

    /// `x [B, C, H, W]` ⋆ `weight [O, C/groups, kH, kW]` + `bias [O]` → `[B, O, H', W']`.
    public func conv2d(
        weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
        dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) -> Tensor {
        let x = self
        precondition(x.rank == 4 && weight.rank == 4, "conv2d: input \(x.shape) must be [B,C,H,W] and weight \(weight.shape) [O,C/g,kH,kW]")
        let g = ConvGeometry(
            batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
            outChannels: weight.shape[0], kernelH: weight.shape[2], kernelW: weight.shape[3],
            strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1,
            dilationH: dilation.0, dilationW: dilation.1, groups: groups)
        precondition(groups >= 1 && g.inChannels % groups == 0 && g.outChannels % groups == 0,
                     "conv2d: channels \(g.inChannels)→\(g.outChannels) not divisible by groups \(groups)")
        precondition(weight.shape[1] == g.inPerGroup, "conv2d: weight \(weight.shape) expects \(weight.shape[1]) input channels per group, input has \(g.inPerGroup)")
        precondition(g.outH > 0 && g.outW > 0, "conv2d: input \(x.shape) too small for kernel \(weight.shape) with padding \(padding)")
        if let b = bias { precondition(b.shape == [g.outChannels], "conv2d: bias \(b.shape) must be [\(g.outChannels)]") }
        if g.inPerGroup == 1 && g.groups > 1 { return x.conv2dDepthwise(weight: weight, bias: bias, g) }
        if g.kernelH == 1 && g.kernelW == 1 && g.groups == 1 && g.strideH == 1 && g.strideW == 1 && g.padH == 0 && g.padW == 0 {
            return x.conv2dPointwise(weight: weight, bias: bias, g)
        }
        return x.conv2dIm2col(weight: weight, bias: bias, g)
    }

    /// The general path: per image and group, im2col then one GEMM (any kernel, stride,
    /// padding, dilation, groups). Also the reference the fast paths are tested against.
    func conv2dIm2col(weight: Tensor, bias: Tensor?, _ g: ConvGeometry) -> Tensor {
        let x = self
        let spatial = g.outH * g.outW
        var out = [Float](repeating: 0, count: g.batch * g.outChannels * spatial)
        var cols = [Float](repeating: 0, count: g.colRows * spatial)
        let wPerGroup = g.outPerGroup * g.colRows
        for b in 0..<g.batch {
            for grp in 0..<g.groups {
                Tensor.im2col(x.storage, g, batch: b, group: grp, into: &cols)
                out.withUnsafeMutableBufferPointer { o in
                    weight.storage.withUnsafeBufferPointer { w in
                        cols.withUnsafeBufferPointer { c in
                            BLAS.sgemm(transA: false, transB: false, m: g.outPerGroup, n: spatial, k: g.colRows,
                                       a: w.baseAddress! + grp * wPerGroup, lda: g.colRows, b: c.baseAddress!, ldb: spatial,
                                       beta: 0, c: o.baseAddress! + (b * g.outChannels + grp * g.outPerGroup) * spatial, ldc: spatial)
                        }
                    }
                }
            }
        }
        if let bias { Tensor.addChannelBias(&out, bias.storage, batch: g.batch, channels: g.outChannels, spatial: spatial) }
        let result = Tensor(out, shape: [g.batch, g.outChannels, g.outH, g.outW])
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return result.recording("conv2d", inputs) { gout in
            var gx = x.requiresGrad ? [Float](repeating: 0, count: x.count) : []
            var gw = weight.requiresGrad ? [Float](repeating: 0, count: weight.count) : []
            var cols = [Float](repeating: 0, count: g.colRows * spatial)
            var dcols = [Float](repeating: 0, count: g.colRows * spatial)
            for b in 0..<g.batch {
                for grp in 0..<g.groups {
                    let goOffset = (b * g.outChannels + grp * g.outPerGroup) * spatial
                    if weight.requiresGrad {  // dW_g += gout_g · colsᵀ
                        Tensor.im2col(x.storage, g, batch: b, group: grp, into: &cols)
                        gw.withUnsafeMutableBufferPointer { w in
                            gout.withUnsafeBufferPointer { go in
                                cols.withUnsafeBufferPointer { c in
                                    BLAS.sgemm(transA: false, transB: true, m: g.outPerGroup, n: g.colRows, k: spatial,
                                               a: go.baseAddress! + goOffset, lda: spatial, b: c.baseAddress!, ldb: spatial,
                                               beta: 1, c: w.baseAddress! + grp * wPerGroup, ldc: g.colRows)
                                }
                            }
                        }
                    }
                    if x.requiresGrad {  // dcols = W_gᵀ · gout_g, then scatter back
                        dcols.withUnsafeMutableBufferPointer { d in
                            gout.withUnsafeBufferPointer { go in
                                weight.storage.withUnsafeBufferPointer { w in
                                    BLAS.sgemm(transA: true, transB: false, m: g.colRows, n: spatial, k: g.outPerGroup,
                                               a: w.baseAddress! + grp * wPerGroup, lda: g.colRows, b: go.baseAddress! + goOffset, ldb: spatial,
                                               beta: 0, c: d.baseAddress!, ldc: spatial)
                                }
                            }
                        }
                        Tensor.col2im(dcols, g, batch: b, group: grp, into: &gx)
                    }
                }
            }
            if x.requiresGrad { x.accumulateGrad(gx) }
            if weight.requiresGrad { weight.accumulateGrad(gw) }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad(Tensor.channelBiasGradient(gout, batch: g.batch, channels: g.outChannels, spatial: spatial))
            }
        }
    }

    /// `x [B, C, L]` ⋆ `weight [O, C/groups, K]` + `bias [O]` → `[B, O, L']` (as `torch.nn.functional.conv1d`).
    public func conv1d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor {
        precondition(rank == 3 && weight.rank == 3, "conv1d: input \(shape) must be [B,C,L] and weight \(weight.shape) [O,C/g,K]")
        let y = reshaped([shape[0], shape[1], 1, shape[2]]).conv2d(
            weight: weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2]]), bias: bias,
            stride: (1, stride), padding: (0, padding), dilation: (1, dilation), groups: groups)
        return y.reshaped([y.shape[0], y.shape[1], y.shape[3]])
    }

    /// Unfolds one batch item's group into columns `[C/g·kH·kW, H'·W']` (zeros where padded).
    static func im2col(_ x: [Float], _ g: ConvGeometry, batch b: Int, group grp: Int, into cols: inout [Float]) {
        let spatial = g.outH * g.outW
        x.withUnsafeBufferPointer { xv in
            cols.withUnsafeMutableBufferPointer { c in
                for ci in 0..<g.inPerGroup {
                    let plane = (b * g.inChannels + grp * g.inPerGroup + ci) * g.height * g.width
                    for ky in 0..<g.kernelH {
                        for kx in 0..<g.kernelW {
                            let row = (ci * g.kernelH + ky) * g.kernelW + kx
                            var dst = row * spatial
                            for oy in 0..<g.outH {
                                let iy = oy * g.strideH - g.padH + ky * g.dilationH
                                if iy < 0 || iy >= g.height {
                                    for _ in 0..<g.outW { c[dst] = 0; dst += 1 }
                                    continue
                                }
                                let rowBase = plane + iy * g.width
                                for ox in 0..<g.outW {
                                    let ix = ox * g.strideW - g.padW + kx * g.dilationW
                                    c[dst] = (ix >= 0 && ix < g.width) ? xv[rowBase + ix] : 0
                                    dst += 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds columns back into the input gradient (the adjoint of `im2col`).
    static func col2im(_ cols: [Float], _ g: ConvGeometry, batch b: Int, group grp: Int, into gx: inout [Float]) {
        let spatial = g.outH * g.outW
        cols.withUnsafeBufferPointer { c in
            gx.withUnsafeMutableBufferPointer { xv in
                for ci in 0..<g.inPerGroup {
                    let plane = (b * g.inChannels + grp * g.inPerGroup + ci) * g.height * g.width
                    for ky in 0..<g.kernelH {
                        for kx in 0..<g.kernelW {
                            var src = ((ci * g.kernelH + ky) * g.kernelW + kx) * spatial
                            for oy in 0..<g.outH {
                                let iy = oy * g.strideH - g.padH + ky * g.dilationH
                                if iy < 0 || iy >= g.height { src += g.outW; continue }
                                let rowBase = plane + iy * g.width
                                for ox in 0..<g.outW {
                                    let ix = ox * g.strideW - g.padW + kx * g.dilationW
                                    if ix >= 0 && ix < g.width { xv[rowBase + ix] += c[src] }
                                    src += 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The two NCHW convolution shapes that do not need im2col, chosen by `conv2d`:
/// - depthwise (one input channel per group): the direct loops of `DepthwiseConvKernel`;
/// - pointwise (1×1, stride 1, no padding, one group): per image `Y_b = W · X_b` is one GEMM
///   on the stored planes, `[O, C] · [C, H·W]`, so the input is never copied.
/// Backward rules work only for the inputs that require a gradient (a frozen weight costs no
/// weight-gradient pass).
extension Tensor {
    func conv2dDepthwise(weight: Tensor, bias: Tensor?, _ g: ConvGeometry) -> Tensor {
        let x = self
        let outCount = g.batch * g.outChannels * g.outH * g.outW
        let out = withConstPointers([x.storage, weight.storage, bias?.storage]) { p in
            makeBuffer(outCount) { o in DepthwiseConvKernel.forwardNCHW(p[0]!.base, p[1]!.base, p[2]?.base, o.base, g) }
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor(out, shape: [g.batch, g.outChannels, g.outH, g.outW]).recording("conv2dDepthwise", inputs) { gout in
            if x.requiresGrad {
                let gx = withConstPointers([gout, weight.storage]) { p in
                    makeZeroedBuffer(x.count) { d in DepthwiseConvKernel.inputGradientNCHW(p[0]!.base, p[1]!.base, d.base, g) }
                }
                x.accumulateGrad(gx)
            }
            if weight.requiresGrad {
                let gw = withConstPointers([gout, x.storage]) { p in
                    makeZeroedBuffer(weight.count) { d in DepthwiseConvKernel.weightGradientNCHW(p[0]!.base, p[1]!.base, d.base, g) }
                }
                weight.accumulateGrad(gw)
            }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad(Tensor.channelBiasGradient(gout, batch: g.batch, channels: g.outChannels, spatial: g.outH * g.outW))
            }
        }
    }

    func conv2dPointwise(weight: Tensor, bias: Tensor?, _ g: ConvGeometry) -> Tensor {
        let x = self
        let (c, o, hw) = (g.inChannels, g.outChannels, g.height * g.width)
        var out = [Float](repeating: 0, count: g.batch * o * hw)
        if let bias { Tensor.addChannelBias(&out, bias.storage, batch: g.batch, channels: o, spatial: hw) }
        out.withUnsafeMutableBufferPointer { ob in
            withConstPointers([x.storage, weight.storage]) { p in
                for b in 0..<g.batch {
                    BLAS.sgemm(transA: false, transB: false, m: o, n: hw, k: c, a: p[1]!.base, lda: c,
                               b: p[0]!.base + b * c * hw, ldb: hw, beta: bias == nil ? 0 : 1, c: ob.baseAddress! + b * o * hw, ldc: hw)
                }
            }
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor(out, shape: [g.batch, o, g.height, g.width]).recording("conv2dPointwise", inputs) { gout in
            withConstPointers([gout, weight.storage, x.storage]) { p in
                if x.requiresGrad {  // dX_b = Wᵀ · G_b
                    let gx = makeBuffer(x.count) { d in
                        for b in 0..<g.batch {
                            BLAS.sgemm(transA: true, transB: false, m: c, n: hw, k: o, a: p[1]!.base, lda: c,
                                       b: p[0]!.base + b * o * hw, ldb: hw, beta: 0, c: d.base + b * c * hw, ldc: hw)
                        }
                    }
                    x.accumulateGrad(gx)
                }
                if weight.requiresGrad {  // dW = Σ_b G_b · X_bᵀ
                    let gw = makeZeroedBuffer(weight.count) { d in
                        for b in 0..<g.batch {
                            BLAS.sgemm(transA: false, transB: true, m: o, n: c, k: hw, a: p[0]!.base + b * o * hw, lda: hw,
                                       b: p[2]!.base + b * c * hw, ldb: hw, beta: 1, c: d.base, ldc: c)
                        }
                    }
                    weight.accumulateGrad(gw)
                }
            }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad(Tensor.channelBiasGradient(gout, batch: g.batch, channels: o, spatial: hw))
            }
        }
    }

    /// `out[b, o, :] += bias[o]` on `[batch, channels, spatial]` storage.
    static func addChannelBias(_ out: inout [Float], _ bias: [Float], batch: Int, channels: Int, spatial: Int) {
        out.withUnsafeMutableBufferPointer { ob in
            let o = SendablePointer(ob.baseAddress!)
            withConstPointers([bias]) { bp in
                parallelChunks(batch * channels, costPerItem: spatial) { planes in
                    for p in planes {
                        let v = bp[0]!.base[p % channels], d = o.base + p * spatial
                        for s in 0..<spatial { d[s] += v }
                    }
                }
            }
        }
    }

    /// `Σ_{b, s} g[b, o, s]` per channel `o` of `[batch, channels, spatial]` storage.
    static func channelBiasGradient(_ g: [Float], batch: Int, channels: Int, spatial: Int) -> [Float] {
        withConstPointers([g]) { gp in
            makeBuffer(channels) { d in
                parallelChunks(channels, costPerItem: batch * spatial) { range in
                    for o in range {
                        var acc: Float = 0
                        for b in 0..<batch {
                            let s = gp[0]!.base + (b * channels + o) * spatial
                            for i in 0..<spatial { acc += s[i] }
                        }
                        d.base[o] = acc
                    }
                }
            }
        }
    }
}

import Testing
@testable import Core
import TestSupport

/// The fast convolution paths (direct depthwise loops, GEMM-only 1×1, channels-last im2col and
/// depthwise) and the fused per-channel kernels, each against an independent reference: the
/// nested-loop definition of convolution (`ConvolutionTests.directConv2d`), the general im2col
/// path's gradients, the composed broadcasting ops, and finite differences.
@Suite struct ConvKernelTests {
    typealias Case = (x: [Int], w: [Int], stride: (Int, Int), pad: (Int, Int), dil: (Int, Int), groups: Int)

    /// Shapes that take the depthwise path (one input channel per group) or the 1×1 path.
    static let fastCases: [Case] = [
        ([2, 3, 7, 6], [3, 1, 3, 3], (1, 1), (1, 1), (1, 1), 3),    // depthwise 3×3 'same'
        ([1, 4, 9, 8], [4, 1, 3, 3], (2, 2), (1, 1), (1, 1), 4),    // depthwise stride 2 (SFace)
        ([2, 2, 9, 9], [2, 1, 3, 3], (1, 1), (4, 4), (4, 4), 2),    // dilated depthwise (ASPP rate 4)
        ([1, 2, 5, 5], [6, 1, 3, 2], (1, 2), (1, 0), (2, 1), 2),    // channel multiplier 3, mixed
        ([2, 3, 1, 40], [3, 1, 1, 31], (1, 1), (0, 15), (1, 1), 3), // Conformer depthwise k 31 'same'
        ([2, 5, 4, 6], [7, 5, 1, 1], (1, 1), (0, 0), (1, 1), 1),    // pointwise
    ]

    @Test(arguments: 0..<fastCases.count)
    func fastPathsMatchDefinitionAndIm2colGradients(_ i: Int) {
        let c = Self.fastCases[i]
        let x = randomTensor(c.x, seed: 31), w = randomTensor(c.w, seed: 32), b = randomTensor([c.w[0]], seed: 33)
        let y = x.conv2d(weight: w, bias: b, stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
        let ref = ConvolutionTests.directConv2d(x, w, b, stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
        #expect(y.opName != "conv2d", "case \(i) should take a fast path")
        #expect(allClose(y, ref, atol: 1e-5, rtol: 1e-5), "\(differenceReport(y, ref))")
        // Same gradients as the im2col path for a random upstream gradient.
        let up = randomTensor(ref.shape, seed: 34, requiresGrad: false)
        func grads(_ f: () -> Tensor) -> [Tensor] {
            for t in [x, w, b] { t.zeroGrad() }
            (f() * up).sum().backward()
            return [x.grad!, w.grad!, b.grad!]
        }
        let g = Tensor.ConvGeometry(batch: c.x[0], inChannels: c.x[1], height: c.x[2], width: c.x[3], outChannels: c.w[0],
                                    kernelH: c.w[2], kernelW: c.w[3], strideH: c.stride.0, strideW: c.stride.1, padH: c.pad.0,
                                    padW: c.pad.1, dilationH: c.dil.0, dilationW: c.dil.1, groups: c.groups)
        let fast = grads { x.conv2d(weight: w, bias: b, stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups) }
        let slow = grads { x.conv2dIm2col(weight: w, bias: b, g) }
        for (f, s) in zip(fast, slow) { #expect(allClose(f, s, atol: 1e-4, rtol: 1e-4), "\(differenceReport(f, s))") }
        let r = gradCheck([x, w, b]) { t in t[0].conv2d(weight: t[1], bias: t[2], stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups) }
        #expect(r.passed, "\(r)")
    }

    @Test func frozenDepthwiseAndPointwiseWeightsGetNoGradient() {
        let x = randomTensor([1, 2, 4, 4], seed: 1)
        let dw = randomTensor([2, 1, 3, 3], seed: 2, requiresGrad: false), pw = randomTensor([3, 2, 1, 1], seed: 3, requiresGrad: false)
        x.conv2d(weight: dw, padding: (1, 1), groups: 2).conv2d(weight: pw).sum().backward()
        #expect(dw.gradStorage == nil && pw.gradStorage == nil && x.gradStorage != nil)
    }

    /// Channels-last cases: one group (im2col), depthwise, and a grouping that falls back to NCHW.
    static let nhwcCases: [Case] = [
        ([2, 6, 5, 3], [4, 3, 3, 3], (1, 1), (1, 1), (1, 1), 1),    // SFace's first conv shape
        ([1, 7, 7, 2], [3, 2, 3, 2], (2, 1), (0, 1), (2, 1), 1),
        ([2, 7, 6, 4], [4, 1, 3, 3], (1, 1), (1, 1), (1, 1), 4),    // depthwise
        ([1, 9, 8, 3], [3, 1, 3, 3], (2, 2), (1, 1), (1, 1), 3),    // depthwise stride 2
        ([1, 6, 6, 2], [2, 1, 3, 3], (1, 1), (2, 2), (2, 2), 2),    // depthwise dilated
        ([1, 5, 5, 4], [4, 2, 3, 3], (1, 1), (1, 1), (1, 1), 2),    // 2 groups: NCHW fallback
    ]

    @Test(arguments: 0..<nhwcCases.count)
    func channelsLastMatchesNCHWAndFiniteDifferences(_ i: Int) {
        let c = Self.nhwcCases[i]
        let x = randomTensor(c.x, seed: 41), w = randomTensor(c.w, seed: 42), b = randomTensor([c.w[0]], seed: 43)
        let y = x.conv2dChannelsLast(weight: w, bias: b, stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
        let nchw = Tensor(x.permuted([0, 3, 1, 2]).storage, shape: [c.x[0], c.x[3], c.x[1], c.x[2]])
        let ref = ConvolutionTests.directConv2d(nchw, w, b, stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
            .permuted([0, 2, 3, 1])
        #expect(allClose(y, ref, atol: 1e-5, rtol: 1e-5), "\(differenceReport(y, ref))")
        let r = gradCheck([x, w, b]) { t in
            t[0].conv2dChannelsLast(weight: t[1], bias: t[2], stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
        }
        #expect(r.passed, "\(r)")
    }

    /// Inputs with `a·x + b` at least 0.1 away from PReLU's kink (finite differences are not the
    /// derivative there); scales in ±[0.5, 1.5].
    static func affineInputs(_ shape: [Int], channels: Int, seed: UInt64) -> [Tensor] {
        let x = randomTensor(shape, seed: seed)
        let a = randomTensor([channels], seed: seed + 1), s = randomTensor([channels], seed: seed + 2, std: 0.1)
        let p = randomTensor([channels], seed: seed + 3)
        for i in 0..<channels { a.storage[i] = a.storage[i] < 0 ? a.storage[i] - 0.5 : a.storage[i] + 0.5 }
        return [x, a, s, p]
    }

    @Test(arguments: [false, true])
    func channelAffineWithPReLUMatchesComposedOps(_ channelsLast: Bool) {
        let shape = channelsLast ? [2, 3, 4, 5] : [2, 5, 3, 4], ch = 5
        let t = Self.affineInputs(shape, channels: ch, seed: 50)
        let statShape = channelsLast ? [1, 1, 1, ch] : [1, ch, 1, 1]
        // Move x so that a·x + b is never within 0.1 of zero.
        for i in 0..<t[0].count {
            let c = channelsLast ? i % ch : (i / 12) % ch
            let z = t[0].storage[i] * t[1].storage[c] + t[2].storage[c]
            if abs(z) < 0.1 { t[0].storage[i] += 0.3 / t[1].storage[c] }
        }
        let y = t[0].channelAffine(scale: t[1], shift: t[2], slope: t[3], channelsLast: channelsLast)
        let z = t[0] * t[1].reshaped(statShape) + t[2].reshaped(statShape)
        let ref = Tensor(zip(z.storage, z.storage.indices).map { v, i in
            v > 0 ? v : t[3].storage[channelsLast ? i % ch : (i / 12) % ch] * v
        }, shape: shape)
        #expect(allClose(y, ref, atol: 1e-6, rtol: 1e-6), "\(differenceReport(y, ref))")
        let r = gradCheck(t) { u in u[0].channelAffine(scale: u[1], shift: u[2], slope: u[3], channelsLast: channelsLast) }
        #expect(r.passed, "\(r)")
        let plain = gradCheck(Array(t[0..<3])) { u in u[0].channelAffine(scale: u[1], shift: u[2], channelsLast: channelsLast) }
        #expect(plain.passed, "\(plain)")
    }

    @Test func batchNormTrainingMatchesComposedFormula() {
        let x = randomTensor([3, 4, 5], seed: 60), w = randomTensor([4], seed: 61), b = randomTensor([4], seed: 62)
        for i in 0..<x.count { x.storage[i] = x.storage[i] * 2 + 30 }   // a large mean: no cancellation allowed
        let (y, mean, variance) = x.batchNormTraining(weight: w, bias: b, eps: 1e-5)
        let m = x.mean(axes: [0, 2], keepDims: true), centered = x - m
        let v = centered.square().mean(axes: [0, 2], keepDims: true)
        let ref = centered / (v + 1e-5).sqrt() * w.reshaped([1, 4, 1]) + b.reshaped([1, 4, 1])
        #expect(allClose(y, ref, atol: 1e-4, rtol: 1e-4), "\(differenceReport(y, ref))")
        #expect(allClose(Tensor(mean, shape: [4]), m.reshaped([4]), atol: 1e-4, rtol: 1e-6))
        #expect(allClose(Tensor(variance, shape: [4]), v.reshaped([4]), atol: 1e-4, rtol: 1e-4))
        let u = randomTensor([2, 3, 4, 3], seed: 63)
        let r = gradCheck([u, randomTensor([3], seed: 64), randomTensor([3], seed: 65)]) { t in
            t[0].batchNormTraining(weight: t[1], bias: t[2], eps: 1e-5).output
        }
        #expect(r.passed, "\(r)")
    }
}

extension ConvKernelTests {
    /// The separable bilinear resize against the per-pixel definition of PyTorch's
    /// `align_corners=False` sampling (four source pixels per output), up and down.
    @Test(arguments: [(5, 7, 12, 9), (9, 8, 4, 3), (3, 3, 3, 11)])
    func bilinearMatchesFourPixelDefinition(_ size: (Int, Int, Int, Int)) {
        let (ih, iw, oh, ow) = size
        let x = randomTensor([2, 3, ih, iw], seed: 70)
        let y = x.upsampledBilinear(height: oh, width: ow)
        func source(_ o: Int, _ n: Int, _ m: Int) -> (Int, Int, Float) {
            let s = max(0, (Float(o) + 0.5) * Float(n) / Float(m) - 0.5)
            let i0 = min(Int(s), n - 1)
            return (i0, min(i0 + 1, n - 1), s - Float(i0))
        }
        var ref = [Float](repeating: 0, count: 6 * oh * ow)
        for p in 0..<6 { for yy in 0..<oh { for xx in 0..<ow {
            let (y0, y1, wy) = source(yy, ih, oh), (x0, x1, wx) = source(xx, iw, ow)
            func v(_ r: Int, _ c: Int) -> Float { x.storage[(p * ih + r) * iw + c] }
            ref[(p * oh + yy) * ow + xx] = (1 - wy) * ((1 - wx) * v(y0, x0) + wx * v(y0, x1)) + wy * ((1 - wx) * v(y1, x0) + wx * v(y1, x1))
        } } }
        let r = Tensor(ref, shape: [2, 3, oh, ow])
        #expect(allClose(y, r, atol: 1e-5, rtol: 1e-5), "\(differenceReport(y, r))")
        let gc = gradCheck([x]) { t in t[0].upsampledBilinear(height: oh, width: ow) }
        #expect(gc.passed, "\(gc)")
    }
}

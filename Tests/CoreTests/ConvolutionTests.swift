import Testing
@testable import Core
import TestSupport

/// Convolution against a direct nested-loop definition (independent of im2col) and finite differences.
@Suite struct ConvolutionTests {
    /// out[b,o,y,x] = bias[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · in[b, g·C/g + c, y·s − p + ky·d, x·s − p + kx·d].
    static func directConv2d(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int) -> Tensor {
        let (B, C, H, W) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (O, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (H + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
        let ow = (W + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
        var out = [Float](repeating: 0, count: B * O * oh * ow)
        for b in 0..<B { for o in 0..<O { for y in 0..<oh { for xx in 0..<ow {
            var acc = Double(bias?.storage[o] ?? 0)
            let grp = o / (O / groups)
            for c in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
                let iy = y * stride.0 - padding.0 + ky * dilation.0, ix = xx * stride.1 - padding.1 + kx * dilation.1
                if iy < 0 || iy >= H || ix < 0 || ix >= W { continue }
                acc += Double(w.storage[((o * cg + c) * kh + ky) * kw + kx]) * Double(x.storage[((b * C + grp * cg + c) * H + iy) * W + ix])
            } } }
            out[((b * O + o) * oh + y) * ow + xx] = Float(acc)
        } } } }
        return Tensor(out, shape: [B, O, oh, ow])
    }

    static let cases: [(x: [Int], w: [Int], stride: (Int, Int), pad: (Int, Int), dil: (Int, Int), groups: Int)] = [
        ([2, 3, 5, 6], [4, 3, 3, 3], (1, 1), (1, 1), (1, 1), 1),
        ([1, 4, 7, 7], [6, 2, 3, 2], (2, 1), (0, 1), (1, 2), 2),
        ([2, 4, 1, 9], [4, 1, 1, 5], (1, 1), (0, 2), (1, 1), 4),  // depthwise 1-D as used by the Conformer adapter
        ([1, 3, 8, 8], [5, 3, 4, 4], (4, 4), (0, 0), (1, 1), 1),  // ViT-style patch embedding
    ]

    @Test(arguments: 0..<cases.count)
    func forwardMatchesDirectDefinition(_ i: Int) {
        let c = Self.cases[i]
        let x = randomTensor(c.x, seed: 11), w = randomTensor(c.w, seed: 12), b = randomTensor([c.w[0]], seed: 13)
        let y = x.conv2d(weight: w, bias: b, stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
        let ref = Self.directConv2d(x, w, b, stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups)
        #expect(allClose(y, ref, atol: 1e-5, rtol: 1e-5), "\(differenceReport(y, ref))")
    }

    @Test(arguments: 0..<cases.count)
    func gradientsMatchFiniteDifferences(_ i: Int) {
        let c = Self.cases[i]
        let x = randomTensor(c.x, seed: 21), w = randomTensor(c.w, seed: 22), b = randomTensor([c.w[0]], seed: 23)
        let r = gradCheck([x, w, b]) { t in t[0].conv2d(weight: t[1], bias: t[2], stride: c.stride, padding: c.pad, dilation: c.dil, groups: c.groups) }
        #expect(r.passed, "\(r)")
    }

    @Test func conv1dMatchesHandComputedValues() {
        // x = [1, 2, 3, 4], w = [1, 0, -1], padding 1: y[i] = x[i-1] - x[i+1] → [-2, -2, -2, 3].
        let x = Tensor([1, 2, 3, 4], shape: [1, 1, 4]), w = Tensor([1, 0, -1], shape: [1, 1, 3])
        #expect(x.conv1d(weight: w, padding: 1).storage == [-2, -2, -2, 3])
        // Stride 2 as in Whisper's conv2: positions 0 and 2 → [-2, -2].
        #expect(x.conv1d(weight: w, stride: 2, padding: 1).storage == [-2, -2])
    }

    @Test func frozenWeightGetsNoGradient() {
        let x = randomTensor([1, 2, 5], seed: 1), w = randomTensor([3, 2, 3], seed: 2, requiresGrad: false)
        x.conv1d(weight: w, padding: 1).sum().backward()
        #expect(w.gradStorage == nil)
        #expect(x.gradStorage != nil)
    }
}

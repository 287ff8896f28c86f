import Core
import Foundation
import Testing
import TestSupport

/// The kernels added for BERT training speed (Core/Kernels/VectorMath.swift and
/// HeadAttentionKernel.swift), against libm, the existing scalar kernels, the composed
/// attention reference and finite differences.
@Suite struct BertKernelTests {
    @Test func vectorExpMatchesLibm() {
        var worst: Float = 0
        var xs: [Float] = stride(from: -87.0 as Float, through: 88.5, by: 0.0137).map { $0 }
        xs += [0, -0, 1e-8, -1e-8, 0.5, -0.5, 88.7, -87.3]
        var ys = [Float](repeating: 0, count: xs.count)
        VectorMath.exp(&ys, xs, xs.count)
        for (x, y) in zip(xs, ys) {
            let ref = Foundation.exp(Double(x))
            worst = max(worst, Float(abs(Double(y) - ref) / ref))
        }
        // Cephes' expf polynomial: about 1 ulp; 2.4e-7 is two float ulps at 1.
        #expect(worst <= 2.4e-7, "relative error \(worst)")
        var edge: [Float] = [-1e9, -88, -.infinity, 89, .infinity]
        VectorMath.exp(&edge, edge, edge.count)
        #expect(edge[0] == 0 && edge[1] == 0 && edge[2] == 0)
        #expect(edge[3] == .infinity && edge[4] == .infinity)
    }

    @Test func vectorSoftmaxAndGELUMatchScalarKernels() {
        var rng = SplitMix64(seed: 11)
        for n in [1, 7, 16, 33, 128] {
            var x = (0..<n).map { _ in rng.nextNormal() * 4 }
            if n > 3 { x[2] = -1e9 }  // a masked key
            var a = [Float](repeating: 0, count: n), b = a
            VectorMath.softmaxRow(&a, x, n)
            SoftmaxKernel.softmaxRow(&b, x, n)
            #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 }, "softmax n=\(n)")
        }
        var allMasked = [Float](repeating: -.infinity, count: 5)
        VectorMath.softmaxRow(&allMasked, allMasked, 5)
        #expect(allMasked == [0, 0, 0, 0, 0])
        let x = (0..<1000).map { _ in rng.nextNormal() * 3 }, dy = (0..<1000).map { _ in rng.nextNormal() }
        var y1 = [Float](repeating: 0, count: 1000), y2 = y1, d1 = y1, d2 = y1
        VectorMath.geluForward(&y1, x, 1000)
        VectorMath.geluBackward(&d1, dy, x, 1000)
        x.withUnsafeBufferPointer { xp in
            GELUKernel.erfForward(y: &y2, x: xp.baseAddress!, range: 0..<1000)
            dy.withUnsafeBufferPointer { dp in GELUKernel.erfBackward(dx: &d2, dy: dp.baseAddress!, x: xp.baseAddress!, range: 0..<1000) }
        }
        #expect(zip(y1, y2).allSatisfy { abs($0 - $1) <= 1e-6 }, "gelu forward")
        #expect(zip(d1, d2).allSatisfy { abs($0 - $1) <= 1e-6 }, "gelu backward")
    }

    /// Reference: split heads, composed attention (matmul, softmax), merge heads.
    func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads h: Int, mask: Tensor?, scale: Float) -> Tensor {
        func split(_ t: Tensor) -> Tensor { t.reshaped([t.shape[0], t.shape[1], h, t.shape[2] / h]).permuted([0, 2, 1, 3]) }
        let o = Tensor.attentionComposed(q: split(q), k: split(k), v: split(v), mask: mask, scale: scale)
        return o.permuted([0, 2, 1, 3]).reshaped([q.shape[0], q.shape[1], v.shape[2]])
    }

    @Test(arguments: [false, true])
    func headAttentionMatchesComposedReference(causal: Bool) throws {
        let (b, tq, h, d) = (2, 5, 3, 4)
        let q = randomTensor([b, tq, h * d], seed: 1), k = randomTensor([b, tq, h * d], seed: 2)
        let v = randomTensor([b, tq, h * 2], seed: 3)
        let padding = Tensor([1, 1, 1, 0, 0, 1, 1, 1, 1, 1], shape: [b, tq])
        let mask = MultiHeadAttention.additiveMask(attentionMask: padding, batch: b, queryLength: tq, keyLength: tq, causal: causal)
        var rng = SplitMix64(seed: 0)
        let fused = try #require(Tensor.headAttention(q: q, k: k, v: v, heads: h, mask: mask, scale: 0.5, rng: &rng))
        let ref = reference(q, k, v, heads: h, mask: mask, scale: 0.5)
        #expect(allClose(fused, ref, atol: 1e-5, rtol: 1e-5), "\(differenceReport(fused, ref))")
        let w = randomTensor(ref.shape, seed: 9, requiresGrad: false)
        (fused * w).sum().backward()
        let grads = [q, k, v].map { $0.grad! }
        for t in [q, k, v] { t.zeroGrad() }
        (ref * w).sum().backward()
        for (i, t) in [q, k, v].enumerated() {
            #expect(allClose(grads[i], t.grad!, atol: 1e-5, rtol: 1e-4), "grad \(i): \(differenceReport(grads[i], t.grad!))")
        }
    }

    @Test func headAttentionDropoutGradientsByFiniteDifferences() {
        let q = randomTensor([1, 4, 4], seed: 4), k = randomTensor([1, 4, 4], seed: 5), v = randomTensor([1, 4, 4], seed: 6)
        let result = gradCheck([q, k, v]) { xs in
            var rng = SplitMix64(seed: 21)  // the same mask on every evaluation
            return Tensor.headAttention(q: xs[0], k: xs[1], v: xs[2], heads: 2, mask: nil, scale: 0.7, dropout: 0.3, rng: &rng)!
        }
        #expect(result.passed, "\(result)")
    }

    @Test func headAttentionDropoutKeepsAboutOneMinusP() throws {
        // With V = identity (one head, Dv = Tk) the output is the dropped probability matrix itself.
        let t = 64
        let q = randomTensor([1, t, 8], seed: 7, requiresGrad: false), k = randomTensor([1, t, 8], seed: 8, requiresGrad: false)
        let eye = Tensor((0..<(t * t)).map { $0 / t == $0 % t ? 1 : 0 }, shape: [1, t, t])
        var rng = SplitMix64(seed: 3)
        let plain = try #require(Tensor.headAttention(q: q, k: k, v: eye, heads: 1, mask: nil, scale: 1, rng: &rng))
        let dropped = try #require(Tensor.headAttention(q: q, k: k, v: eye, heads: 1, mask: nil, scale: 1, dropout: 0.25, rng: &rng))
        var zeros = 0
        for i in 0..<(t * t) {
            if dropped.storage[i] == 0 { zeros += 1 } else {
                #expect(abs(dropped.storage[i] - plain.storage[i] / 0.75) <= 1e-6 * max(1, plain.storage[i]))
            }
        }
        // 4096 Bernoulli(0.25) draws: mean 1024, sd 27.7; ±5 sd.
        #expect(abs(zeros - 1024) < 139, "\(zeros) zeros")
    }
}

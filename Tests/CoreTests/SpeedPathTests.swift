import Foundation
import Testing
import Core
import TestSupport

/// The fast paths added for encoder speed, each checked against an independent reference:
/// singular-value tuning's single-GEMM weight path (finite differences and the adapter's own
/// composed form), and the softmax row reductions (Double sums, libm exp, the scalar kernel).
@Suite("Speed paths: SVD weight path, softmax row reductions")
struct SpeedPathTests {
    /// A 4→6 layer with singular-value tuning whose values moved away from s₀.
    private func tunedLayer(seed: UInt64) throws -> (Linear, SingularValueTuning) {
        var rng = SplitMix64(seed: seed)
        let l = Linear(inFeatures: 4, outFeatures: 6, using: &rng)
        l.freeze()
        let svt = try SingularValueTuning(layer: l)
        l.attach(svt)
        svt.values.storage = svt.values.storage.enumerated().map { $1 * (0.6 + 0.3 * Float($0)) }
        return (l, svt)
    }

    @Test("SVD weight path: gradients of s and x match central finite differences")
    func svdGradCheck() throws {
        let (l, svt) = try tunedLayer(seed: 11)
        let x = randomTensor([5, 4], seed: 3)
        let r = gradCheck([svt.values, x]) { xs in l(xs[1]) }
        #expect(r.passed, "\(r)")
    }

    @Test("SVD weight path equals the composed form y = Wx + b + U((s − s₀) ⊙ Vᵀx), output and ∂s")
    func svdMatchesComposed() throws {
        let (l, svt) = try tunedLayer(seed: 5)
        let x = randomTensor([7, 4], seed: 9, requiresGrad: false)
        let fast = l(x)
        let weights = randomTensor(fast.shape, seed: 4, requiresGrad: false)
        (fast * weights).sum().backward()
        let fastGrad = svt.values.gradStorage ?? []
        svt.values.zeroGrad()
        let composed = svt.forward(input: x, baseOutput: x.linear(weight: l.weight, bias: l.bias), layer: l)
        (composed * weights).sum().backward()
        let composedGrad = svt.values.gradStorage ?? []
        #expect(allClose(fast, composed, atol: 1e-5, rtol: 1e-5), "\(maxAbsDifference(fast, composed) ?? -1)")
        #expect(fastGrad.count == 4 && zip(fastGrad, composedGrad).allSatisfy { Swift.abs($0 - $1) <= 1e-4 * (1 + Swift.abs($1)) })
    }

    @Test("SVD weight cache: follows every change of s, dropped by merge and unmerge; bit-exact base at init")
    func svdCache() throws {
        var rng = SplitMix64(seed: 2)
        let l = Linear(inFeatures: 4, outFeatures: 6, using: &rng)
        l.freeze()
        let x = randomTensor([3, 4], seed: 1, requiresGrad: false)
        let base = withoutGrad { l(x) }
        let svt = try SingularValueTuning(layer: l)
        l.attach(svt)
        #expect(withoutGrad { l(x) }.storage == base.storage)
        var previous = withoutGrad { l(x) }.storage
        for step in 1...3 {  // an optimizer-style in-place update between calls
            for j in 0..<svt.values.count { svt.values.storage[j] *= 1 + 0.1 * Float(step) }
            let now = withoutGrad { l(x) }
            let reference = withoutGrad { svt.forward(input: x, baseOutput: x.linear(weight: l.weight, bias: l.bias), layer: l) }
            #expect(now.storage != previous && allClose(now, reference, atol: 1e-5, rtol: 1e-5))
            previous = now.storage
        }
        l.merge()
        let merged = withoutGrad { l(x) }.storage
        l.unmerge()
        let unmerged = withoutGrad { l(x) }
        #expect(zip(merged, previous).allSatisfy { Swift.abs($0 - $1) < 1e-5 })
        #expect(zip(unmerged.storage, previous).allSatisfy { Swift.abs($0 - $1) < 1e-5 })
    }

    @Test("row maximum and sums match Double references on every tail length", arguments: [0, 1, 7, 8, 9, 33, 1214])
    func reductions(_ n: Int) {
        let x = randomTensor([Swift.max(n, 1)], seed: UInt64(n + 1), requiresGrad: false).storage
        let y = randomTensor([Swift.max(n, 1)], seed: UInt64(n + 100), requiresGrad: false).storage
        let m = x.withUnsafeBufferPointer { VectorMath.maximum($0.baseAddress!, n) }
        #expect(m == (n == 0 ? -Float.infinity : x[0..<n].max()!))
        let s = x.withUnsafeBufferPointer { VectorMath.sum($0.baseAddress!, n) }
        let d = x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { VectorMath.sum(xp.baseAddress!, times: $0.baseAddress!, n) } }
        let sRef = (0..<n).reduce(0.0) { $0 + Double(x[$1]) }
        let dRef = (0..<n).reduce(0.0) { $0 + Double(x[$1]) * Double(y[$1]) }
        #expect(Swift.abs(Double(s) - sRef) <= 1e-5 * (1 + Double(n)) && Swift.abs(Double(d) - dRef) <= 1e-5 * (1 + Double(n)))
    }

    @Test("expNonPositive agrees with libm exp (relative 2.4e-7, two float ulps at 1) on [−87.3, 0] and is 0 below")
    func expNonPositive() {
        var worst: Float = 0
        for i in 0...20_000 {
            let x = -87.3 * Float(i) / 20_000
            let ref = Foundation.exp(Double(x))
            let e = VectorMath.expNonPositive(x)
            worst = Swift.max(worst, Float(Swift.abs(Double(e) - ref) / ref))
        }
        #expect(worst <= 2.4e-7, "relative error \(worst)")
        #expect(VectorMath.expNonPositive(-1e9) == 0 && VectorMath.expNonPositive(-.infinity) == 0 && VectorMath.expNonPositive(0) == 1)
    }

    @Test("softmax backward row equals the scalar kernel's", arguments: [1, 9, 257, 1214])
    func softmaxBackward(_ n: Int) {
        var p = randomTensor([n], seed: 3, requiresGrad: false).storage
        let dy = randomTensor([n], seed: 4, requiresGrad: false).storage
        p.withUnsafeMutableBufferPointer { VectorMath.softmaxRow($0.baseAddress!, $0.baseAddress!, n) }
        var fast = [Float](repeating: 0, count: n), ref = fast
        VectorMath.softmaxBackwardRow(&fast, dy, p, n)
        SoftmaxKernel.backwardRow(&ref, dy, p, n)
        #expect(zip(fast, ref).allSatisfy { Swift.abs($0 - $1) <= 1e-6 * (1 + Swift.abs($1)) })
    }
}

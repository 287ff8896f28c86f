import Foundation
import Testing
import Core
import TestSupport

/// The fused hot-op kernels against three independent references: central finite differences
/// (gradCheck), the composed versions built from verified primitives (Tensor+Composite.swift),
/// and a few values worked out by hand.
@Suite struct KernelTests {
    // MARK: - Helpers

    /// Runs `fused` and `composed` on fresh copies of `inputs`, back-propagates the same random
    /// upstream gradient through both, and checks outputs and every input gradient agree.
    func expectMatchesComposed(
        _ name: String, _ inputs: [Tensor], atol: Float = 2e-5, rtol: Float = 1e-4,
        fused: ([Tensor]) -> Tensor, composed: ([Tensor]) -> Tensor
    ) {
        func run(_ f: ([Tensor]) -> Tensor) -> (Tensor, [Tensor?]) {
            let xs = inputs.map { Tensor($0.storage, shape: $0.shape, requiresGrad: $0.requiresGrad) }
            let y = f(xs)
            let w = randomTensor(y.shape, seed: 99, requiresGrad: false)
            (y * w).sum().backward()
            return (y.detached(), xs.map { $0.grad })
        }
        let (yf, gf) = run(fused)
        let (yc, gc) = run(composed)
        #expect(allClose(yf, yc, atol: atol, rtol: rtol), "\(name) forward: \(differenceReport(yf, yc))")
        for i in inputs.indices {
            switch (gf[i], gc[i]) {
            case let (a?, b?):
                #expect(allClose(a, b, atol: atol, rtol: rtol), "\(name) grad of input \(i): \(differenceReport(a, b))")
            case (nil, nil): break
            default: Issue.record("\(name): input \(i) has a gradient in only one version")
            }
        }
    }

    /// Additive key-padding mask `[B, 1, 1, Tk]`: 0 for the first `lengths[b]` keys, `value` after.
    func paddingMask(lengths: [Int], Tk: Int, value: Float = -1e9) -> Tensor {
        var m = [Float](repeating: 0, count: lengths.count * Tk)
        for (b, n) in lengths.enumerated() { for j in n..<Tk { m[b * Tk + j] = value } }
        return Tensor(m, shape: [lengths.count, 1, 1, Tk])
    }

    // MARK: - LayerNorm

    @Test func layerNormGradCheck() {
        let x = randomTensor([3, 5], seed: 1)
        let w = randomTensor([5], seed: 2), b = randomTensor([5], seed: 3)
        let r = gradCheck([x, w, b]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
        #expect(r.passed, "layerNorm affine: \(r)")
        let r2 = gradCheck([randomTensor([2, 3, 4], seed: 4)]) { $0[0].layerNorm(weight: nil, bias: nil) }
        #expect(r2.passed, "layerNorm plain: \(r2)")
    }

    @Test func layerNormMatchesComposed() {
        // [64, 384] splits into row blocks on every machine with more than one core.
        let x = randomTensor([64, 384], seed: 5, std: 3)
        let w = randomTensor([384], seed: 6), b = randomTensor([384], seed: 7)
        expectMatchesComposed("layerNorm", [x, w, b], fused: { $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-12) },
                              composed: { $0[0].layerNormComposed(weight: $0[1], bias: $0[2], eps: 1e-12) })
        expectMatchesComposed("layerNorm weight only", [x, w], fused: { $0[0].layerNorm(weight: $0[1], bias: nil) },
                              composed: { $0[0].layerNormComposed(weight: $0[1], bias: nil, eps: 1e-5) })
        expectMatchesComposed("layerNorm bias only", [x, b], fused: { $0[0].layerNorm(weight: nil, bias: $0[1]) },
                              composed: { $0[0].layerNormComposed(weight: nil, bias: $0[1], eps: 1e-5) })
    }

    @Test func layerNormFrozenAffineGetsNoGradient() {
        let x = randomTensor([4, 6], seed: 8)
        let w = randomTensor([6], seed: 9, requiresGrad: false), b = randomTensor([6], seed: 10, requiresGrad: false)
        x.layerNorm(weight: w, bias: b).square().sum().backward()
        #expect(w.gradStorage == nil && b.gradStorage == nil)
        #expect(x.gradStorage != nil)
        // Only the bias trains (x frozen): x gets nothing, bias gets Σ over rows of the upstream grad.
        let x2 = randomTensor([4, 6], seed: 8, requiresGrad: false)
        let b2 = randomTensor([6], seed: 10)
        x2.layerNorm(weight: nil, bias: b2).sum().backward()
        #expect(x2.gradStorage == nil)
        #expect(b2.gradStorage == [Float](repeating: 4, count: 6))  // d/dβ of Σ(y) = number of rows
    }

    @Test func layerNormExactValues() {
        // Hand algebra: x = [1, 2, 3] has μ = 2, σ² = 2/3, so with eps = 0 the output is
        // (x − 2)/√(2/3) = [−1.2247449, 0, 1.2247449]; then ·γ = [1, 2, 3] and +β = [0.5, 0.5, 0.5].
        let y = Tensor([1, 2, 3], shape: [1, 3]).layerNorm(weight: Tensor([1, 2, 3]), bias: Tensor([0.5, 0.5, 0.5]), eps: 0)
        #expect(allClose(y, Tensor([0.5 - 1.2247449, 0.5, 0.5 + 3 * 1.2247449], shape: [1, 3]), atol: 1e-6))
        // A large offset (1e4 + [1, 2, 3]) must not destroy the statistics (two-pass variance).
        let z = Tensor([10001, 10002, 10003], shape: [1, 3]).layerNorm(weight: nil, bias: nil, eps: 0)
        #expect(allClose(z, Tensor([-1.2247449, 0, 1.2247449], shape: [1, 3]), atol: 1e-4))
    }

    // MARK: - Softmax

    @Test func softmaxGradCheckAndComposed() {
        let x = randomTensor([3, 7], seed: 11)
        let r = gradCheck([x]) { $0[0].softmax() }
        #expect(r.passed, "softmax: \(r)")
        expectMatchesComposed("softmax", [randomTensor([2, 40, 129], seed: 12, std: 4)],
                              fused: { $0[0].softmax() }, composed: { $0[0].softmaxComposed() })
    }

    @Test func softmaxExactAndFullyMasked() {
        // Hand algebra: exp(0) = 1 and exp(ln 2) = 2, so softmax([0, ln 2]) = [1/3, 2/3].
        let y = Tensor([0, Float(M_LN2)], shape: [1, 2]).softmax()
        #expect(allClose(y, Tensor([1.0 / 3, 2.0 / 3], shape: [1, 2]), atol: 1e-7))
        // Large logits would overflow exp without subtracting the row max.
        let big = Tensor([1000, 1000 + Float(M_LN2)], shape: [1, 2]).softmax()
        #expect(allClose(big, Tensor([1.0 / 3, 2.0 / 3], shape: [1, 2]), atol: 1e-4))
        // A row of all −∞ is defined as zeros with a zero gradient; the other row is untouched.
        let x = Tensor([-.infinity, -.infinity, 0, Float(M_LN2)], shape: [2, 2], requiresGrad: true)
        let s = x.softmax()
        #expect(allClose(s, Tensor([0, 0, 1.0 / 3, 2.0 / 3], shape: [2, 2]), atol: 1e-7))
        (s * Tensor([1, 2, 3, 4], shape: [2, 2])).sum().backward()
        #expect(x.gradStorage!.allSatisfy { $0.isFinite })
        #expect(Array(x.gradStorage![0..<2]) == [0, 0])
    }

    // MARK: - GELU

    @Test func geluGradCheckAndComposed() {
        let x = randomTensor([4, 5], seed: 13, std: 2)
        #expect(gradCheck([x]) { $0[0].gelu() }.passed)
        #expect(gradCheck([x]) { $0[0].geluTanh() }.passed)
        let big = randomTensor([70_000], seed: 14, std: 3)  // large enough to run on all cores
        expectMatchesComposed("gelu", [big], fused: { $0[0].gelu() }, composed: { $0[0].geluComposed() })
        expectMatchesComposed("geluTanh", [big], fused: { $0[0].geluTanh() }, composed: { $0[0].geluTanhComposed() })
    }

    @Test func geluExactValues() {
        // GELU(x) = x·Φ(x); Φ(1) = ½(1 + erf(1/√2)) = 0.8413447 (standard normal table), so
        // GELU(1) = 0.8413447, GELU(−1) = −(1 − Φ(1)) = −0.1586553, GELU(0) = 0.
        #expect(allClose(Tensor([1, -1, 0]).gelu(), Tensor([0.8413447, -0.1586553, 0]), atol: 1e-6))
        // Tanh form: ½(1 + tanh(√(2/π)·1.044715)) = 0.8411920 for x = 1 (evaluated by hand with a calculator).
        #expect(allClose(Tensor([1, 0]).geluTanh(), Tensor([0.8411920, 0]), atol: 1e-6))
    }

    // MARK: - Cross-entropy

    @Test func crossEntropyGradCheckWithIgnoredRows() {
        let logits = randomTensor([5, 4], seed: 15)
        let targets = [2, -100, 0, 3, -100]
        let r = gradCheck([logits]) { $0[0].crossEntropy(targets: targets) }
        #expect(r.passed, "crossEntropy: \(r)")
        let r2 = gradCheck([logits]) { $0[0].crossEntropy(targets: [1, 0, 7, 3, 7], ignoreIndex: 7, labelSmoothing: 0.1) }
        #expect(r2.passed, "crossEntropy smoothed: \(r2)")
    }

    @Test func crossEntropyMatchesComposed() {
        var rng = SplitMix64(seed: 16)
        let targets = (0..<300).map { i in i % 7 == 0 ? -100 : Int(rng.next() % 50) }
        expectMatchesComposed("crossEntropy", [randomTensor([300, 50], seed: 17, std: 3)],
                              fused: { $0[0].crossEntropy(targets: targets) },
                              composed: { $0[0].crossEntropyComposed(targets: targets) })
    }

    @Test func crossEntropyExactValues() {
        // Equal logits over 2 classes: loss = ln 2 whatever the target.
        #expect(abs(Tensor([0, 0], shape: [1, 2]).crossEntropy(targets: [1]).item - Float(M_LN2)) < 1e-7)
        // Logits [0, ln 2], target 1, ε = 0.1: q = [0.05, 0.95], log-softmax = [−ln 3, ln 2 − ln 3],
        // loss = −Σ q·log p = ln 3 − 0.95·ln 2 = 0.4401225 (hand algebra).
        let l = Tensor([0, Float(M_LN2)], shape: [1, 2]).crossEntropy(targets: [1], labelSmoothing: 0.1)
        #expect(abs(l.item - 0.4401225) < 1e-6)
        // Ignored rows are not counted: mean over the one kept row equals that row's loss.
        let two = Tensor([0, 0, 5, -5], shape: [2, 2]).crossEntropy(targets: [0, -100])
        #expect(abs(two.item - Float(M_LN2)) < 1e-7)
        // All rows ignored: 0 (torch gives NaN), and backward leaves a zero gradient.
        let x = Tensor([1, 2], shape: [1, 2], requiresGrad: true)
        let none = x.crossEntropy(targets: [-100])
        #expect(none.item == 0)
        none.backward()
        #expect((x.gradStorage ?? [0, 0]) == [0, 0])
    }

    // MARK: - Attention

    @Test func attentionGradCheck() {
        let q = randomTensor([2, 2, 3, 4], seed: 18), k = randomTensor([2, 2, 5, 4], seed: 19)
        let v = randomTensor([2, 2, 5, 3], seed: 20)
        let r = gradCheck([q, k, v]) { Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2]) }
        #expect(r.passed, "attention: \(r)")
        let mask = paddingMask(lengths: [5, 3], Tk: 5)
        let r2 = gradCheck([q, k, v]) { Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], mask: mask) }
        #expect(r2.passed, "attention with padding mask: \(r2)")
        // A learnable additive bias over [Tq, Tk] (relative-position style) gets a gradient too.
        let bias = randomTensor([3, 5], seed: 21)
        let r3 = gradCheck([q, k, v, bias]) {
            Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], mask: $0[3], scale: 0.7)
        }
        #expect(r3.passed, "attention with trainable bias: \(r3)")
    }

    @Test func attentionMatchesComposed() {
        let q = randomTensor([3, 4, 17, 8], seed: 22), k = randomTensor([3, 4, 19, 8], seed: 23)
        let v = randomTensor([3, 4, 19, 6], seed: 24)
        expectMatchesComposed("attention", [q, k, v],
                              fused: { Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2]) },
                              composed: { Tensor.attentionComposed(q: $0[0], k: $0[1], v: $0[2]) })
        let pad = paddingMask(lengths: [19, 7, 1], Tk: 19)
        expectMatchesComposed("attention padded", [q, k, v],
                              fused: { Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], mask: pad) },
                              composed: { Tensor.attentionComposed(q: $0[0], k: $0[1], v: $0[2], mask: pad) })
        // Causal [Tq, Tk] mask, trainable, with only q trainable among q/k/v (frozen k and v get nothing).
        var causal = [Float](repeating: 0, count: 17 * 19)
        for i in 0..<17 { for j in 0..<19 where j > i { causal[i * 19 + j] = -1e9 } }
        let kf = Tensor(k.storage, shape: k.shape), vf = Tensor(v.storage, shape: v.shape)
        expectMatchesComposed("attention causal", [q, kf, vf, Tensor(causal, shape: [17, 19], requiresGrad: true)],
                              fused: { Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], mask: $0[3]) },
                              composed: { Tensor.attentionComposed(q: $0[0], k: $0[1], v: $0[2], mask: $0[3]) })
        // 3-D inputs (no head axis): the leading axes are just a batch.
        expectMatchesComposed("attention 3-D", [randomTensor([2, 5, 4], seed: 25), randomTensor([2, 6, 4], seed: 26),
                                                randomTensor([2, 6, 3], seed: 27)],
                              fused: { Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2]) },
                              composed: { Tensor.attentionComposed(q: $0[0], k: $0[1], v: $0[2]) })
    }

    @Test func attentionExactAndFullyMasked() {
        // Hand algebra with scale 1, D = 1: q = 1, keys [0, ln 2] give scores [0, ln 2], so
        // P = [1/3, 2/3] and the output is 3·(1/3) + 6·(2/3) = 5. Masking key 1 with −∞ leaves 3.
        let q = Tensor([1], shape: [1, 1, 1, 1]), k = Tensor([0, Float(M_LN2)], shape: [1, 1, 2, 1])
        let v = Tensor([3, 6], shape: [1, 1, 2, 1])
        #expect(abs(Tensor.scaledDotProductAttention(q: q, k: k, v: v, scale: 1).item - 5) < 1e-5)
        let m = Tensor([0, -.infinity], shape: [1, 1, 1, 2])
        #expect(abs(Tensor.scaledDotProductAttention(q: q, k: k, v: v, mask: m, scale: 1).item - 3) < 1e-6)

        // Every key of batch 1 masked with −∞: its outputs are 0 and all gradients stay finite.
        let q2 = randomTensor([2, 2, 3, 4], seed: 28), k2 = randomTensor([2, 2, 5, 4], seed: 29)
        let v2 = randomTensor([2, 2, 5, 4], seed: 30)
        let mask = paddingMask(lengths: [5, 0], Tk: 5, value: -.infinity)
        let o = Tensor.scaledDotProductAttention(q: q2, k: k2, v: v2, mask: mask)
        #expect(o.storage.allSatisfy { $0.isFinite })
        #expect(o.storage[(o.count / 2)...].allSatisfy { $0 == 0 })
        (o * randomTensor(o.shape, seed: 31, requiresGrad: false)).sum().backward()
        for t in [q2, k2, v2] { #expect(t.gradStorage!.allSatisfy { $0.isFinite }) }
        // Batch 0 is unaffected by batch 1's mask: it equals the unmasked composed result.
        let ref = Tensor.attentionComposed(q: q2.slice(axis: 0, 0..<1), k: k2.slice(axis: 0, 0..<1), v: v2.slice(axis: 0, 0..<1))
        #expect(allClose(o.slice(axis: 0, 0..<1), ref, atol: 1e-5))
    }
}

/// Timing of each fused kernel against its composed version at encoder-layer sizes
/// (B = 16, H = 12, T = 128, D = 32, hidden 384). Not a correctness test: it runs only with
/// `PEFTKIT_BENCH=1` and prints a table (about 10 s on 2 cores).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PEFTKIT_BENCH"] != nil))
struct KernelBenchmarks {
    /// Best of `repeats` wall times in milliseconds.
    func best(_ repeats: Int = 3, _ body: () -> Void) -> Double {
        var t = Double.infinity
        for _ in 0..<repeats {
            let d = ContinuousClock().measure(body)
            t = min(t, Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15)
        }
        return t
    }

    /// Forward time and forward + backward time of `f` on `inputs`.
    func time(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> (Double, Double) {
        let fwd = best { _ = withoutGrad { f(inputs) } }
        let both = best {
            for x in inputs { x.zeroGrad() }
            let y = f(inputs)
            y.backward(gradient: y.filled(1))
        }
        return (fwd, both)
    }

    func row(_ name: String, _ fused: (Double, Double), _ composed: (Double, Double)) {
        func f(_ v: Double) -> String { String(format: "%8.2f", v) }
        print("\(name.padding(toLength: 34, withPad: " ", startingAt: 0)) fwd \(f(fused.0)) vs \(f(composed.0)) ms (×\(String(format: "%.1f", composed.0 / fused.0)))"
              + "   fwd+bwd \(f(fused.1)) vs \(f(composed.1)) ms (×\(String(format: "%.1f", composed.1 / fused.1)))")
    }

    @Test func fusedVersusComposed() {
        print("OpenBLAS core \(BLAS.coreName), \(BLAS.threads) BLAS threads, \(Parallelism.workers) workers")
        let x = randomTensor([2048, 384], seed: 1), w = randomTensor([384], seed: 2), b = randomTensor([384], seed: 3)
        row("layerNorm [2048, 384]", time([x, w, b]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) },
            time([x, w, b]) { $0[0].layerNormComposed(weight: $0[1], bias: $0[2], eps: 1e-5) })
        let s = randomTensor([16 * 12 * 128, 128], seed: 4)
        row("softmax [24576, 128]", time([s]) { $0[0].softmax() }, time([s]) { $0[0].softmaxComposed() })
        let h = randomTensor([2048, 1536], seed: 5)
        row("gelu [2048, 1536]", time([h]) { $0[0].gelu() }, time([h]) { $0[0].geluComposed() })
        row("geluTanh [2048, 1536]", time([h]) { $0[0].geluTanh() }, time([h]) { $0[0].geluTanhComposed() })
        let logits = randomTensor([2048, 1000], seed: 6)
        let targets = (0..<2048).map { $0 % 10 == 0 ? -100 : ($0 * 7919) % 1000 }
        row("crossEntropy [2048, 1000]", time([logits]) { $0[0].crossEntropy(targets: targets) },
            time([logits]) { $0[0].crossEntropyComposed(targets: targets) })
        let q = randomTensor([16, 12, 128, 32], seed: 7), k = randomTensor([16, 12, 128, 32], seed: 8)
        let v = randomTensor([16, 12, 128, 32], seed: 9)
        var m = [Float](repeating: 0, count: 16 * 128)
        for bi in 0..<16 { for j in (64 + 4 * bi)..<128 { m[bi * 128 + j] = -1e9 } }
        let mask = Tensor(m, shape: [16, 1, 1, 128])
        row("attention 16×12×128×32, padded", time([q, k, v]) { Tensor.scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], mask: mask) },
            time([q, k, v]) { Tensor.attentionComposed(q: $0[0], k: $0[1], v: $0[2], mask: mask) })
    }

    /// Serial loop versus `parallelChunks` over the same raw kernels (OpenBLAS keeps its own
    /// threads, so the attention GEMMs may nest inside our workers).
    @Test func serialVersusParallel() {
        let N = 2048, C = 384
        let x = randomTensor([N, C], seed: 1).storage
        var out = [Float](repeating: 0, count: N * C), stats = [Float](repeating: 0, count: 2 * N)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                stats.withUnsafeMutableBufferPointer { sp in
                    let xs = SendableConstPointer(xp.baseAddress!), os = SendablePointer(op.baseAddress!)
                    let ss = SendablePointer(sp.baseAddress!)
                    let serial = best(5) {
                        LayerNormKernel.forward(out: os.base, mean: ss.base, rstd: ss.base + N, x: xs.base, weight: nil,
                                                bias: nil, rows: 0..<N, C: C, eps: 1e-5)
                    }
                    let parallel = best(5) {
                        parallelChunks(N, costPerItem: 4 * C) {
                            LayerNormKernel.forward(out: os.base, mean: ss.base, rstd: ss.base + N, x: xs.base, weight: nil,
                                                    bias: nil, rows: $0, C: C, eps: 1e-5)
                        }
                    }
                    print("layerNorm forward [2048, 384]: serial \(String(format: "%.2f", serial)) ms, parallel \(String(format: "%.2f", parallel)) ms")
                }
            }
        }
        let BH = 16 * 12, T = 128, D = 32
        let q = randomTensor([BH, T, D], seed: 2).storage, k = randomTensor([BH, T, D], seed: 3).storage
        let v = randomTensor([BH, T, D], seed: 4).storage
        var o = [Float](repeating: 0, count: BH * T * D), p = [Float](repeating: 0, count: BH * T * T)
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
            o.withUnsafeMutableBufferPointer { op in p.withUnsafeMutableBufferPointer { pp in
                let qs = SendableConstPointer(qp.baseAddress!), ks = SendableConstPointer(kp.baseAddress!)
                let vs = SendableConstPointer(vp.baseAddress!)
                let os = SendablePointer(op.baseAddress!), ps = SendablePointer(pp.baseAddress!)
                // What the kernel does: slices one after another, OpenBLAS threads inside each GEMM.
                let serial = best(5) {
                    AttentionKernel.forward(out: os.base, probs: ps.base, q: qs.base, k: ks.base, v: vs.base, mask: nil,
                                            BH: BH, Tq: T, Tk: T, D: D, Dv: D, scale: 0.17)
                }
                // The rejected alternative: slices split over our workers, each calling sgemm (nested threads).
                let parallel = best(5) { parallelChunks(BH, costPerItem: 4 * T * T * D) { slices in
                    for bh in slices {
                        AttentionKernel.forward(out: os.base + bh * T * D, probs: ps.base + bh * T * T, q: qs.base + bh * T * D,
                                                k: ks.base + bh * T * D, v: vs.base + bh * T * D, mask: nil,
                                                BH: 1, Tq: T, Tk: T, D: D, Dv: D, scale: 0.17)
                    }
                } }
                print("attention forward 16×12×128×32: serial \(String(format: "%.2f", serial)) ms, parallel \(String(format: "%.2f", parallel)) ms")
            } }
        } } }
    }
}

@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The Conformer-convolution adapter: forward against a plain-loop reference written from the
/// module's definition (pointwise conv → GLU → depthwise conv 'same' → BatchNorm → SiLU →
/// pointwise conv), gradients against finite differences, BatchNorm train/eval behaviour.
@Suite("PETL Conformer adapter")
struct PETLConformerTests {
    /// The adapter's transform computed with scalar loops over `x [B, T, d]`, BatchNorm with the
    /// given per-channel statistics.
    static func reference(_ a: ConformerAdapter, _ x: Tensor, mean: [Float], variance: [Float]) -> [Float] {
        let bsz = x.shape[0], t = x.shape[1], d = a.width, b = a.bottleneck, k = a.kernelSize, pad = (k - 1) / 2
        let w1 = a.pointwise1.weight.storage, b1 = a.pointwise1.bias!.storage
        let wd = a.depthwise.weight.storage, bd = a.depthwise.bias!.storage
        let w2 = a.pointwise2.weight.storage, b2 = a.pointwise2.bias!.storage
        let gamma = a.batchNorm.weight.storage, beta = a.batchNorm.bias.storage
        var out = [Float](repeating: 0, count: bsz * t * d)
        for n in 0..<bsz {
            // Pointwise 1 and GLU: g[c][τ] = y[c] · σ(y[c + b]).
            var g = [[Float]](repeating: [Float](repeating: 0, count: t), count: b)
            for tau in 0..<t {
                var y = [Float](repeating: 0, count: 2 * b)
                for o in 0..<(2 * b) {
                    var s = b1[o]
                    for i in 0..<d { s += w1[o * d + i] * x.storage[(n * t + tau) * d + i] }
                    y[o] = s
                }
                for c in 0..<b { g[c][tau] = y[c] * (1 / (1 + exp(-y[c + b]))) }
            }
            // Depthwise conv with zero padding, BatchNorm, SiLU.
            var h = [[Float]](repeating: [Float](repeating: 0, count: t), count: b)
            for c in 0..<b {
                for tau in 0..<t {
                    var s = bd[c]
                    for j in 0..<k {
                        let src = tau - pad + j
                        if src >= 0 && src < t { s += wd[c * k + j] * g[c][src] }
                    }
                    let z = (s - mean[c]) / (variance[c] + 1e-5).squareRoot() * gamma[c] + beta[c]
                    h[c][tau] = z / (1 + exp(-z))
                }
            }
            for tau in 0..<t {
                for o in 0..<d {
                    var s = b2[o]
                    for c in 0..<b { s += w2[o * b + c] * h[c][tau] }
                    out[(n * t + tau) * d + o] = s
                }
            }
        }
        return out
    }

    @Test("eval-mode forward equals the loop reference with running statistics")
    func evalForward() throws {
        let a = try ConformerAdapter(width: 12, reductionRate: 3, kernelSize: 5, seed: 4)
        #expect(a.bottleneck == 4)
        a.batchNorm.runningMean.storage = [0.1, -0.2, 0.3, 0.0]
        a.batchNorm.runningVar.storage = [0.5, 1.5, 2.0, 0.8]
        a.eval()
        let x = randomTensor([2, 9, 12], seed: 1, requiresGrad: false)
        let y = withoutGrad { a.transform(x) }
        let ref = Self.reference(a, x, mean: a.batchNorm.runningMean.storage, variance: a.batchNorm.runningVar.storage)
        #expect(allClose(y, Tensor(ref, shape: y.shape), atol: 1e-5, rtol: 1e-4), "\(differenceReport(y, Tensor(ref, shape: y.shape)))")
    }

    @Test("train-mode forward uses batch statistics and updates the running ones (momentum 0.1, unbiased)")
    func trainForward() throws {
        let a = try ConformerAdapter(width: 8, reductionRate: 2, kernelSize: 3, seed: 5)
        a.train()
        let x = randomTensor([3, 7, 8], seed: 2, requiresGrad: false)
        // Batch statistics of the depthwise output, computed from an eval pass with identity BN.
        a.batchNorm.runningMean.storage = [0, 0, 0, 0]
        a.batchNorm.runningVar.storage = [Float](repeating: 1 - 1e-5, count: 4)
        let savedGamma = a.batchNorm.weight.storage, savedBeta = a.batchNorm.bias.storage
        a.batchNorm.weight.storage = [1, 1, 1, 1]; a.batchNorm.bias.storage = [0, 0, 0, 0]
        a.eval()
        let pre = withoutGrad { () -> Tensor in
            let w1 = a.pointwise1.weight.reshaped([8, 8])
            let e = x.linear(weight: w1, bias: a.pointwise1.bias)
            let g = e.slice(axis: 2, 0..<4) * e.slice(axis: 2, 4..<8).sigmoid()
            return a.depthwise(g.transposed(1, 2))  // [3, 4, 7]
        }
        a.batchNorm.weight.storage = savedGamma; a.batchNorm.bias.storage = savedBeta
        var mean = [Float](repeating: 0, count: 4), variance = [Float](repeating: 0, count: 4)
        for c in 0..<4 {
            var vals: [Float] = []
            for n in 0..<3 { for t in 0..<7 { vals.append(pre.storage[(n * 4 + c) * 7 + t]) } }
            mean[c] = vals.reduce(0, +) / Float(vals.count)
            variance[c] = vals.reduce(0) { $0 + ($1 - mean[c]) * ($1 - mean[c]) } / Float(vals.count)
        }
        a.batchNorm.runningMean.storage = [0, 0, 0, 0]
        a.batchNorm.runningVar.storage = [1, 1, 1, 1]
        a.train()
        let y = withoutGrad { a.transform(x) }
        let ref = Self.reference(a, x, mean: mean, variance: variance)
        #expect(allClose(y, Tensor(ref, shape: y.shape), atol: 1e-4, rtol: 1e-3), "\(differenceReport(y, Tensor(ref, shape: y.shape)))")
        for c in 0..<4 {
            #expect(abs(a.batchNorm.runningMean.storage[c] - 0.1 * mean[c]) < 1e-5)
            #expect(abs(a.batchNorm.runningVar.storage[c] - (0.9 + 0.1 * variance[c] * 21 / 20)) < 1e-5)
        }
    }

    @Test("gradients of input and every parameter match finite differences (train and eval mode)")
    func gradients() throws {
        for training in [true, false] {
            let a = try ConformerAdapter(width: 6, reductionRate: 2, kernelSize: 5, seed: 9)
            a.batchNorm.runningMean.storage = [0.2, -0.1, 0.05]
            a.batchNorm.runningVar.storage = [0.7, 1.3, 0.9]
            a.train(training)
            let x = randomTensor([2, 5, 6], seed: 3)
            let params = a.trainableTensors
            for p in params { #expect(p.requiresGrad) }
            let result = gradCheck([x] + params, eps: 1e-2) { _ in a.transform(x) }
            #expect(result.passed, "training=\(training): \(result)")
        }
    }

    @Test("placements: parallel adds A(input) to the output, sequential replaces or adds to it")
    func placements() throws {
        let x = randomTensor([1, 4, 6], seed: 5, requiresGrad: false)
        let s = randomTensor([1, 4, 6], seed: 6, requiresGrad: false)
        for (placement, residual) in [(BottleneckPlacement.parallel, false), (.parallel, true), (.series, false), (.series, true)] {
            let a = try ConformerAdapter(width: 6, reductionRate: 2, kernelSize: 3, placement: placement, residual: residual, seed: 2)
            a.eval()
            let got = withoutGrad { a.forward(input: x, output: s) }
            let expected = withoutGrad { () -> Tensor in
                switch (placement, residual) {
                case (.parallel, false): return s + a.transform(x)
                case (.parallel, true): return s + a.transform(x) + x
                case (.series, false): return a.transform(s)
                default: return s + a.transform(s)
                }
            }
            #expect(allClose(got, expected, atol: 1e-6, rtol: 0))
        }
    }

    @Test("bad settings are one clear error")
    func badSettings() {
        #expect(throws: AdapterError.self) { try ConformerAdapter(width: 8, reductionRate: 2, kernelSize: 4, seed: 1) }
        #expect(throws: AdapterError.self) { try ConformerAdapter(width: 8, reductionRate: 100, seed: 1) }
    }
}

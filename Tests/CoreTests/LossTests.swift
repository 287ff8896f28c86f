import Foundation
import Testing
import Core
import TestSupport

@Suite struct LossTests {
    /// mean((p − t)²) for p = [1, 2, 3], t = [0, 2, 5]: (1 + 0 + 4)/3; gradient 2(p − t)/3.
    @Test func mse() {
        let p = Tensor([1, 2, 3], requiresGrad: true)
        let loss = p.mseLoss(Tensor([0, 2, 5]))
        #expect(Swift.abs(loss.item - 5.0 / 3) < 1e-6)
        loss.backward()
        #expect(zip(p.gradStorage!, [2.0 / 3, 0, -4.0 / 3]).allSatisfy { Swift.abs(Double($0) - $1) < 1e-6 })
    }

    /// BCE with logits: ℓ(x, y) = −[y·log σ(x) + (1 − y)·log(1 − σ(x))], gradient σ(x) − y (over N).
    /// x = 0, y = 1: log 2 with gradient −0.5 (the point where an abs-based composition gets −1);
    /// x = 100, y = 0: 100 (no overflow); x = −100, y = 0: e^−100 ≈ 0; x = 2, y = 0.25: log(1 + e²) − 0.5.
    @Test func bceWithLogitsIsStableAndExactAtZero() {
        let x = Tensor([0, 100, -100, 2], requiresGrad: true)
        let y = Tensor([1, 0, 0, 0.25])
        let loss = x.binaryCrossEntropyWithLogits(y)
        let terms = [Foundation.log(2.0), 100, 0, Foundation.log(1 + Foundation.exp(2.0)) - 0.5]
        #expect(Swift.abs(Double(loss.item) - terms.reduce(0, +) / 4) < 1e-5)
        loss.backward()
        let sig2 = 1 / (1 + Foundation.exp(-2.0))
        let grads = [-0.5, 1, 0, sig2 - 0.25].map { $0 / 4 }
        for i in 0..<4 { #expect(Swift.abs(Double(x.gradStorage![i]) - grads[i]) < 1e-6, "grad \(i)") }
        let xs = randomTensor([3, 2], seed: 1), ys = Tensor([0.1, 0.9, 0.5, 0, 1, 0.3], shape: [3, 2], requiresGrad: true)
        let pw = Tensor([2, 0.5])
        let r = gradCheck([xs, ys]) { $0[0].binaryCrossEntropyWithLogits($0[1], posWeight: pw) }
        #expect(r.passed, "\(r)")
        // pos_weight w on x = 0, y = 1: w·log 2.
        #expect(Swift.abs(Tensor([0]).binaryCrossEntropyWithLogits(Tensor([1]), posWeight: Tensor([3])).item - 3 * Float(Foundation.log(2.0))) < 1e-6)
    }

    /// Token logits [B, T, C] give the same loss as the flattened [B·T, C] rows, with ignored rows skipped.
    /// Hand value: logits rows [0, 0] (target 0) and [ln 3, 0] (target 1): (ln 2 + ln 4)/2.
    @Test func crossEntropyOverTokens() {
        let logits = Tensor([0, 0, Float(Foundation.log(3.0)), 0, 5, -5], shape: [1, 3, 2], requiresGrad: true)
        let loss = logits.crossEntropyLoss(targets: [0, 1, -100])
        #expect(Swift.abs(Double(loss.item) - (Foundation.log(2.0) + Foundation.log(4.0)) / 2) < 1e-6)
        let r = gradCheck([randomTensor([2, 3, 4], seed: 2)]) { $0[0].crossEntropyLoss(targets: [0, 3, -100, 1, 2, 2]) }
        #expect(r.passed, "\(r)")
    }
}

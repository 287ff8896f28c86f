import Testing
@testable import Core
import TestSupport

@Suite struct BatchNorm2dPReLUTests {
    @Test func preluForwardByHand() {
        // Channel 0 slope 0.25, channel 1 slope −0.5: negatives scaled, positives kept.
        let x = Tensor([-2, 1, 3, -4], shape: [1, 2, 2, 1])
        let y = x.prelu(slope: Tensor([0.25, -0.5], shape: [2, 1, 1]))
        #expect(y.storage == [-0.5, 1, 3, 2])
        let shared = Tensor([-2, 5], shape: [2]).prelu(slope: Tensor([0.1], shape: [1]))
        #expect(abs(shared.storage[0] + 0.2) < 1e-7 && shared.storage[1] == 5)
    }

    @Test func preluGradientsMatchFiniteDifferences() {
        // Keep inputs away from the kink at 0, where the finite difference is not the derivative.
        let x = randomTensor([2, 3, 4, 5], seed: 11)
        for i in 0..<x.count where abs(x.storage[i]) < 0.05 { x.storage[i] += 0.1 }
        let a = randomTensor([3], seed: 12)
        let r = gradCheck([x, a]) { t in t[0].prelu(slope: t[1]) }
        #expect(r.passed, "\(r)")
        let module = PReLU(weight: a)
        #expect(module.namedParameters().map(\.0) == ["weight"])
    }

    @Test func batchNorm2dTrainingStatisticsByHand() throws {
        let bn = try BatchNorm2d(channels: 2, at: WeightStore.random(seed: 1).root)
        // Channel 0 holds 1, 3, 5, 7 over batch 2 × 1×2 positions: mean 4, biased var 5,
        // unbiased 20/3. Channel 1 is constant 2 → normalised to 0.
        let x = Tensor([1, 3, 2, 2, 5, 7, 2, 2], shape: [2, 2, 1, 2])
        let y = bn(x)
        let s = (5 + Float(1e-5)).squareRoot()
        #expect(abs(y.storage[0] - (-3 / s)) < 1e-6 && abs(y.storage[5] - 3 / s) < 1e-6)
        #expect(y.storage[2] == 0 && y.storage[7] == 0)
        // running_mean = 0.1·4, running_var = 0.9 + 0.1·20/3.
        #expect(abs(bn.runningMean.storage[0] - 0.4) < 1e-6)
        #expect(abs(bn.runningVar.storage[0] - (0.9 + 2.0 / 3.0)) < 1e-5)
        bn.eval()
        // Eval: (x − 0.4)/√(var + eps)·1 + 0.
        let e = bn(Tensor([1, 0], shape: [1, 2, 1, 1]))
        #expect(abs(e.storage[0] - 0.6 / (0.9 + Float(2.0 / 3.0) + 1e-5).squareRoot()) < 1e-5)
    }

    @Test func batchNorm2dGradientsInBothModes() throws {
        let bn = try BatchNorm2d(channels: 3, at: WeightStore.random(seed: 2).root)
        let x = randomTensor([2, 3, 3, 4], seed: 3)
        let train = gradCheck([x, bn.weight, bn.bias]) { t in
            withoutGrad { for i in 0..<3 { bn.runningMean.storage[i] = 0; bn.runningVar.storage[i] = 1 } }
            return bn(t[0])
        }
        #expect(train.passed, "\(train)")
        bn.eval()
        for i in 0..<3 { bn.runningMean.storage[i] = Float(i) * 0.3 - 0.2; bn.runningVar.storage[i] = 0.5 + Float(i) }
        let eval = gradCheck([x, bn.weight, bn.bias]) { t in bn(t[0]) }
        #expect(eval.passed, "\(eval)")
    }
}

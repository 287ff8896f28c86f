import Testing
@testable import Core
import TestSupport

@Suite struct BatchNormConvLayerTests {
    @Test func batchNormTrainingUsesBatchStatisticsAndUpdatesRunningStats() throws {
        let bn = try BatchNorm1d(channels: 2, at: WeightStore.random(seed: 1).root)
        // Channel 0 values 1, 3 (mean 2, biased var 1, unbiased 2); channel 1 values 0, 0.
        let x = Tensor([1, 0, 3, 0], shape: [2, 2])
        let y = bn(x)
        // (1-2)/√(1+1e-5) ≈ -0.999995, (3-2)/√(1+1e-5) ≈ 0.999995; constant channel → 0.
        #expect(Swift.abs(y.storage[0] + 0.999995) < 1e-6 && Swift.abs(y.storage[2] - 0.999995) < 1e-6)
        #expect(y.storage[1] == 0 && y.storage[3] == 0)
        // running_mean = 0.9·0 + 0.1·2 = 0.2; running_var = 0.9·1 + 0.1·2 = 1.1 (unbiased batch variance).
        #expect(Swift.abs(bn.runningMean.storage[0] - 0.2) < 1e-6 && Swift.abs(bn.runningVar.storage[0] - 1.1) < 1e-6)
        #expect(Swift.abs(bn.runningVar.storage[1] - 0.9) < 1e-6)
        bn.eval()
        // Eval uses running stats: (1 - 0.2)/√(1.1 + 1e-5).
        let e = bn(Tensor([1, 0], shape: [1, 2]))
        #expect(Swift.abs(e.storage[0] - 0.8 / (1.1 + 1e-5).squareRoot()) < 1e-6)
    }

    @Test func batchNormGradientsInTrainingMode() throws {
        let bn = try BatchNorm1d(channels: 3, at: WeightStore.random(seed: 2).root)
        let x = randomTensor([4, 3, 5], seed: 3)
        let r = gradCheck([x, bn.weight, bn.bias]) { t in
            withoutGrad { for i in 0..<3 { bn.runningMean.storage[i] = 0; bn.runningVar.storage[i] = 1 } }
            return bn(t[0])
        }
        #expect(r.passed, "\(r)")
    }

    @Test func convModulesUsePyTorchNames() throws {
        let store = WeightStore.random(seed: 4)
        let c1 = try Conv1d(inChannels: 4, outChannels: 4, kernelSize: 31, padding: 15, groups: 4, at: store.root.pp("depthwise_conv"))
        #expect(c1.namedParameters().map(\.0) == ["weight", "bias"])
        #expect(c1.weight.shape == [4, 1, 31])
        // 'same' padding keeps the length.
        #expect(c1(randomTensor([2, 4, 10], seed: 5)).shape == [2, 4, 10])
        let c2 = try Conv2d(inChannels: 3, outChannels: 8, kernel: (4, 4), stride: (4, 4), at: store.root.pp("projection"))
        #expect(c2(randomTensor([1, 3, 8, 8], seed: 6)).shape == [1, 8, 2, 2])
    }
}

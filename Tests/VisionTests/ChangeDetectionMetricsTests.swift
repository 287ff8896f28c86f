import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

@Suite("ChangeDetection metrics and upsampling")
struct ChangeDetectionMetricsTests {
    @Test func handWorkedConfusionMatrix() {
        // TP 30, FP 10, FN 20, TN 140 (n = 200), worked by hand:
        // P = 30/40 = 0.75, R = 30/50 = 0.6, F1 = 60/90, IoU = 30/60 = 0.5, OA = 170/200 = 0.85,
        // p_e = (40·50 + 160·150)/200² = 0.65, kappa = (0.85 − 0.65)/(1 − 0.65) = 4/7.
        let cm = BinaryConfusionMatrix(truePositives: 30, falsePositives: 10, falseNegatives: 20, trueNegatives: 140)
        #expect(abs(cm.precision - 0.75) < 1e-12)
        #expect(abs(cm.recall - 0.6) < 1e-12)
        #expect(abs(cm.f1 - 2.0 / 3.0) < 1e-12)
        #expect(abs(cm.iou - 0.5) < 1e-12)
        #expect(abs(cm.accuracy - 0.85) < 1e-12)
        #expect(abs(cm.kappa - 4.0 / 7.0) < 1e-12)
        #expect(abs(cm.negativeIoU - 140.0 / 170.0) < 1e-12)
    }

    @Test func countsFromLabelsMatchSklearnKappa() {
        // sklearn: cohen_kappa_score([0,0,1,1,1,0,1,0], [0,1,1,1,0,0,1,0]) = 0.5
        // (TP 3, FP 1, FN 1, TN 3: p_o = 0.75, p_e = 0.5).
        var cm = BinaryConfusionMatrix()
        cm.add(predicted: [0, 1, 1, 1, 0, 0, 1, 0], truth: [0, 0, 1, 1, 255, 0, 1, 0])
        #expect(cm == BinaryConfusionMatrix(truePositives: 3, falsePositives: 1, falseNegatives: 1, trueNegatives: 3))
        #expect(abs(cm.kappa - 0.5) < 1e-12)
        #expect(abs(cm.f1 - 0.75) < 1e-12)
        var twice = cm
        twice.add(cm)
        #expect(twice.total == 16 && twice.iou == cm.iou)
    }

    @Test func degenerateSetsScoreZeroNotNaN() {
        var cm = BinaryConfusionMatrix()
        cm.add(predicted: [0, 0, 0], truth: [0, 0, 0])
        #expect(cm.iou == 0 && cm.f1 == 0 && cm.precision == 0 && cm.recall == 0)
        #expect(cm.accuracy == 1 && cm.kappa == 0)
        #expect(BinaryConfusionMatrix().accuracy == 0)
    }

    @Test func bilinearMatchesPyTorchValues() {
        // torch.nn.functional.interpolate(torch.tensor([[[[1.,2.],[3.,4.]]]]), size=(4,4),
        // mode="bilinear", align_corners=False)
        let x = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2])
        let y = x.upsampledBilinear(height: 4, width: 4)
        let expected: [Float] = [1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0]
        #expect(y.shape == [1, 1, 4, 4])
        #expect(zip(y.storage, expected).allSatisfy { abs($0 - $1) < 1e-6 })
        // Downsampling by 2 with align_corners=False averages each 2×2 block's centre samples.
        let z = Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4]).upsampledBilinear(height: 2, width: 2)
        #expect(zip(z.storage, [2.5, 4.5, 10.5, 12.5] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func bilinearGradientMatchesFiniteDifferences() {
        let x = randomTensor([2, 2, 3, 5], seed: 11)
        let r = gradCheck([x]) { xs in xs[0].upsampledBilinear(height: 7, width: 4) }
        #expect(r.passed, "\(r)")
    }
}

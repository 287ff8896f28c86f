import Foundation
import Testing
import Core
import TestSupport
@testable import Vision

/// PETALface pieces: margin losses (hand-worked logits, finite-difference gradients), the
/// effective-resolution quality score and α, and expert-LoRA on the real SFace.
@Suite(.serialized) struct FacePETALTests {
    @Test func marginLogitsByHand() {
        // e = (0.6, 0.8), classes e₀ = (1, 0), e₁ = (0, 1): cos = (0.6, 0.8), target 0.
        let e = Tensor([0.6, 0.8], shape: [1, 2]), w = Tensor([1, 0, 0, 1], shape: [2, 2])
        let cf = MarginLoss.cosFace().logits(embeddings: e, classWeights: w, targets: [0])
        // CosFace: 64·(0.6 − 0.4) = 12.8 and 64·0.8 = 51.2.
        #expect(abs(cf.storage[0] - 12.8) < 1e-4 && abs(cf.storage[1] - 51.2) < 1e-4)
        // ArcFace: cos(acos 0.6 + 0.5) = 0.6·cos 0.5 − 0.8·sin 0.5 = 0.143008…; ×64 = 9.15253.
        for st in [false, true] {
            let af = MarginLoss.arcFace(straightThrough: st).logits(embeddings: e, classWeights: w, targets: [0])
            #expect(abs(af.storage[0] - 9.15253) < 1e-3 && abs(af.storage[1] - 51.2) < 1e-4)
        }
    }

    @Test func marginLossGradientsMatchFiniteDifferences() {
        let e = randomTensor([3, 4], seed: 21), w = randomTensor([5, 4], seed: 22)
        for loss in [MarginLoss.cosFace(scale: 2, margin: 0.4), .arcFace(scale: 2, margin: 0.5)] {
            let r = gradCheck([e, w]) { t in loss.loss(embeddings: t[0], classWeights: t[1], targets: [0, 3, 4]) }
            #expect(r.passed, "\(loss): \(r)")
        }
    }

    @Test func qualityFallsWithResolutionAndAlphaIsClamped() throws {
        let url = FaceDataset.orlFolder(models: TestPaths.models).appendingPathComponent("s1/1.pgm")
        let image = try ImageDecoder.decode(contentsOf: url)
        let scores = try [nil, 32, 16, 8].map { size in
            FaceQuality.score(sfaceInput: try FacePreprocessing.sfaceInput(image, probeSize: size, file: url.path), side: 112)
        }
        print("FaceQuality s1/1 full/32/16/8 px: \(scores)")
        #expect(zip(scores, scores.dropFirst()).allSatisfy { $0 > $1 }, "\(scores)")
        #expect(scores.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(FaceQuality.alpha(quality: 0.9, threshold: 0.2) == 1)
        #expect(FaceQuality.alpha(quality: 0.3, threshold: 0.2) == 0.6)
        #expect(abs(FaceQuality.alpha(quality: 0.9, threshold: 0.2, referenceCode: true) - 1.2) < 1e-6)
    }

    @Test func expertLoRAOnSFaceMixesPerImage() throws {
        let model = try SFaceModel.load(onnx: SFaceModel.defaultFile(models: TestPaths.models))
        model.eval()
        let adapters = try PETALfaceAdapters(attachingTo: model, rank: 4, seed: 5)
        #expect(adapters.layers.count == 14)   // 13 pointwise convolutions + the projection
        let ref = try FixtureTensors.load(TestPaths.fixture("sface/reference.safetensors"))
        let one = try #require(ref["input"]).permuted([0, 1, 3, 2]).slice(axis: 0, 0..<1)
        let x = Tensor.concat([one, one], axis: 0)
        let base = withoutGrad { model(x) }
        adapters.setAlpha([0, 1])
        // B = 0 at init: the adapted network equals the frozen one.
        #expect(maxAbsDifference(withoutGrad { model(x) }, base)! < 1e-5)
        // Make only expert 2 (the high-quality branch, weight α) non-zero: image 0 (α = 0) keeps
        // the frozen output, image 1 (α = 1) changes.
        for (_, a) in adapters.layers {
            let b = a.experts[1].loraB
            for i in 0..<b.count { b.storage[i] = 0.01 * Float((i % 7) - 3) }
        }
        let y = model(x)
        let d0 = zip(y.storage[0..<128], base.storage[0..<128]).map { abs($0 - $1) }.max()!
        let d1 = zip(y.storage[128..<256], base.storage[128..<256]).map { abs($0 - $1) }.max()!
        #expect(d0 < 1e-5 && d1 > 1e-3, "α=0 diff \(d0), α=1 diff \(d1)")
        // Gradients reach only the adapters (the SFace weights are frozen).
        y.square().sum().backward()
        #expect(adapters.parameters.contains { ($0.grad?.storage.contains { $0 != 0 }) ?? false })
        let adapterTensors = adapters.parameters
        #expect(model.parameters().filter { p in !adapterTensors.contains { $0 === p } }.allSatisfy { $0.grad == nil })
    }
}

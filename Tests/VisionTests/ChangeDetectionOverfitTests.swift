import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// The classic wiring check: a network that can fit anything should drive the loss on one small,
/// fixed set of pairs close to zero. If the loss, the decoder, the exchange or a backward rule were
/// wired wrong (gradients to the wrong place, logits not reaching the labels' layout), it would stall.
@Suite("ChangeDetection overfit")
struct ChangeDetectionOverfitTests {
    @Test func trainerOverfitsOneFixedBatch() throws {
        // Two 28×28 pairs, each with a different changed blob in date B (random-looking content,
        // so the decoder must use both dates); batch 2 of 2 pairs, no crops, no augmentation.
        var rng = SplitMix64(seed: 11)
        var items: [PairPlanes] = []
        for k in 0..<2 {
            let n = 28 * 28
            let a = (0..<(3 * n)).map { _ in rng.nextUnitFloat() }
            var b = a
            var m = [UInt8](repeating: 0, count: n)
            let (cx, cy, r) = (Float(8 + 12 * k), Float(18 - 8 * k), Float(5 + k))
            for y in 0..<28 {
                for x in 0..<28 where (Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy) <= r * r {
                    m[y * 28 + x] = 1
                    for c in 0..<3 { b[c * n + y * 28 + x] = rng.nextUnitFloat() }
                }
            }
            items.append(PairPlanes(before: a, after: b, mask: m, width: 28, height: 28))
        }
        // LoRA in the encoder, so the backward pass runs through the ViT blocks as well as the
        // decoder; the demo's decoder (|f_A − f_B| and the full-resolution detail branch).
        var mo = tinyChangeOptions(.lora)
        mo.decoder.difference = true
        mo.decoder.detailChannels = 8
        let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: mo)
        var t = ChangeTrainOptions()
        t.steps = 120
        t.batchSize = 2
        t.size = 28
        t.learningRate = 1e-2
        t.minLearningRate = 1e-2  // flat after a short warmup: this checks fitting, not the schedule
        t.warmupSteps = 5
        t.loss = .crossEntropy
        t.evalEvery = 0
        t.augmentation.dihedral = false
        t.augmentation.maxRotation = 0
        var losses: [Double] = []
        _ = try ChangeTrainer.train(network: net, train: ChangePairSource(planes: items), validation: ChangePairSource(planes: []),
                                    options: t, normalization: .imagenet) { line in
            if let r = line.range(of: "loss "), let v = Double(line[r.upperBound...].prefix(6)) { losses.append(v) }
        }
        // Logged at step 1 and every 10 steps. A 2-class head starts near ln 2 = 0.693 nats.
        let first = try #require(losses.first)
        #expect(first > 0.3, "losses \(losses)")
        #expect(losses.last! < 0.1 * first, "losses \(losses)")
        // Evaluated through the sliding window, the fitted pairs come out (almost) exactly.
        let cm = try ChangeInference.evaluate(network: net, pairs: ChangePairSource(planes: items), window: 28, stride: 28, normalization: .imagenet)
        #expect(cm.iou > 0.9, "IoU \(cm.iou)")
    }
}

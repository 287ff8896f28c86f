import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// The opt-in decoder deviations: the |f_A − f_B| input and the full-resolution detail branch.
@Suite("ChangeDetection detail branch and difference input")
struct ChangeDetectionDetailTests {
    @Test func detailCueIsSymmetricInTheDates() throws {
        let branch = try ChangeDetailBranch(channels: 3, at: WeightStore.random(seed: 4).root)
        branch.eval()
        let a = randomTensor([1, 3, 6, 5], seed: 1, requiresGrad: false), b = randomTensor([1, 3, 6, 5], seed: 2, requiresGrad: false)
        let ab = branch(Tensor.concat([a, b], axis: 0)), ba = branch(Tensor.concat([b, a], axis: 0))
        #expect(ab.shape == [1, 6, 6, 5])
        #expect(maxAbsDifference(ab, ba)! < 1e-6)
        // Identical dates: the |s_A − s_B| half is exactly zero.
        let same = branch(Tensor.concat([a, a], axis: 0))
        #expect(same.storage[0..<(3 * 30)].allSatisfy { $0 == 0 })
    }

    @Test func detailHeadGradientsMatchFiniteDifferences() throws {
        var cfg = ChangeDecoderConfig()
        cfg.channels = 4
        cfg.rates = [1]
        cfg.refineStages = 1
        cfg.detailChannels = 2
        let dec = try ChangeDecoder(levels: 1, inChannels: 3, config: cfg, at: WeightStore.random(seed: 9).root)
        // Eval mode: BatchNorm over the 8 values per channel of this tiny batch curves too much
        // for step-5e-3 finite differences; with running statistics the check is sharp.
        dec.eval()
        let x = randomTensor([2, 3, 2, 2], seed: 5)
        let pixels = randomTensor([2, 3, 6, 6], seed: 6)
        let params = [dec.detailHead!.classifier.weight, dec.detailHead!.reduce.weight, dec.detailHead!.refine.pointwise.weight]
        for p in params { p.requiresGrad = true }
        // Batch of one pair: the cue is [1, 4, 6, 6]; both streams get it. The branch's own
        // weights are left out: |s_A − s_B| has a kink at 0 that finite differences of step
        // 5e-3 straddle (the branch is Core's conv, BatchNorm, GELU and abs, each gradient-checked
        // in Core); here the cue is a fixed input.
        let cuePixels = pixels
        let r = gradCheck([x] + params, eps: 5e-3) { _ in
            let cue = withoutGrad { dec.detail!(cuePixels) }
            return dec([x], detail: Tensor.concat([cue, cue], axis: 0), height: 6, width: 6)
        }
        #expect(r.passed, "\(r)")
        // The unused low-resolution classifier is not a parameter.
        #expect(!dec.namedParameters().contains { $0.0.hasPrefix("classifier.") })
        #expect(dec.namedParameters().contains { $0.0.hasPrefix("detail_head.classifier.") })
    }

    @Test func networkWithBothDeviationsRunsAndOldManifestsDecode() throws {
        var o = tinyChangeOptions(.frozen)
        o.decoder.difference = true
        o.decoder.detailChannels = 2
        let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: o)
        let lateral = net.decoder.lateral[0].weight
        #expect(lateral.shape[1] == 2 * 16)
        net.eval()
        let x1 = randomTensor([1, 3, 28, 28], seed: 7, requiresGrad: false), x2 = randomTensor([1, 3, 28, 28], seed: 8, requiresGrad: false)
        let (a, b) = try withoutGrad { try net.streams(before: x1, after: x2) }
        #expect(a.shape == [1, 2, 28, 28] && b.shape == a.shape)
        // A decoder config saved before the deviations existed reads as PeftCD's decoder.
        let old = #"{"channels":64,"rates":[1,2,4,8],"refineStages":2,"classes":2}"#
        let cfg = try JSONDecoder().decode(ChangeDecoderConfig.self, from: Data(old.utf8))
        #expect(cfg == ChangeDecoderConfig())
    }
}

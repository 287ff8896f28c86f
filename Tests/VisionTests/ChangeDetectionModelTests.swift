import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// A random DINOv2 small enough for gradient checks: 4 blocks of width 16, patch 7.
func tinyChangeBackbone(seed: UInt64 = 3) throws -> Dinov2Model {
    var c = Dinov2Config()
    c.hiddenSize = 16
    c.numLayers = 4
    c.numHeads = 2
    c.ffnWidth = 32
    c.imageSize = 28
    c.patchSize = 7
    let m = try Dinov2Model(config: c, at: WeightStore.random(seed: seed).root)
    m.eval()
    return m
}

func tinyChangeOptions(_ mode: ChangePEFTMode, exchange: [Int] = [0, 2]) -> ChangeModelOptions {
    var o = ChangeModelOptions()
    o.peft = mode
    o.exchange = exchange
    o.loraDropout = 0
    o.adapterBottleneck = 4
    o.decoder.channels = 8
    o.seed = 5
    return o
}

@Suite("ChangeDetection model")
struct ChangeDetectionModelTests {
    @Test func evenLevelsMatchPeftCD() {
        #expect(SiameseViTEncoder.evenLevels(blocks: 24, count: 4) == [5, 11, 17, 23])
        #expect(SiameseViTEncoder.evenLevels(blocks: 12, count: 4) == [2, 5, 8, 11])
        #expect(SiameseViTEncoder.evenLevels(blocks: 3, count: 4) == [0, 1, 2])
    }

    @Test func encoderLevelsAreNormedBlockOutputsAsMaps() throws {
        let dino = try tinyChangeBackbone()
        let enc = try SiameseViTEncoder(backbone: dino, levels: [1, 3])
        let x = randomTensor([2, 3, 28, 21], seed: 1, requiresGrad: false)
        let maps = try enc.features(x)
        // Reference: HF hidden_states[i + 1] through the final norm, class token dropped.
        let ref = try dino(x, outputHiddenStates: true)
        for (k, block) in [1, 3].enumerated() {
            let tokens = dino.layernorm(ref.hiddenStates[block + 1])
            #expect(maps[k].shape == [2, 16, 4, 3])
            for b in 0..<2 { for c in [0, 7, 15] { for p in [0, 5, 11] {
                let expected = tokens.storage[(b * 13 + 1 + p) * 16 + c]
                let got = maps[k].storage[((b * 16 + c) * 12) + p]
                #expect(abs(expected - got) < 1e-5)
            } } }
        }
        // The last level is the model's own last_hidden_state.
        #expect(maxAbsDifference(dino.layernorm(ref.hiddenStates[4]), ref.lastHiddenState)! < 1e-6)
    }

    @Test func convUnitDilatedDepthwiseGradients() throws {
        let store = WeightStore.random(seed: 2)
        let unit = try ConvUnit(4, 4, kernel: 3, dilation: 2, groups: 4, at: store.root)
        let x = randomTensor([2, 4, 5, 6], seed: 4)
        unit.weight.requiresGrad = true
        let r = gradCheck([x, unit.weight, unit.norm!.weight]) { _ in unit(x) }
        #expect(r.passed, "\(r)")
    }

    @Test func decoderGradientsAndShape() throws {
        var cfg = ChangeDecoderConfig()
        cfg.channels = 4
        cfg.rates = [1, 2]
        cfg.refineStages = 1
        let dec = try ChangeDecoder(levels: 2, inChannels: 3, config: cfg, at: WeightStore.random(seed: 9).root)
        let a = randomTensor([2, 3, 3, 3], seed: 5), b = randomTensor([2, 3, 3, 3], seed: 6)
        let y = dec([a, b], height: 9, width: 9)
        #expect(y.shape == [2, 2, 9, 9])
        let w = dec.levelWeights(zip(dec.lateral.items, [a, b]).map { $0.0($0.1) })
        #expect(w.shape == [2, 2, 3, 3])
        for b in 0..<2 { for p in 0..<9 { #expect(abs(w.storage[b * 18 + p] + w.storage[b * 18 + 9 + p] - 1) < 1e-5) } }
        let params = [dec.lateral[1].weight, dec.scores[0].weight, dec.aspp.branches[1].weight, dec.classifier.bias!]
        for p in params { p.requiresGrad = true }
        let r = gradCheck([a, b] + params, eps: 5e-3) { _ in dec([a, b], height: 9, width: 9) }
        #expect(r.passed, "\(r)")
    }

    @Test func exchangeSwapsOnlyTheChosenLevels() throws {
        let a = (0..<4).map { Tensor.full([1], Float($0)) }, b = (0..<4).map { Tensor.full([1], Float(10 + $0)) }
        let (xa, xb) = ChangeDetectionNetwork.exchange(a, b, levels: [0, 2])
        #expect(xa.map { $0.storage[0] } == [10, 1, 12, 3])
        #expect(xb.map { $0.storage[0] } == [0, 11, 2, 13])
    }

    @Test func exchangingEveryLevelFeedsTheOtherDate() throws {
        // With every level exchanged, stream A decodes date B's features: it must equal stream A
        // of a network without exchange that is given the dates in the other order.
        let all = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: tinyChangeOptions(.frozen, exchange: [0, 1, 2, 3]))
        let none = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: tinyChangeOptions(.frozen, exchange: []))
        // Training mode: BatchNorm normalises with the batch (both streams, the same pixels in
        // the same order for the two networks), which keeps the streams' differences visible.
        all.train()
        none.train()
        let x1 = randomTensor([1, 3, 28, 28], seed: 7, requiresGrad: false), x2 = randomTensor([1, 3, 28, 28], seed: 8, requiresGrad: false)
        let (a, _) = try all.streams(before: x1, after: x2)
        let (c, _) = try none.streams(before: x2, after: x1)
        #expect(maxAbsDifference(a, c)! < 1e-5)
        let (p, q) = try none.streams(before: x1, after: x2)
        #expect(maxAbsDifference(p, q)! > 1e-4)
    }

    @Test func lossIsMeanOfStreamCrossEntropies() {
        // One pixel, logits (2, 0) and (0, 1), label 1: CE = log(1 + e²) and log(1 + e⁻¹).
        let a = Tensor([2, 0], shape: [1, 2, 1, 1]), b = Tensor([0, 1], shape: [1, 2, 1, 1])
        let l = ChangeDetectionNetwork.loss(a, b, labels: [1])
        let expected = (log(1 + exp(2.0)) + log(1 + exp(-1.0))) / 2
        #expect(abs(Double(l.storage[0]) - expected) < 1e-5)
        // Change probability = σ(l1 − l0).
        #expect(abs(ChangeDetectionNetwork.changeProbability(a)[0] - Float(1 / (1 + exp(2.0)))) < 1e-6)
    }

    @Test func peftModesTrainTheRightParameters() throws {
        for mode in ChangePEFTMode.allCases {
            let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: tinyChangeOptions(mode))
            let names = net.trainableParameters().map(\.0)
            #expect(names.contains { $0.hasPrefix("decoder.") })
            #expect(!names.contains { $0.contains("running_") })
            let encoderNames = names.filter { $0.hasPrefix("encoder.") }
            switch mode {
            case .lora:
                #expect(encoderNames.count == 4 * 3 * 2 && encoderNames.allSatisfy { $0.contains("lora_") })
                #expect(encoderNames.contains { $0.contains("attention.attention.key.lora_A") })
            case .adapter:
                #expect(encoderNames.count == 4 * 4 && encoderNames.allSatisfy { $0.hasPrefix("encoder.pre_adapters.") })
            case .frozen:
                #expect(encoderNames.isEmpty)
            }
        }
    }

    @Test func loraLossGradientsMatchFiniteDifferences() throws {
        var o = tinyChangeOptions(.lora)
        o.decoder.channels = 4
        o.decoder.refineStages = 1
        let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: o)
        net.eval()
        // Non-zero B so the LoRA A gradient is not trivially zero.
        let lora = net.trainableParameters().filter { $0.0.contains("layer.0.attention.attention.value.lora") }.map(\.1)
        var rng = SplitMix64(seed: 1)
        for p in lora { for i in 0..<p.count { p.storage[i] = Float(rng.nextUnitFloat() - 0.5) * 0.5 } }
        let xa = randomTensor([1, 3, 14, 14], seed: 2, requiresGrad: false), xb = randomTensor([1, 3, 14, 14], seed: 3, requiresGrad: false)
        let labels = (0..<196).map { ($0 * 7) % 3 == 0 ? 1 : 0 }
        let checked = lora + [net.decoder.classifier.weight]
        let r = gradCheck(checked, eps: 5e-3) { _ in
            let (a, b) = try! net.streams(before: xa, after: xb)
            return ChangeDetectionNetwork.loss(a, b, labels: labels)
        }
        #expect(r.passed, "\(r)")
    }

    @Test func savedAdapterReloadsToTheSameLogits() throws {
        for mode in ChangePEFTMode.allCases {
            let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: tinyChangeOptions(mode))
            // One optimiser step so nothing is at its initial value.
            net.train()
            let xa = randomTensor([2, 3, 28, 28], seed: 1, requiresGrad: false), xb = randomTensor([2, 3, 28, 28], seed: 2, requiresGrad: false)
            let labels = (0..<(2 * 28 * 28)).map { ($0 / 5) % 2 }
            let params = net.trainableParameters()
            let opt = AdamW(learningRate: 1e-2)
            let (a, b) = try net.streams(before: xa, after: xb)
            ChangeDetectionNetwork.loss(a, b, labels: labels).backward()
            opt.step(params)
            net.eval()
            let before = try withoutGrad { try net.logits(before: xa, after: xb) }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cd-peft-\(mode.rawValue)-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try net.peft!.save(to: dir)
            let fresh = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: tinyChangeOptions(mode), attachPEFT: false)
            try fresh.loadAdapter(from: dir)
            fresh.eval()
            let after = try withoutGrad { try fresh.logits(before: xa, after: xb) }
            #expect(maxAbsDifference(before, after)! < 1e-4, "\(mode)")
        }
    }
}

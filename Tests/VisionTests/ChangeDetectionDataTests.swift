import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

@Suite("ChangeDetection data, augmentation, inference, training")
struct ChangeDetectionDataTests {
    /// A pair whose three planes and mask hold position codes, to follow pixels through transforms.
    static func coded(width w: Int, height h: Int) -> PairPlanes {
        let n = w * h
        let a = (0..<(3 * n)).map { Float($0 % n) }, b = a.map { $0 + 1000 }
        let m = (0..<n).map { UInt8($0 % 2) }
        return PairPlanes(before: a, after: b, mask: m, width: w, height: h)
    }

    @Test func dihedralMovesImagesAndMaskTogether() {
        // 3 wide × 2 high, codes 0…5 row-major:   0 1 2 / 3 4 5.
        let p = Self.coded(width: 3, height: 2)
        // A quarter turn (k = 1) gives the 2 × 3 image 3 0 / 4 1 / 5 2 (clockwise, as numpy.rot90(x, -1)).
        let r = p.dihedral(1)
        #expect(r.width == 2 && r.height == 3)
        #expect(Array(r.before[0..<6]) == [3, 0, 4, 1, 5, 2])
        #expect(Array(r.after[0..<6]) == [1003, 1000, 1004, 1001, 1005, 1002])
        #expect(r.mask == [3, 0, 4, 1, 5, 2].map { UInt8($0 % 2) })
        // k = 4 is the mirror: 2 1 0 / 5 4 3.
        #expect(Array(p.dihedral(4).before[0..<6]) == [2, 1, 0, 5, 4, 3])
        // All 8 are distinct on a square with distinct codes, and 4 quarter turns are the identity.
        let q = Self.coded(width: 3, height: 3)
        #expect(Set((0..<8).map { q.dihedral($0).before }).count == 8)
        #expect(q.dihedral(1).dihedral(1).dihedral(1).dihedral(1).before == q.before)
    }

    @Test func ninetyDegreeRotationEqualsQuarterTurn() {
        let q = Self.coded(width: 5, height: 5)
        let a = q.rotated(degrees: 90), b = q.dihedral(1)
        #expect(zip(a.before, b.before).allSatisfy { abs($0 - $1) < 1e-3 })
        #expect(a.mask == b.mask)
    }

    @Test func windowOriginsCoverEveryPixel() {
        #expect(ChangeInference.origins(length: 256, window: 112, stride: 56) == [0, 56, 112, 144])
        #expect(ChangeInference.origins(length: 224, window: 112, stride: 112) == [0, 112])
        #expect(ChangeInference.origins(length: 100, window: 112, stride: 56) == [0])
    }

    @Test func slidingWindowMatchesDirectLogitsAndPadsSmallTiles() throws {
        let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: tinyChangeOptions(.lora))
        net.eval()
        var rng = SplitMix64(seed: 4)
        let n = 28 * 28
        let pair = PairPlanes(before: (0..<(3 * n)).map { _ in rng.nextUnitFloat() }, after: (0..<(3 * n)).map { _ in rng.nextUnitFloat() },
                              mask: [UInt8](repeating: 0, count: n), width: 28, height: 28)
        let p = try ChangeInference.probability(network: net, pair: pair, window: 28, stride: 14, normalization: .imagenet)
        let (a, b, _) = PairPlanes.batch([pair], normalization: .imagenet)
        let direct = ChangeDetectionNetwork.changeProbability(try withoutGrad { try net.logits(before: a, after: b) })
        #expect(zip(p, direct).allSatisfy { abs($0 - $1) < 1e-5 })
        let small = pair.cropped(left: 3, top: 5, size: 20)
        let ps = try ChangeInference.probability(network: net, pair: small, window: 28, stride: 14, normalization: .imagenet)
        #expect(ps.count == 400 && ps.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func peftcdScheduleWarmsUpThenDecaysCubicallyToTheFloor() {
        var o = ChangeTrainOptions()
        o.steps = 100
        o.warmupSteps = 20
        // Hand-worked: warmup (s + 1)/20 · 3e-4; then 3e-4 · max((1 − p)³, 0.1), p = (s − 20)/80.
        #expect(abs(o.learningRate(at: 0) - 1.5e-5) < 1e-12)
        #expect(abs(o.learningRate(at: 19) - 3e-4) < 1e-12)
        #expect(abs(o.learningRate(at: 20) - 3e-4) < 1e-12)
        #expect(abs(o.learningRate(at: 60) - 3.75e-5) < 1e-12)
        #expect(abs(o.learningRate(at: 80) - 3e-5) < 1e-12)
    }

    static func writePNG(_ img: Image, _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNGCodec.write(img, to: url)
    }

    @Test func layoutAndBadInputErrors() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let s = root.appendingPathComponent("test")
        try Self.writePNG(Image(width: 30, height: 20, channels: 3, fill: 10), s.appendingPathComponent("A/p1.png"))
        try Self.writePNG(Image(width: 32, height: 20, channels: 3, fill: 10), s.appendingPathComponent("B/p1.png"))
        var label = Image(width: 30, height: 20, channels: 1, fill: 0)
        label.pixels[3] = 255
        label.pixels[4] = 128
        try Self.writePNG(label, s.appendingPathComponent("label/p1.png"))
        let pairs = try ChangeDataset.pairs(root: root, split: "test")
        #expect(pairs.map(\.name) == ["p1"])
        #expect { try ChangeDataset.load(pairs[0]) } throws: { "\($0)".contains("30×20") && "\($0)".contains("32×20") && "\($0)".contains("--resize") }
        #expect { try ChangeDataset.load(pairs[0], resize: true) } throws: { "\($0)".contains("not binary") && "\($0)".contains("0, 128, 255") }
        label.pixels[4] = 0
        try Self.writePNG(label, s.appendingPathComponent("label/p1.png"))
        let loaded = try ChangeDataset.load(pairs[0], resize: true)
        #expect(loaded.mask?.reduce(0) { $0 + Int($1) } == 1 && loaded.after.width == 30)
        try FileManager.default.removeItem(at: s.appendingPathComponent("B/p1.png"))
        #expect { try ChangeDataset.pairs(root: root, split: "test") } throws: { "\($0)".contains("no image named 'p1'") }
        #expect { try ChangeDataset.pairs(root: root, split: "train") } throws: { "\($0)".contains("{train,val,test}/{A,B,label}") }
    }

    @Test func syntheticChangesAreReproducibleAndMaskThePastedArea() throws {
        // A scene of smooth gradients with a few flat blocks (sources that differ from what they cover).
        let (w, h) = (96, 96)
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w {
            px[(y * w + x) * 3] = UInt8(x * 2); px[(y * w + x) * 3 + 1] = UInt8(y * 2); px[(y * w + x) * 3 + 2] = (x / 16 + y / 16) % 2 == 0 ? 200 : 20
        } }
        let scene = Image(width: w, height: h, channels: 3, pixels: px)
        var o = SyntheticChangeOptions()
        o.tile = 32
        o.minPatch = 6
        o.maxPatch = 12
        o.unchangedFraction = 0
        var r1 = SplitMix64(seed: 1), r2 = SplitMix64(seed: 1)
        let (a1, b1, m1) = SyntheticChanges.makePair(scene: scene, top: 32, left: 32, options: o, rng: &r1)
        let (_, b2, m2) = SyntheticChanges.makePair(scene: scene, top: 32, left: 32, options: o, rng: &r2)
        #expect(b1 == b2 && m1 == m2)
        #expect(a1 == scene.cropped(top: 32, left: 32, height: 32, width: 32))
        let changed = m1.reduce(0) { $0 + Int($1) }
        #expect(changed >= 6 * 6 / 2 && changed <= 3 * 12 * 12)
        let out = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let counts = try SyntheticChanges.generate(scene: scene, options: o, out: out)
        #expect(counts.values.reduce(0, +) == 9 && counts["test"] == 1 && counts["val"] == 1)
        let names = try ["train", "val", "test"].map { try ChangeDataset.pairs(root: out, split: $0).map(\.name) }
        #expect(Set(names.joined()).count == 9)
    }

    @Test func shortTrainingLowersTheLossOnALearnableTask() throws {
        // Date B = date A with a bright square; the mask is the square. Decoder-only training
        // on the tiny encoder must bring the two-stream loss down.
        var rng = SplitMix64(seed: 3)
        var items: [PairPlanes] = []
        for _ in 0..<4 {
            let n = 28 * 28
            let a = (0..<(3 * n)).map { _ in 0.3 + 0.1 * rng.nextUnitFloat() }
            var b = a
            var m = [UInt8](repeating: 0, count: n)
            let (x0, y0) = (Int(rng.next() % 14), Int(rng.next() % 14))
            for y in y0..<(y0 + 12) { for x in x0..<(x0 + 12) { m[y * 28 + x] = 1; for c in 0..<3 { b[c * n + y * 28 + x] = 0.95 } } }
            items.append(PairPlanes(before: a, after: b, mask: m, width: 28, height: 28))
        }
        var mo = tinyChangeOptions(.frozen)
        mo.exchange = [0, 2]
        let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: mo)
        var t = ChangeTrainOptions()
        t.steps = 60
        t.batchSize = 2
        t.size = 28
        t.learningRate = 1e-2
        t.evalEvery = 0
        t.augmentation.maxRotation = 0
        var losses: [Double] = []
        let report = try ChangeTrainer.train(network: net, train: ChangePairSource(planes: items), validation: ChangePairSource(planes: Array(items.prefix(2))),
                                             options: t, normalization: .imagenet) { line in
            if let r = line.range(of: "loss "), let v = Double(line[r.upperBound...].prefix(6)) { losses.append(v) }
        }
        #expect(losses.count >= 3)
        // The square covers 144 of 784 pixels: a model that learned only this base rate has loss
        // H(0.184) = 0.477 nats; the mean of the last logged losses must beat it.
        let tail = losses.suffix(3)
        #expect(tail.reduce(0, +) / Double(tail.count) < 0.477, "losses \(losses)")
        #expect(report.validations.count == 1 && report.bestStep == 60)
        #expect(report.validations[0].matrix.total == 2 * 28 * 28)
    }
}

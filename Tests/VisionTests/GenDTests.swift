import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

@Suite("GenD: hypersphere losses, schedule, metrics, LayerNorm-tuned detector")
struct GenDTests {
    static var tinyDinov2: String { TestPaths.fixture("tiny/dinov2").path }

    @Test("uniformity and alignment equal hand-worked values")
    func lossValues() {
        // z = (1,0), (0,1), (−1,0): squared distances d01 = 2, d02 = 4, d12 = 2.
        let z = Tensor([1, 0, 0, 1, -1, 0], shape: [3, 2])
        let u = HypersphereLosses.uniformity(z, t: 2).item
        let expected = Foundation.log((2 * Foundation.exp(-4.0) + Foundation.exp(-8.0)) / 3)
        #expect(abs(Double(u) - expected) < 1e-5)
        #expect(HypersphereLosses.alignment(z, labels: [0, 0, 1]).item == 2)          // pair (0,1)
        #expect(HypersphereLosses.alignment(z, labels: [0, 1, 0]).item == 4)          // pair (0,2)
        #expect(abs(HypersphereLosses.alignment(z, labels: [0, 1, 0], alpha: 1).item - 2) < 1e-5)   // ‖·‖¹ = √4
        #expect(HypersphereLosses.alignment(z, labels: [0, 1, 2]).item == 0)          // no same-label pair
        // All points equal: the inner mean is 1, log 1 = 0; far apart it is clamped at 1e-6.
        #expect(abs(HypersphereLosses.uniformity(Tensor([1, 0, 1, 0], shape: [2, 2])).item) < 1e-6)
        let far = HypersphereLosses.uniformity(Tensor([10, 0, -10, 0], shape: [2, 2])).item
        #expect(abs(Double(far) - Foundation.log(1e-6)) < 1e-4)
    }

    @Test("losses pass finite-difference gradient checks (through the L2 normalisation)")
    func lossGradients() {
        let x = randomTensor([6, 5], seed: 11)
        let labels = [0, 1, 0, 1, 1, 0]
        #expect(gradCheck([x]) { HypersphereLosses.uniformity(HypersphereLosses.normalized($0[0]), t: 2) }.passed)
        #expect(gradCheck([x]) { HypersphereLosses.alignment(HypersphereLosses.normalized($0[0]), labels: labels) }.passed)
        #expect(gradCheck([x]) { HypersphereLosses.alignment($0[0], labels: labels, alpha: 1.5) }.passed)
        let w = randomTensor([2, 5], seed: 12), b = randomTensor([2], seed: 13)
        let loss = GenDLoss()
        let r = gradCheck([x, w, b]) { t in
            let z = HypersphereLosses.normalized(t[0])
            return loss(logits: z.linear(weight: t[1], bias: t[2]), embeddings: z, labels: labels).total
        }
        #expect(r.passed, "\(r)")
    }

    @Test("cosine warm restarts: base at each cycle start, midpoint halfway, minimum approached at cycle end")
    func warmRestarts() {
        let s = CosineWarmRestarts(cycle: 10, minLR: 1e-6)
        #expect(s.learningRate(at: 0, base: 3e-4) == 3e-4)
        #expect(abs(s.learningRate(at: 5, base: 3e-4) - (3e-4 + 1e-6) / 2) < 1e-12)
        #expect(s.learningRate(at: 10, base: 3e-4) == 3e-4)
        #expect(s.learningRate(at: 19, base: 3e-4) < 1e-5)
    }

    @Test("detection metrics equal scikit-learn on fixtures/metrics/roc_ap.json")
    func metricsFixture() throws {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.fixture("metrics/roc_ap.json"))) as! [String: Any]
        for s in root["sets"] as! [[String: Any]] {
            let labels = (s["y_true"] as! [Int]).map { $0 == 1 }
            let scores = (s["y_score"] as! [NSNumber]).map(\.doubleValue)
            let m = DetectionMetrics(labels: labels, scores: scores)
            if let auc = (s["roc_auc"] as? NSNumber)?.doubleValue {
                #expect(abs(m.auroc! - auc) < 1e-12, "\(s["name"]!)")
            } else {
                #expect(m.auroc == nil)
            }
            #expect(abs(m.averagePrecision - (s["average_precision"] as! NSNumber).doubleValue) < 1e-12)
        }
    }

    @Test("scores are averaged per --group-by unit and class before the metric; per-family sets share the reals")
    func grouping() throws {
        func s(_ name: String, _ fake: Bool, _ fam: String) -> DeepfakeSample {
            DeepfakeSample(url: URL(fileURLWithPath: "/d/\(name)"), isFake: fake, family: fam)
        }
        let samples = [s("s1_1.png", false, "real"), s("s1_2.png", false, "real"), s("s2_1.png", false, "real"),
                       s("s1_1.png", true, "swap"), s("s1_2.png", true, "swap"), s("s2_1.png", true, "sbi"), s("x.png", true, "sbi")]
        let scores = [0.1, 0.5, 0.2, 0.9, 0.3, 0.4, 0.8]
        let agg = try DeepfakeEvaluation.aggregate(samples, scores: scores, groupBy: "^(s[0-9]+)_")
        // Units: real/s1 = 0.3, real/s2 = 0.2, swap/s1 = 0.6, sbi/s2 = 0.4, and x.png alone (no match).
        #expect(agg.labels == [false, false, true, true, true])
        #expect(zip(agg.scores, [0.3, 0.2, 0.6, 0.4, 0.8]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(agg.ungrouped == 1)
        let r = try DeepfakeEvaluation.report(samples, scores: scores, groupBy: "^(s[0-9]+)_")
        #expect(r.perFamily["swap"]?.auroc == 1)                    // 0.6 above both reals
        #expect(r.perFamily["sbi"]?.auroc == 1)                     // 0.4, 0.8 above 0.3, 0.2
        #expect(r.macroAUROC == 1)
        let plain = try DeepfakeEvaluation.report(samples, scores: scores, groupBy: nil)
        // swap per image: 0.9 beats all three reals, 0.3 beats 0.1 and 0.2 → 5/6.
        #expect(abs(plain.perFamily["swap"]!.auroc! - 5.0 / 6.0) < 1e-12)
        #expect(throws: DatasetError.self) { try DeepfakeEvaluation.aggregate(samples, scores: scores, groupBy: "(") }
    }

    static func options(_ method: GenDMethod, iterations: Int = 3) -> GenDOptions {
        var o = GenDOptions(method: method)
        o.iterations = iterations
        o.batchSize = 4
        o.imageSize = 32
        o.learningRate = 1e-2
        return o
    }

    @Test("trainable parameters per method: LayerNorms + head for gend/ln, LoRA + head, head alone, everything")
    func trainableSets() throws {
        let counts = try GenDMethod.allCases.map { m -> (GenDMethod, [String], Int, Int) in
            let model = try GenDModel.create(backbone: try VisionBackbone.load(model: Self.tinyDinov2), options: Self.options(m))
            let names = model.trainableParameters().map(\.0)
            return (m, names, model.trainableCount, model.totalCount)
        }
        // Tiny DINOv2: hidden 32, 2 layers → LayerNorms norm1, norm2 per layer + final layernorm = 5 × (32 + 32).
        let ln = counts.first { $0.0 == .gend }!
        #expect(ln.2 == 5 * 64 + 2 * 32 + 2)
        #expect(ln.1.allSatisfy { $0.hasPrefix("head.") || $0.contains("norm") })
        #expect(counts.first { $0.0 == .ln }!.2 == ln.2)
        #expect(counts.first { $0.0 == .probe }!.2 == 66)
        let lora = counts.first { $0.0 == .lora }!
        #expect(lora.1.filter { $0.contains("lora_") }.count == 2 * 2 * 2)        // A, B × q, v × 2 layers
        let full = counts.first { $0.0 == .full }!
        #expect(full.2 == full.3)
    }

    @Test("GenD loss gradient w.r.t. a LayerNorm γ of the real network path matches finite differences")
    func layerNormGradient() throws {
        let model = try GenDModel.create(backbone: try VisionBackbone.load(model: Self.tinyDinov2), options: Self.options(.gend))
        let gamma = try #require(model.trainableParameters().first { $0.0.hasSuffix("layer.0.norm1.weight") }?.1)
        let beta = try #require(model.trainableParameters().first { $0.0.hasSuffix("layer.1.norm2.bias") }?.1)
        var rng = SplitMix64(seed: 4)
        let pixels = Tensor.normal([4, 3, 32, 32], using: &rng)
        let labels = [0, 0, 1, 1]
        let r = gradCheck([gamma, beta], eps: 1e-2, atol: 1e-3, rtol: 2e-2) { _ in
            let z = try! model.embedding(pixels)
            return GenDLoss()(logits: model.logits(embedding: z), embeddings: z, labels: labels).total
        }
        #expect(r.passed, "\(r)")
    }

    @Test("train a few steps on generated faces, save, load: identical scores; probe and LoRA too")
    func trainSaveLoad() throws {
        let reals = (0..<6).map { DeepfakeFixtures.face(identity: $0, index: 1) }
        var rng = SplitMix64(seed: 2)
        let fakes = reals.map { FaceManipulations.selfBlend($0, using: &rng) }
        for method in [GenDMethod.gend, .probe, .lora] {
            let model = try GenDModel.create(backbone: try VisionBackbone.load(model: Self.tinyDinov2), options: Self.options(method))
            let before = model.trainableParameters().map { $0.1.storage }
            let summary = try GenDTrainer.train(model, reals: reals, fakes: fakes, log: { _ in })
            #expect(summary.iterations == 3 && summary.finalLoss!.isFinite)
            #expect(zip(before, model.trainableParameters().map { $0.1.storage }).contains { $0 != $1 }, "\(method) did not update")
            let dir = try TestPaths.temporaryDirectory()
            try model.save(to: dir, trainedFamilies: ["sbi"])
            let scores = try GenDTrainer.scores(model, images: reals + fakes)
            #expect(scores.allSatisfy { $0 >= 0 && $0 <= 1 })
            let (loaded, manifest) = try GenDModel.load(from: dir, model: Self.tinyDinov2)
            #expect(manifest.trainedFamilies == ["sbi"] && manifest.options.method == method)
            let again = try GenDTrainer.scores(loaded, images: reals + fakes)
            let worst = zip(scores, again).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-5, "\(method): reloaded scores differ by \(worst)")
        }
        #expect(throws: DatasetError.self) { try GenDModel.load(from: try TestPaths.temporaryDirectory()) }
    }

    @Test("GenD's head sees unit vectors, the LN-only ablation raw features; the bench runs and counts the same trainables")
    func embeddingsAndBench() throws {
        var rng = SplitMix64(seed: 8)
        let pixels = Tensor.normal([2, 3, 32, 32], using: &rng)
        for (method, unit) in [(GenDMethod.gend, true), (.ln, false)] {
            let model = try GenDModel.create(backbone: try VisionBackbone.load(model: Self.tinyDinov2), options: Self.options(method))
            let z = try withoutGrad { try model.embedding(pixels) }
            let norms = (0..<2).map { i in z.storage[(i * 32)..<((i + 1) * 32)].reduce(0) { $0 + $1 * $1 }.squareRoot() }
            #expect(norms.allSatisfy { abs($0 - 1) < 1e-5 } == unit, "\(method): norms \(norms)")
        }
        #expect(GenDOptions().resolvedCycle == 40)                  // 120 iterations → 3 cycles of 40
        var o = GenDOptions(); o.iterations = 40
        #expect(o.resolvedCycle == 14)                               // rounded up: the run never ends on a restart
        let r = try GenDBench.run(backbone: try VisionBackbone.load(model: Self.tinyDinov2), batch: 4, imageSize: 32, steps: 1)
        #expect(r.trainable == 5 * 64 + 66 && r.trainImagesPerSecond > 0 && r.inferImagesPerSecond > 0)
    }

    /// A result with the given per-family AUROCs: each family has one fake scored so that it
    /// beats the required share of four reals (scores 0.1…0.4).
    static func result(seed: UInt64, method: String, aurocs: [String: Double]) throws -> GenDExperiment.Result {
        var samples: [DeepfakeSample] = [], scores: [Double] = []
        for k in 0..<4 {
            samples.append(DeepfakeSample(url: URL(fileURLWithPath: "/r/\(k).png"), isFake: false, family: "real"))
            scores.append(0.1 * Double(k + 1))
        }
        for (f, a) in aurocs {
            samples.append(DeepfakeSample(url: URL(fileURLWithPath: "/f/\(f).png"), isFake: true, family: f))
            scores.append(0.1 * a * 4 + 0.05)   // above round(4a) reals: AUROC = a for a in quarters
        }
        let report = try DeepfakeEvaluation.report(samples, scores: scores, groupBy: nil)
        var o = GenDOptions(); o.seed = seed; o.iterations = 7
        let unseen = ["splice", "recompress"], seen = ["swap"]
        func macro(_ fs: [String]) -> Double { fs.map { report.perFamily[$0]!.auroc! }.reduce(0, +) / Double(fs.count) }
        let row = GenDExperiment.Row(method: method, trainable: 10, trainablePercent: 1, trainSeconds: Double(seed), learningRate: 3e-3,
                                     report: report, unseenMacroAUROC: macro(unseen), seenMacroAUROC: macro(seen))
        return GenDExperiment.Result(trainFamilies: seen, unseenFamilies: unseen, options: o, rows: [row])
    }

    @Test("multi-seed study: mean and sample std of the unseen/seen macro AUROC per method, markdown table")
    func study() throws {
        let r1 = try Self.result(seed: 1, method: "gend", aurocs: ["swap": 1, "splice": 0.5, "recompress": 0.75])
        let r2 = try Self.result(seed: 2, method: "gend", aurocs: ["swap": 0.75, "splice": 0.25, "recompress": 0.5])
        #expect(r1.rows[0].report.perFamily["recompress"]?.auroc == 0.75)   // the construction above holds
        let s = try GenDStudy.summarize([(1, r1), (2, r2)])
        let row = try #require(s.rows.first)
        // Unseen macro per seed: (0.5 + 0.75)/2 = 0.625 and (0.25 + 0.5)/2 = 0.375 → mean 0.5,
        // sample std √((0.125² + 0.125²)/1) = 0.1768; seen: 1 and 0.75 → 0.875 ± 0.1768.
        #expect(row.unseen == [0.625, 0.375] && row.seen == [1, 0.75])
        #expect(abs(GenDStudy.mean(row.unseen) - 0.5) < 1e-12)
        #expect(abs(GenDStudy.std(row.unseen) - 0.125 * 2.0.squareRoot()) < 1e-12)
        #expect(GenDStudy.std([0.7]) == 0 && row.meanTrainSeconds == 1.5 && row.learningRate == 3e-3)
        let md = GenDStudy.markdown(s)
        #expect(md.contains("| gend | 3e-03 | 10 | 1.000% | 0.500 ± 0.177 | 0.875 ± 0.177 |"), "\(md)")
        #expect(md.contains(" recompress* |") && md.contains(" swap |") && md.contains("seeds 1, 2"))
        // Seeds that ran different methods cannot be averaged together.
        let other = try Self.result(seed: 3, method: "ln", aurocs: ["swap": 1, "splice": 1, "recompress": 1])
        #expect(throws: DatasetError.self) { try GenDStudy.summarize([(1, r1), (3, other)]) }
    }
}

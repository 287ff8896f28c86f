import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// A generated image folder for `vision-adapt`: `classes` class folders whose images are
/// noisy colour fields dominated by channel `c` (so the classes are separable), in `train/`
/// and `test/`, with mixed sizes and a grey image so preprocessing must cope.
enum AdaptFixtures {
    static let classes = ["blue_things", "green_things", "red_things"]

    static func image(label: Int, index: Int, size: Int) -> Image {
        var rng = SplitMix64(seed: UInt64(label * 1000 + index))
        var img = Image(width: size, height: size + index % 3, channels: 3)
        // "blue_things" is label 0 (sorted names) and is dominated by channel 2, and so on.
        let channel = 2 - label
        for y in 0..<img.height {
            for x in 0..<img.width {
                for c in 0..<3 {
                    let base = c == channel ? 200 : 40
                    img[y, x, c] = UInt8(max(0, min(255, base + Int(rng.next() % 50) - 25)))
                }
            }
        }
        return img
    }

    /// `root/train/<class>/` with `perClass` images and `root/test/<class>/` with `testPerClass`.
    static func makeFolder(perClass: Int = 4, testPerClass: Int = 2, withTest: Bool = true) throws -> URL {
        let root = try TestPaths.temporaryDirectory()
        for (label, name) in classes.enumerated() {
            for (split, count) in [("train", perClass), ("test", withTest ? testPerClass : 0)] where count > 0 {
                let dir = root.appendingPathComponent(split).appendingPathComponent(name)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                for i in 0..<count {
                    var img = image(label: label, index: i + (split == "test" ? 100 : 0), size: 36 + 4 * (i % 2))
                    if i == 1 { img = img.grayscale() }   // a one-channel file among RGB ones
                    try PNGCodec.write(img, to: dir.appendingPathComponent("\(split)-\(i).png"))
                }
            }
        }
        return root
    }

    static var dinov2Path: String { TestPaths.fixture("tiny/dinov2").path }
    static var vitPath: String { TestPaths.fixture("tiny/vit").path }

    static func options(_ method: AdaptMethod, shots: Int = 2, iterations: Int = 3) -> VisionAdaptOptions {
        var o = VisionAdaptOptions(method: method, shots: shots)
        o.iterations = iterations
        o.batchSize = 4
        o.imageSize = 32
        o.learningRate = 1e-2
        return o
    }
}

@Suite(.serialized) struct VisionAdaptTests {
    @Test("tiny end-to-end run: train svd on a generated folder, files written, held-out metrics consistent")
    func endToEnd() throws {
        let root = try AdaptFixtures.makeFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("adapter")
        var lines: [String] = []
        let report = try VisionAdaptTask.train(data: root, options: AdaptFixtures.options(.svd), seeds: [1, 2], out: out,
                                               backbone: { try VisionBackbone.load(model: AdaptFixtures.dinov2Path) }, log: { lines.append($0) })
        #expect(report.runs.count == 2)
        #expect(report.evaluatedOn == "test split")
        for run in report.runs {
            let dir = URL(fileURLWithPath: run.adapter)
            for file in ["adapter_config.json", "adapter_model.safetensors", "head.safetensors", "vision_adapt.json", "metrics.json", "confusion.png"] {
                #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file) missing in \(dir.path)")
            }
            let e = run.evaluation
            #expect(e.count == 6)
            #expect(e.confusion.flatMap { $0 }.reduce(0, +) == e.count)
            #expect(e.correct == (0..<3).map { e.confusion[$0][$0] }.reduce(0, +))
            // 2 layers × 6 linears of the 32-wide model: q,k,v,out 32 values each, fc1 and fc2 min(32, 64) = 32,
            // plus the 3 × 32 head.
            #expect(run.trainableParameters == 2 * 6 * 32 + 3 * 32)
            let png = try PNGCodec.decode(contentsOf: dir.appendingPathComponent("confusion.png"))
            #expect(png.width == 3 * 24 + 1)
        }
        let mean = report.runs.map(\.evaluation.accuracy).reduce(0, +) / 2
        #expect(abs(report.accuracy.mean - mean) < 1e-12)
        #expect(lines.contains { $0.contains("step 3/3") })
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("results.json").path))
    }

    @Test("saved adapters reload with identical predictions (svd, lora, ln, adapter, probe)", arguments: [AdaptMethod.svd, .lora, .ln, .adapter, .probe])
    func saveLoadRoundTrip(method: AdaptMethod) throws {
        let root = try AdaptFixtures.makeFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let splits = try ImageFolderSplits(root: root)
        let (support, _) = try splits.train.kShot(2, seed: 5)
        let images = try ImageFolder.loadImages(support)
        let backbone = try VisionBackbone.load(model: AdaptFixtures.vitPath)
        var o = AdaptFixtures.options(method, iterations: 4)
        o.loraTargets = ["all"]
        let features = try VisionAdaptTrainer.features(backbone, images: images.images, size: 32)
        let model = try VisionAdaptModel.create(backbone: backbone, classes: splits.train.classes, options: o,
                                                supportFeatures: features, labels: images.labels)
        if method == .probe {
            _ = try VisionAdaptTrainer.trainProbe(model, features: features, labels: images.labels, log: { _ in })
        } else {
            _ = try VisionAdaptTrainer.train(model, images: images.images, labels: images.labels, log: { _ in })
        }
        let test = try ImageFolder.loadImages(try #require(splits.test).samples)
        let before = try model.predictLogits(test.images)
        let dir = root.appendingPathComponent("saved")
        try model.save(to: dir, supportFiles: support.map(\.url), dataRoot: root)
        let (loaded, manifest) = try VisionAdaptModel.load(from: dir, model: AdaptFixtures.vitPath)
        #expect(manifest.classes == AdaptFixtures.classes)
        #expect(manifest.supportFiles.count == 6)
        let after = try loaded.predictLogits(test.images)
        #expect(before.argmaxLastAxis() == after.argmaxLastAxis())
        let diff = try #require(maxAbsDifference(before, after))
        #expect(diff <= 1e-4, "\(method): reloaded logits differ by \(diff)")
    }

    @Test("svd at initialisation returns exactly the base model's features (DINOv2 and ViT)", arguments: [AdaptFixtures.dinov2Path, AdaptFixtures.vitPath])
    func svdInitIsIdentity(path: String) throws {
        let backbone = try VisionBackbone.load(model: path)
        let x = randomTensor([2, 3, 32, 32], seed: 4)
        let base = try withoutGrad { try backbone.imageFeatures(x) }
        let features = randomTensor([3, backbone.featureDim], seed: 5)
        let model = try VisionAdaptModel.create(backbone: backbone, classes: ["a", "b", "c"], options: AdaptFixtures.options(.svd),
                                                supportFeatures: features, labels: [0, 1, 2])
        #expect(model.injection?.matchedKeys.count == 12)   // 2 blocks × q, k, v, out, fc1, fc2
        let adapted = try withoutGrad { try backbone.imageFeatures(x) }
        #expect(maxAbsDifference(base, adapted) == 0)
    }

    /// The tiny CLIP's vocabulary has 1000 ids, so prompts are mapped to ids by a stand-in for
    /// the BPE tokenizer: start 998, one id per word (its length, 1…997), end 999, zero padding.
    static let stubTokenizer: PromptTokenizer = { prompts in
        let rows = prompts.map { p in [998] + p.split(separator: " ").map { min(997, $0.count) } + [999] }
        let ids = rows.map { $0 + [Int](repeating: 0, count: 16 - $0.count) }
        return (ids, rows.map { [Int](repeating: 1, count: $0.count) + [Int](repeating: 0, count: 16 - $0.count) })
    }

    @Test("CLIP: svd adapts both towers, starts exactly at zero-shot, and gradients reach the text tower")
    func clipBothTowers() throws {
        func backbone() throws -> VisionBackbone {
            let path = TestPaths.fixture("tiny/clip")
            return VisionBackbone(family: .clip, module: try CLIPModel.load(directory: path), source: path.path, tokenizer: Self.stubTokenizer)
        }
        let x = randomTensor([2, 3, 32, 32], seed: 8)
        let classes = ["cat", "big_dog", "a_small_bird"]
        let unused = Tensor.zeros([3, 16])
        let zs = try VisionAdaptModel.create(backbone: try backbone(), classes: classes, options: AdaptFixtures.options(.zeroshot),
                                             supportFeatures: unused, labels: [0, 1, 2])
        #expect(zs.usesPrompts && zs.trainableCount == 0)
        let zeroShot = try withoutGrad { try zs.logits(x) }
        let svd = try VisionAdaptModel.create(backbone: try backbone(), classes: classes, options: AdaptFixtures.options(.svd),
                                              supportFeatures: unused, labels: [0, 1, 2])
        // 2 text + 2 vision blocks × 6 linears.
        #expect(svd.injection?.matchedKeys.count == 24)
        #expect(svd.backbone.textTowerTrains)
        #expect(maxAbsDifference(zeroShot, try withoutGrad { try svd.logits(x) }) == 0)
        // logits = 100 · cos: hand check against the model's own normalised embeddings.
        let clip = try #require(svd.backbone.module as? CLIPModel)
        let img = try clip.imageFeatures(x), txt = try svd.backbone.textFeatures(classes.map { classPrompt("a photo of a {}.", $0) })
        func unit(_ t: Tensor, _ r: Int) -> [Float] {
            let d = t.shape[1], row = Array(t.storage[(r * d)..<((r + 1) * d)])
            let n = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            return row.map { $0 / n }
        }
        let expected = 100 * zip(unit(img, 1), unit(txt, 2)).map { $0 * $1 }.reduce(0, +)
        #expect(abs(zeroShot.storage[1 * 3 + 2] - expected) < 1e-3)
        svd.setTraining(true)
        let loss = try svd.logits(x).crossEntropy(targets: [0, 1])
        loss.backward()
        let textGrads = svd.trainableParameters().filter { $0.0.hasPrefix("text_model") }
        #expect(!textGrads.isEmpty && textGrads.allSatisfy { $0.1.gradStorage != nil })
    }

    @Test("the class-mean head before training is the nearest-centred-mean cosine classifier (worked in Double)")
    func headInitialisation() throws {
        // Features of 4 samples in 2 classes; centre = mean of all rows.
        let rows: [[Double]] = [[1, 0, 2], [3, 1, 0], [0, 2, 1], [1, 3, 1]]
        let labels = [0, 0, 1, 1]
        let t = Tensor(rows.flatMap { $0.map(Float.init) }, shape: [4, 3])
        let head = try CosineHead.classMeans(features: t, labels: labels, classes: ["x", "y"], centered: true, scale: 10)
        let mu = (0..<3).map { j in rows.map { $0[j] }.reduce(0, +) / 4 }
        func unit(_ v: [Double]) -> [Double] { let n = v.map { $0 * $0 }.reduce(0, +).squareRoot(); return v.map { $0 / n } }
        let centred = rows.map { unit(zip($0, mu).map { $0 - $1 }) }
        let means = (0..<2).map { c in unit((0..<3).map { j in centred.indices.filter { labels[$0] == c }.map { centred[$0][j] }.reduce(0, +) }) }
        let query: [Double] = [2, 0, 1]
        let q = unit(zip(query, mu).map { $0 - $1 })
        let expected = means.map { m in 10 * zip(q, m).map { $0 * $1 }.reduce(0, +) }
        let got = head(Tensor(query.map(Float.init), shape: [1, 3]))
        for c in 0..<2 { #expect(abs(Double(got.storage[c]) - expected[c]) < 1e-5) }
        #expect(throws: DatasetError.self) { try CosineHead.classMeans(features: t, labels: [0, 0, 0, 0], classes: ["x", "y"], centered: true, scale: 1) }
    }

    @Test("held-out evaluation never sees a training image (no test split: the remainder)")
    func heldOutExcludesSupport() throws {
        let root = try AdaptFixtures.makeFolder(perClass: 5, withTest: false)
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("run")
        let report = try VisionAdaptTask.train(data: root.appendingPathComponent("train"), options: AdaptFixtures.options(.probe, shots: 3),
                                               seeds: [7], out: out, backbone: { try VisionBackbone.load(model: AdaptFixtures.dinov2Path) }, log: { _ in })
        #expect(report.runs[0].evaluation.count == 3 * 2)
        let manifest = try VisionAdaptModel.manifest(in: out)
        let held = try VisionAdaptTask.heldOut(data: root.appendingPathComponent("train"), manifest: manifest)
        #expect(held.excluded == 9)
        #expect(held.samples.count == 6)
        #expect(Set(held.samples.map { $0.url.standardizedFileURL.path }).isDisjoint(with: manifest.supportFiles))
    }

    @Test("bad input: empty class folder, non-image file, K larger than a class — clear errors, no crash")
    func badInput() throws {
        let root = try AdaptFixtures.makeFolder(perClass: 3)
        defer { try? FileManager.default.removeItem(at: root) }
        let train = root.appendingPathComponent("train")
        try FileManager.default.createDirectory(at: train.appendingPathComponent("empty_class"), withIntermediateDirectories: true)
        try Data("not an image".utf8).write(to: train.appendingPathComponent("red_things/notes.txt"))
        try Data("<html>".utf8).write(to: train.appendingPathComponent("red_things/fake.png"))
        let make = { try VisionBackbone.load(model: AdaptFixtures.dinov2Path) }
        var lines: [String] = []
        // Default: skipped with warnings naming each file and the dropped class.
        let report = try VisionAdaptTask.train(data: root, options: AdaptFixtures.options(.probe), seeds: [1], out: root.appendingPathComponent("a"),
                                               backbone: make, log: { lines.append($0) })
        #expect(report.runs[0].evaluation.classes == AdaptFixtures.classes)
        #expect(lines.contains { $0.contains("notes.txt") && $0.contains("skipped") })
        #expect(lines.contains { $0.contains("fake.png") })
        #expect(lines.contains { $0.contains("empty_class") })
        // Strict: the first problem is an error.
        #expect(throws: DatasetError.self) {
            try VisionAdaptTask.train(data: root, options: AdaptFixtures.options(.probe), seeds: [1], out: root.appendingPathComponent("b"),
                                      strict: true, backbone: make, log: { _ in })
        }
        // K larger than a class names the class.
        do {
            _ = try VisionAdaptTask.train(data: root, options: AdaptFixtures.options(.svd, shots: 4), seeds: [1], out: root.appendingPathComponent("c"),
                                          backbone: make, log: { _ in })
            Issue.record("4 shots from 3 images per class should fail")
        } catch let e as DatasetError {
            #expect(e.message.contains("has only 3 image(s)") && e.message.contains("blue_things"))
        }
        // Zero-shot needs CLIP; a missing adapter folder is a one-line error.
        #expect(throws: DatasetError.self) {
            try VisionAdaptTask.train(data: root, options: AdaptFixtures.options(.zeroshot), seeds: [1], out: root.appendingPathComponent("d"),
                                      backbone: make, log: { _ in })
        }
        #expect(throws: DatasetError.self) { try VisionAdaptModel.load(from: root.appendingPathComponent("nope")) }
    }

    @Test("batches walk through a fresh permutation each epoch")
    func batchOrder() {
        let n = 7, batch = 3
        let stream = (0..<7).flatMap { VisionAdaptTrainer.batchIndices(step: $0, batch: batch, n: n, seed: 9) }   // 21 = 3 epochs
        for e in 0..<3 { #expect(Set(stream[(e * n)..<((e + 1) * n)]) == Set(0..<n)) }
        #expect(Array(stream[0..<n]) != Array(stream[n..<(2 * n)]))
        #expect(VisionAdaptTrainer.batchIndices(step: 2, batch: batch, n: n, seed: 9) == Array(stream[6..<9]))
    }

    @Test("report arithmetic on a hand-worked confusion matrix; mean ± sample std over seeds")
    func reportArithmetic() {
        // Labels 0,0,1,2 predicted 0,1,1,0: class 0 half right, class 1 right, class 2 wrong.
        let r = EvaluationReport(split: "t", classes: ["a", "b", "c"], labels: [0, 0, 1, 2], predictions: [0, 1, 1, 0])
        #expect(r.accuracy == 0.5)
        #expect(r.confusion == [[1, 1, 0], [0, 1, 0], [1, 0, 0]])
        #expect(r.perClass.map(\.accuracy) == [0.5, 1, 0])
        let s = SeedStatistics(seeds: [1, 2], accuracies: [0.5, 0.7])
        #expect(abs(s.mean - 0.6) < 1e-12)
        #expect(abs(s.std - 0.02.squareRoot()) < 1e-12)   // ((0.1² + 0.1²) / (2 − 1))^½
    }
}

@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The audio classification task end to end on generated tones (folder data, training,
/// best-epoch selection, evaluation, adapter save/load, prediction) and its bad-input handling.
@Suite("Audio task", .serialized)
struct AudioTaskTests {
    /// A harmonic tone at `frequency` with a seeded amplitude, phase and noise floor.
    static func tone(_ frequency: Double, seconds: Double = 0.5, rate: Int = 16_000, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let amp = 0.2 + 0.3 * Double(rng.nextUnitFloat()), phase = 6.28 * Double(rng.nextUnitFloat())
        return (0..<Int(seconds * Double(rate))).map { i in
            let t = Double(i) / Double(rate)
            let s = amp * (sin(2 * .pi * frequency * t + phase) + 0.4 * sin(4 * .pi * frequency * t))
            return Float(s) + 0.01 * rng.nextNormal()
        }
    }

    static func write(_ samples: [Float], rate: Int = 16_000, channels: Int = 1, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let interleaved = channels == 1 ? samples : samples.flatMap { [Float](repeating: $0, count: channels) }
        try AudioFile.writeWAV(AudioClip(samples: interleaved, sampleRate: rate, channels: channels), to: url)
    }

    /// root/{train,test}/{low,mid,high}/*.wav
    static func toneFolder(trainPerClass: Int = 8, testPerClass: Int = 4) throws -> URL {
        let root = try TestPaths.temporaryDirectory()
        let classes = [("low", 300.0), ("mid", 1000.0), ("high", 3000.0)]
        for (split, count) in [("train", trainPerClass), ("test", testPerClass)] {
            for (c, (name, f)) in classes.enumerated() {
                for i in 0..<count {
                    let seed = UInt64(c * 1000 + i + (split == "test" ? 500 : 0))
                    try write(tone(f * (0.97 + 0.06 * Double(i % 3) / 2), seed: seed), to: root.appendingPathComponent("\(split)/\(name)/\(i).wav"))
                }
            }
        }
        return root
    }

    @Test("tones: linear probing and the Conformer adapter learn, the saved adapter reloads and predicts")
    func endToEnd() throws {
        let root = try Self.toneFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try AudioDataset.open(root)
        #expect(data.classes == ["high", "low", "mid"])
        let splits = try data.makeSplits(seed: 1)
        let recipe = BackboneRecipe(kind: "ast", modelPath: nil, frames: 64, seed: 3, shapes: "tiny")
        let frontEnd = try BackboneFactory.make(recipe).frontEnd
        let train = try AudioClipLoader.load(splits.train, frontEnd: frontEnd, augmentCopies: 1, seed: 5)
        let test = try AudioClipLoader.load(splits.test, frontEnd: frontEnd)
        #expect(train.features.count == 48 && test.features.count == 12 && train.skipped.isEmpty)
        var options = AudioTrainOptions()
        options.epochs = 12
        options.batchSize = 8
        for method in [PETLMethod.linear, .conformerAdapter] {
            var config = PETLConfig(method: method)
            config.adapterReductionRate = 4
            let model = try PETLClassifier(backbone: try BackboneFactory.make(recipe), labels: splits.classes, config: config)
            var lines: [String] = []
            // A random tiny backbone's features are weak, so the probe gets a larger step than the
            // paper's 1e-3 to learn within 72 steps.
            options.learningRate = method == .linear ? 3e-2 : nil
            let report = try AudioClassificationTask.train(model, train: train, validation: test, options: options) { lines.append($0) }
            #expect(lines.count == 12 && report.history.count == 12)
            let best = report.history.map(\.validationAccuracy).max()!
            #expect(report.history[report.bestEpoch - 1].validationAccuracy == best)
            // The kept weights are the best epoch's, not the last's.
            let eval = try AudioClassificationTask.evaluate(model, clips: test, batchSize: 8)
            #expect(abs(eval.accuracy - best) < 1e-9)
            #expect(report.history.last!.trainLoss < report.history.first!.trainLoss)
            #expect(eval.accuracy >= 0.9, "\(method): test accuracy \(eval.accuracy)")
            #expect(eval.confusion.flatMap { $0 }.reduce(0, +) == 12)

            let dir = root.appendingPathComponent("adapter-\(method.rawValue)")
            let manifest = AudioAdapterManifest(backbone: recipe, petl: config, labels: splits.classes, training: options, report: report,
                                                test: eval, trainableParameters: model.trainableCount,
                                                backboneParameters: model.backboneParameterCount, dataProtocol: splits.protocolNote)
            try AudioAdapterFile.save(model, manifest: manifest, to: dir)
            let (reloaded, m) = try AudioAdapterFile.load(dir)
            #expect(m.labels == splits.classes)
            let again = try AudioClassificationTask.evaluate(reloaded, clips: test, batchSize: 8)
            #expect(again.accuracy == eval.accuracy)
            let top = try AudioClassificationTask.predict(reloaded, inputs: [test.features[0]], top: 2)
            #expect(top[0].count == 2 && top[0][0].probability >= top[0][1].probability)
            if method == .conformerAdapter {
                // BatchNorm running statistics are part of the saved state.
                #expect(model.stateToSave().contains { $0.0.hasSuffix("batch_norm.running_mean") })
            }
        }
    }

    @Test("an empty class folder is one clear error naming it")
    func emptyClass() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.write(Self.tone(500, seed: 1), to: root.appendingPathComponent("a/0.wav"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("b"), withIntermediateDirectories: true)
        do {
            _ = try AudioDataset.open(root)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains(root.appendingPathComponent("b").path) && "\(error)".contains("empty"))
        }
    }

    @Test("a non-audio file is skipped with a warning naming it, or is an error with strict")
    func nonAudio() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.write(Self.tone(500, seed: 1), to: root.appendingPathComponent("a/0.wav"))
        try Self.write(Self.tone(900, seed: 2), to: root.appendingPathComponent("b/0.wav"))
        let bogus = root.appendingPathComponent("b/notes.wav")
        try Data("this is not audio".utf8).write(to: bogus)
        try Self.write(Array(Self.tone(900, seed: 3).prefix(100)), to: root.appendingPathComponent("b/short.wav"))
        let data = try AudioDataset.open(root)
        let all = data.splits["all"]!
        let frontEnd = try ASTFeatureExtractor(maxLength: 64)
        let loaded = try AudioClipLoader.load(all, frontEnd: frontEnd)
        #expect(loaded.features.count == 2)
        #expect(loaded.skipped.count == 2)
        #expect(loaded.skipped.contains { $0.contains(bogus.path) && $0.contains("skipped") })
        #expect(loaded.skipped.contains { $0.contains("short.wav") && $0.contains("shorter than one 25 ms frame") })
        #expect(throws: AudioDatasetError.self) { try AudioClipLoader.load(all, frontEnd: frontEnd, strict: true) }
    }

    @Test("a CSV row naming a missing file is an error with its line number; folds rotate as ESC-50")
    func manifest() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var lines = ["path,label,fold"]
        for fold in 1...5 {
            for (c, f) in [("dog", 400.0), ("rain", 2000.0)] {
                let name = "clips/\(c)-\(fold).wav"
                try Self.write(Self.tone(f, seed: UInt64(fold)), to: root.appendingPathComponent(name))
                lines.append("\(name),\(c),\(fold)")
            }
        }
        let csv = root.appendingPathComponent("meta.csv")
        try lines.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let data = try AudioDataset.open(csv)
        #expect(data.folds == [1, 2, 3, 4, 5])
        let split = try data.makeSplits(fold: 2, seed: 1)
        #expect(Set(split.test.compactMap(\.fold)) == [2] && Set(split.validation.compactMap(\.fold)) == [1])
        #expect(Set(split.train.compactMap(\.fold)) == [3, 4, 5])
        #expect(throws: AudioDatasetError.self) { try data.makeSplits(fold: 9, seed: 1) }

        let bad = root.appendingPathComponent("bad.csv")
        try ["path,label", "clips/dog-1.wav,dog", "clips/missing.wav,dog"].joined(separator: "\n").write(to: bad, atomically: true, encoding: .utf8)
        do {
            _ = try AudioDataset.open(bad)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("line 3") && "\(error)".contains("missing.wav"))
        }
    }

    @Test("mixed sample rates and channel counts load to the same input shape; K-shot is seeded per class")
    func mixedFormatsAndShots() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.write(Self.tone(500, rate: 8_000, seed: 1), rate: 8_000, to: root.appendingPathComponent("a/8k.wav"))
        try Self.write(Self.tone(500, rate: 44_100, seed: 2), rate: 44_100, channels: 2, to: root.appendingPathComponent("a/44k-stereo.wav"))
        for i in 0..<4 { try Self.write(Self.tone(2000, seed: UInt64(10 + i)), to: root.appendingPathComponent("b/\(i).wav")) }
        let data = try AudioDataset.open(root)
        let loaded = try AudioClipLoader.load(data.splits["all"]!, frontEnd: try ASTFeatureExtractor(maxLength: 64))
        #expect(loaded.skipped.isEmpty && loaded.features.allSatisfy { $0.shape == [64, 128] })
        let all = data.splits["all"]!
        let one = try AudioDataset.kShot(all, k: 2, classes: data.classes, seed: 7, source: root)
        #expect(one.filter { $0.label == 0 }.count == 2 && one.filter { $0.label == 1 }.count == 2)
        #expect(try AudioDataset.kShot(all, k: 2, classes: data.classes, seed: 7, source: root) == one)
        #expect(throws: AudioDatasetError.self) { try AudioDataset.kShot(all, k: 3, classes: data.classes, seed: 7, source: root) }
    }
}

import Core
import Foundation
import Testing
@testable import AppSupport
import TestSupport
import Vision

/// `deepfake-detect` build-data → train → eval → score through the command line, on generated
/// face-like images and the tiny DINOv2 fixture.
@Suite(.serialized) struct DeepfakeDetectCommandTests {
    /// `root/s<p>/<k>.png`: grey "faces" (a bright ellipse on a textured background).
    static func faces(identities: Int = 5, perIdentity: Int = 2) throws -> URL {
        let root = try TestPaths.temporaryDirectory()
        for p in 1...identities {
            let dir = root.appendingPathComponent("s\(p)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for k in 1...perIdentity {
                var rng = SplitMix64(seed: UInt64(p * 10 + k))
                var img = Image(width: 40, height: 48, channels: 1)
                for y in 0..<48 {
                    for x in 0..<40 {
                        let dx = Double(x - 20) / 13, dy = Double(y - 26) / 18
                        let base = dx * dx + dy * dy < 1 ? 120 + 10 * p : 50 + (x * y) % 30
                        img[y, x, 0] = UInt8(max(0, min(255, base + Int(rng.next() % 21) - 10)))
                    }
                }
                try PNGCodec.write(img, to: dir.appendingPathComponent("\(k).png"))
            }
        }
        return root
    }

    @Test func buildTrainEvalScore() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data").path
        #expect(try DeepfakeDetectCommand.run(["build-data", "--faces", try Self.faces().path, "--out", data, "--train-identities", "3",
                                               "--families", "swap,sbi,splice"]) == 0)
        let model = TestPaths.fixture("tiny/dinov2").path
        let detector = root.appendingPathComponent("det").path
        #expect(try DeepfakeDetectCommand.run(["train", "--data", data + "/train", "--families", "swap,sbi", "--out", detector, "--model", model,
                                               "--iterations", "2", "--batch", "4", "--image-size", "32"]) == 0)
        let manifest = try GenDModel.manifest(in: URL(fileURLWithPath: detector))
        #expect(manifest.trainedFamilies == ["sbi", "swap"] && manifest.options.method == .gend)
        #expect(FileManager.default.fileExists(atPath: detector + "/adapter_model.safetensors"))
        #expect(try DeepfakeDetectCommand.run(["eval", "--adapter", detector, "--data", data + "/test", "--model", model,
                                               "--group-by", "^(s[0-9]+)_"]) == 0)
        // --real / --fake form, one family folder as the fakes.
        #expect(try DeepfakeDetectCommand.run(["eval", "--adapter", detector, "--real", data + "/test/real", "--fake", data + "/test/fake/splice",
                                               "--model", model]) == 0)
        #expect(try DeepfakeDetectCommand.run(["score", "--adapter", detector, "--model", model,
                                               data + "/test/real/s4_1.png", data + "/test/fake/swap/s4_1.png"]) == 0)
        // Full fine-tuning without --lr trains at a 100× smaller rate than the LayerNorm default 3e-4.
        let full = root.appendingPathComponent("full").path
        #expect(try DeepfakeDetectCommand.run(["train", "--data", data + "/train", "--out", full, "--model", model, "--method", "full",
                                               "--iterations", "1", "--batch", "4", "--image-size", "32"]) == 0)
        #expect(abs(try GenDModel.manifest(in: URL(fileURLWithPath: full)).options.learningRate - 3e-6) < 1e-18)
        #expect(abs(manifest.options.learningRate - 3e-4) < 1e-18)
        let (loaded, _) = try GenDModel.load(from: URL(fileURLWithPath: detector), model: model)
        let p = try GenDTrainer.scores(loaded, images: [try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: data + "/test/real/s4_1.png"))])
        #expect(p.count == 1 && p[0] > 0 && p[0] < 1)
    }

    /// `demo --seeds`: one folder per seed, the study table over them, full fine-tuning at
    /// --lr/100 unless --method-lr says otherwise.
    @Test func demoOverSeeds() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data").path
        #expect(try DeepfakeDetectCommand.run(["build-data", "--faces", try Self.faces(identities: 4).path, "--out", data, "--train-identities", "2",
                                               "--families", "swap,sbi,splice"]) == 0)
        let model = TestPaths.fixture("tiny/dinov2").path
        let out = root.appendingPathComponent("demo")
        let common = ["demo", "--data", data, "--model", model, "--iterations", "1", "--batch", "4", "--image-size", "32", "--lr", "1e-2",
                      "--ela", root.path]
        #expect(try DeepfakeDetectCommand.run(common + ["--methods", "gend,full", "--seeds", "5,6", "--out", out.path]) == 0)
        let study = try String(contentsOf: out.appendingPathComponent("study.md"), encoding: .utf8)
        #expect(study.contains("seeds 5, 6") && study.contains("| gend | 1e-02 |") && study.contains("| full | 1e-04 |"), "\(study)")
        let summary = try JSONDecoder().decode(GenDStudy.Summary.self, from: Data(contentsOf: out.appendingPathComponent("study.json")))
        #expect(summary.seeds == [5, 6] && summary.rows.map(\.unseen.count) == [2, 2] && summary.unseenFamilies == ["splice"])
        let seed6 = try JSONDecoder().decode(GenDExperiment.Result.self, from: Data(contentsOf: out.appendingPathComponent("seed-6/result.json")))
        #expect(seed6.options.seed == 6 && seed6.rows.map(\.learningRate) == [1e-2, 1e-4])
        #expect(FileManager.default.fileExists(atPath: out.path + "/seed-5/detectors/gend/adapter_model.safetensors"))
        // `study` over the per-seed result files gives the same table as the --seeds run.
        let combined = root.appendingPathComponent("combined.md")
        #expect(try DeepfakeDetectCommand.run(["study", out.path + "/seed-5/result.json", out.path + "/seed-6/result.json", "--out", combined.path]) == 0)
        #expect(try String(contentsOf: combined, encoding: .utf8) == study)
        #expect(throws: DatasetError.self) { try DeepfakeDetectCommand.run(["study", out.path + "/seed-5/result.json", out.path + "/seed-5/result.json"]) }
        #expect(throws: DatasetError.self) { try DeepfakeDetectCommand.run(["study", out.path + "/study.md"]) }
        #expect(throws: ArgumentError.self) { try DeepfakeDetectCommand.run(["study"]) }
        // --method-lr overrides; one --seed keeps the single-run layout.
        let one = root.appendingPathComponent("one")
        #expect(try DeepfakeDetectCommand.run(common + ["--methods", "full", "--method-lr", "full=2e-3", "--seed", "9", "--out", one.path]) == 0)
        let r = try JSONDecoder().decode(GenDExperiment.Result.self, from: Data(contentsOf: one.appendingPathComponent("result.json")))
        #expect(r.options.seed == 9 && r.rows.first?.learningRate == 2e-3)
        for bad in [["--seeds", "1,1"], ["--seeds", "1,x"], ["--seeds", "1", "--seed", "2"], ["--method-lr", "magic=1"], ["--method-lr", "full=-1"],
                    ["--method-lr", "full"]] {
            #expect(throws: ArgumentError.self, "\(bad)") { try DeepfakeDetectCommand.run(common + ["--methods", "gend", "--out", one.path] + bad) }
        }
    }

    @Test func badInputIsAClearError() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("real"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("fake"), withIntermediateDirectories: true)
        try PNGCodec.write(Image(width: 20, height: 20, channels: 3, fill: 90), to: root.appendingPathComponent("real/a.png"))
        let model = TestPaths.fixture("tiny/dinov2").path
        // Empty fake folder.
        do {
            _ = try DeepfakeDetectCommand.run(["train", "--data", root.path, "--out", root.path + "/d", "--model", model])
            Issue.record("empty fake folder accepted")
        } catch let e as DatasetError { #expect(e.message.contains("no fake images")) }
        // A truncated PGM among the fakes: the decoder's error names the file.
        try Data("P5\n20 20\n255\n".utf8 + [UInt8](repeating: 7, count: 50)).write(to: root.appendingPathComponent("fake/cut.pgm"))
        do {
            _ = try DeepfakeDetectCommand.run(["train", "--data", root.path, "--out", root.path + "/d", "--model", model,
                                               "--iterations", "1", "--batch", "2", "--image-size", "16"])
            Issue.record("truncated PGM accepted")
        } catch { #expect("\(error)".contains("cut.pgm")) }
        #expect(throws: ArgumentError.self) { try DeepfakeDetectCommand.run(["train", "--data", root.path, "--out", "x", "--method", "magic"]) }
        #expect(throws: ArgumentError.self) { try DeepfakeDetectCommand.run(["train", "--data", root.path, "--out", "x", "--batch", "x"]) }
        #expect(throws: DatasetError.self) { try DeepfakeDetectCommand.run(["train", "--data", root.path, "--out", "x", "--batch", "3"]) }
        #expect(throws: ArgumentError.self) { try DeepfakeDetectCommand.run(["build-data", "--out", "x", "--families", "gan"]) }
        #expect(throws: ArgumentError.self) { try DeepfakeDetectCommand.run(["score", "--adapter", root.path]) }
        #expect(throws: DatasetError.self) { try DeepfakeDetectCommand.run(["score", "--adapter", root.path, root.path + "/real/a.png"]) }
        #expect(throws: ArgumentError.self) { try DeepfakeDetectCommand.run(["fly"]) }
    }
}

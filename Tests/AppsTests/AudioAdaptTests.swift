import Audio
import Core
import Foundation
import Testing
@testable import AppSupport
import TestSupport
import Vision

/// `audio-adapt` on generated tones with the tiny AST fixture checkpoint: train → eval (JSON and
/// confusion PNG) → predict, compare, and clear errors for bad input.
@Suite("audio-adapt", .serialized)
struct AudioAdaptTests {
    static var model: String { TestPaths.fixture("tiny/ast").path }

    static func tones(_ root: URL) throws {
        for (split, count) in [("train", 6), ("test", 3)] {
            for (c, (name, f)) in [("low", 300.0), ("high", 2500.0)].enumerated() {
                for i in 0..<count {
                    var rng = SplitMix64(seed: UInt64(c * 100 + i + (split == "test" ? 50 : 0)))
                    let amp = 0.2 + 0.3 * Double(rng.nextUnitFloat())
                    let x = (0..<8000).map { Float(amp * sin(2 * .pi * f * Double($0) / 16000)) + 0.01 * rng.nextNormal() }
                    let url = root.appendingPathComponent("\(split)/\(name)/\(i).wav")
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try AudioFile.writeWAV(AudioClip(samples: x, sampleRate: 16000), to: url)
                }
            }
        }
    }

    @Test("train, eval and predict on a tone folder")
    func trainEvalPredict() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.tones(root.appendingPathComponent("data"))
        let data = root.appendingPathComponent("data").path, adapter = root.appendingPathComponent("adapter").path
        #expect(try AudioAdaptCommand.run(["train", "--data", data, "--model", Self.model, "--method", "conformer-adapter",
                                           "--reduction-rate", "4", "--epochs", "6", "--batch", "4", "--out", adapter]) == 0)
        let manifest = try AudioAdapterFile.manifest(in: URL(fileURLWithPath: adapter))
        #expect(manifest.labels == ["high", "low"] && manifest.backbone.kind == "ast" && manifest.backbone.frames == 64)
        #expect(manifest.petl.method == .conformerAdapter && manifest.report?.history.count == 6)
        let png = root.appendingPathComponent("confusion.png"), json = root.appendingPathComponent("eval.json")
        #expect(try AudioAdaptCommand.run(["eval", "--adapter", adapter, "--data", data, "--confusion", png.path, "--json", json.path]) == 0)
        let image = try PNGCodec.decode(contentsOf: png)
        #expect(image.width == 24 && image.height == 24)
        let result = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
        #expect((result["count"] as? Int) == 6)
        #expect((result["accuracy"] as? Double).map { abs($0 - (manifest.test?.accuracy ?? -1)) < 1e-9 } == true)
        #expect(try AudioAdaptCommand.run(["predict", "--adapter", adapter, "--top", "2", root.appendingPathComponent("data/test/low/0.wav").path]) == 0)
    }

    @Test("compare: PETL methods and a zoo adapter in the shared table (accuracy column), --json copy")
    func compare() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.tones(root.appendingPathComponent("data"))
        let json = root.appendingPathComponent("rows.json"), out = root.appendingPathComponent("cmp")
        #expect(try AudioAdaptCommand.run(["compare", "--data", root.appendingPathComponent("data").path, "--model", Self.model,
                                           "--methods", "linear,lora,lokr", "--lora-rr", "8", "--r", "2", "--epochs", "2", "--batch", "4",
                                           "--seeds", "1,2", "--json", json.path, "--out", out.path]) == 0)
        let rows = try CompareAppsTests.checkOutputs(out, methods: ["linear", "lora", "lokr"], metric: "test accuracy")
        #expect(rows.allSatisfy { ($0["trainable"] as? Int).map { $0 > 0 } == true && ($0["share"] as? Double).map { $0 > 0 } == true })
        // linear trains the final LN and head; lora and lokr add their pairs / factors on top of exactly that.
        let n = rows.compactMap { $0["trainable"] as? Int }
        #expect(n[1] > n[0] && n[2] > n[0])
        let copy = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any]
        #expect((copy?["rows"] as? [[String: Any]])?.count == 3)
    }

    @Test("bad input: missing manifest file (line number), unknown method, missing adapter, empty class folder")
    func badInput() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.tones(root.appendingPathComponent("data"))
        let csv = root.appendingPathComponent("m.csv")
        try "path,label\ndata/train/low/0.wav,low\ndata/train/high/0.wav,high\ndata/nope.wav,low\n".write(to: csv, atomically: true, encoding: .utf8)
        do {
            _ = try AudioAdaptCommand.run(["train", "--data", csv.path, "--model", Self.model, "--method", "linear", "--out", root.appendingPathComponent("a").path])
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("line 4") && "\(error)".contains("nope.wav")) }
        #expect(throws: ArgumentError.self) {
            try AudioAdaptCommand.run(["train", "--data", root.appendingPathComponent("data").path, "--model", Self.model, "--method", "magic", "--out", "x"])
        }
        #expect(throws: AudioDatasetError.self) { try AudioAdaptCommand.run(["eval", "--adapter", root.appendingPathComponent("none").path]) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("data/train/silent"), withIntermediateDirectories: true)
        do {
            _ = try AudioAdaptCommand.run(["train", "--data", root.appendingPathComponent("data").path, "--model", Self.model, "--out", "x"])
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("silent") && "\(error)".contains("empty")) }
    }
}

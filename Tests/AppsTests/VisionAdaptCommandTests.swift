import Core
import Foundation
import Testing
@testable import AppSupport
import TestSupport
import Vision

/// `vision-adapt` train → eval → predict through the command line, on a generated folder
/// with the tiny DINOv2 fixture.
@Suite(.serialized) struct VisionAdaptCommandTests {
    static func makeFolder() throws -> URL {
        let root = try TestPaths.temporaryDirectory()
        for (label, name) in ["dark", "light"].enumerated() {
            for split in ["train", "test"] {
                let dir = root.appendingPathComponent(split).appendingPathComponent(name)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                for i in 0..<3 {
                    let img = Image(width: 34, height: 34, channels: 3, fill: UInt8(label == 0 ? 30 + 10 * i : 200 + 10 * i))
                    try PNGCodec.write(img, to: dir.appendingPathComponent("\(i).png"))
                }
            }
        }
        return root
    }

    @Test func trainEvalPredict() throws {
        let root = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = TestPaths.fixture("tiny/dinov2").path
        let adapter = root.appendingPathComponent("adapter").path
        #expect(try VisionAdaptCommand.run(["train", "--data", root.path, "--shots", "2", "--out", adapter, "--model", model,
                                            "--iterations", "2", "--batch", "4", "--image-size", "32", "--method", "ln"]) == 0)
        #expect(try VisionAdaptCommand.run(["eval", "--adapter", adapter, "--data", root.path, "--model", model]) == 0)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: adapter + "/metrics.json"))) as? [String: Any]
        #expect(metrics?["count"] as? Int == 6)
        let image = root.appendingPathComponent("test/light/0.png").path
        #expect(try VisionAdaptCommand.run(["predict", "--adapter", adapter, "--top-k", "2", image]) == 0)
        let manifest = try VisionAdaptModel.manifest(in: URL(fileURLWithPath: adapter))
        #expect(manifest.options.method == .ln && manifest.classes == ["dark", "light"])
        let (loaded, _) = try VisionAdaptModel.load(from: URL(fileURLWithPath: adapter))
        let p = try loaded.predict([URL(fileURLWithPath: image)], topK: 2)
        #expect(p[0].top.count == 2)
        #expect(abs(p[0].top.map(\.probability).reduce(0, +) - 1) < 1e-5)
    }

    @Test func badArgumentsAreOneLineErrors() throws {
        let root = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: ArgumentError.self) { try VisionAdaptCommand.run(["train", "--data", root.path, "--shots", "2"]) }
        #expect(throws: ArgumentError.self) { try VisionAdaptCommand.run(["train", "--data", root.path, "--out", "x", "--method", "magic"]) }
        #expect(throws: ArgumentError.self) { try VisionAdaptCommand.run(["fly"]) }
        #expect(throws: DatasetError.self) {
            try VisionAdaptCommand.run(["train", "--data", root.path, "--out", root.path + "/a", "--shots", "9",
                                        "--model", TestPaths.fixture("tiny/dinov2").path])
        }
        #expect(throws: DatasetError.self) { try VisionAdaptCommand.run(["predict", "--adapter", root.path, root.path + "/test/dark/0.png"]) }
        #expect(throws: DatasetError.self) { try VisionAdaptCommand.run(["train", "--data", root.path + "/nowhere", "--out", "x"]) }
    }
}

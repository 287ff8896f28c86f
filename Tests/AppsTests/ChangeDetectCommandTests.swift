import Core
import Foundation
import Testing
@testable import AppSupport
import TestSupport
import Vision

/// `change-detect` make-data → train → eval → predict through the command line, with the tiny
/// DINOv2 fixture (2 blocks, patch 8) on synthetic changes of a generated scene.
@Suite(.serialized) struct ChangeDetectCommandTests {
    static func scene(_ root: URL) throws -> URL {
        let (w, h) = (96, 64)
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w {
            px[(y * w + x) * 3] = UInt8((x * 5) % 256); px[(y * w + x) * 3 + 1] = UInt8((y * 3) % 256)
            px[(y * w + x) * 3 + 2] = (x / 8 + y / 8) % 2 == 0 ? 220 : 30
        } }
        let url = root.appendingPathComponent("scene.png")
        try PNGCodec.write(Image(width: w, height: h, channels: 3, pixels: px), to: url)
        return url
    }

    @Test func makeDataTrainEvalPredict() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data").path
        #expect(try ChangeDetectCommand.run(["make-data", "--scene", try Self.scene(root).path, "--out", data, "--tile", "32"]) == 0)
        let model = TestPaths.fixture("tiny/dinov2").path
        let adapter = root.appendingPathComponent("adapter").path
        #expect(try ChangeDetectCommand.run(["train", "--data", data, "--out", adapter, "--model", model, "--peft", "lora", "--exchange", "0",
                                             "--steps", "3", "--batch", "2", "--size", "32", "--channels", "8", "--rank", "2"]) == 0)
        for f in ["adapter_config.json", "adapter_model.safetensors", "change_detect.json", "train_report.json"] {
            #expect(FileManager.default.fileExists(atPath: adapter + "/" + f), "\(f)")
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: adapter + "/adapter_config.json"))) as? [String: Any]
        #expect(config?["peft_type"] as? String == "LORA" && (config?["modules_to_save"] as? [String]) == ["decoder"])
        let keys = try SafeTensors.read(URL(fileURLWithPath: adapter + "/adapter_model.safetensors")).keys
        #expect(keys.contains("base_model.model.encoder.backbone.encoder.layer.0.attention.attention.query.lora_A.weight"))
        #expect(keys.contains { $0.hasPrefix("base_model.model.decoder.") && $0.hasSuffix("running_mean") })
        #expect(try ChangeDetectCommand.run(["eval", "--adapter", adapter, "--data", data, "--model", model]) == 0)
        let a = data + "/test/A/" + (try FileManager.default.contentsOfDirectory(atPath: data + "/test/A").sorted()[0])
        let out = root.appendingPathComponent("mask.png").path
        #expect(try ChangeDetectCommand.run(["predict", "--adapter", adapter, "--before", a, "--after", a.replacingOccurrences(of: "/A/", with: "/B/"),
                                             "--out", out, "--model", model]) == 0)
        let mask = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: out))
        #expect(mask.width == 32 && mask.height == 32 && mask.pixels.allSatisfy { $0 == 0 || $0 == 255 })
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("mask-overlay.png").path))
    }

    @Test func geoTIFFInputGivesAGeoreferencedMask() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // Train the frozen mode briefly on generated data, then predict on 4-band 16-bit GeoTIFFs.
        let data = root.appendingPathComponent("data").path
        #expect(try ChangeDetectCommand.run(["make-data", "--scene", try Self.scene(root).path, "--out", data, "--tile", "32"]) == 0)
        let model = TestPaths.fixture("tiny/dinov2").path
        let adapter = root.appendingPathComponent("adapter").path
        #expect(try ChangeDetectCommand.run(["train", "--data", data, "--out", adapter, "--model", model, "--peft", "frozen", "--exchange", "1",
                                             "--steps", "2", "--batch", "1", "--size", "32", "--channels", "4", "--bands", "3,2,1"]) == 0)
        let scale = TIFFTag(tag: 33550, type: 12, count: 3, bytes: [10.0, 10.0, 0.0].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        let raster = Raster(width: 40, height: 24, bands: 4, samples: (0..<(40 * 24 * 4)).map { Float(($0 * 37) % 4000) })
        let before = root.appendingPathComponent("before.tif"), after = root.appendingPathComponent("after.tif")
        try TIFFWriter.write(raster, to: before, bitsPerSample: 16, extraTags: [scale])
        try TIFFWriter.write(raster, to: after, bitsPerSample: 16)
        let out = root.appendingPathComponent("mask.tif")
        #expect(try ChangeDetectCommand.run(["predict", "--adapter", adapter, "--before", before.path, "--after", after.path, "--out", out.path, "--model", model]) == 0)
        let mask = try TIFFDecoder.decode(contentsOf: out)
        #expect(mask.width == 40 && mask.height == 24 && mask.bands == 1 && mask.geoTags == [scale])
        // Different sizes: a clear error naming both.
        try TIFFWriter.write(Raster(width: 20, height: 24, bands: 4, samples: [Float](repeating: 1, count: 20 * 24 * 4)), to: after, bitsPerSample: 16)
        #expect { try ChangeDetectCommand.run(["predict", "--adapter", adapter, "--before", before.path, "--after", after.path, "--out", out.path, "--model", model]) }
            throws: { "\($0)".contains("40×24") && "\($0)".contains("20×24") }
    }

    @Test func badOptionsFailClearly() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data").path
        #expect(try ChangeDetectCommand.run(["make-data", "--scene", try Self.scene(root).path, "--out", data, "--tile", "32"]) == 0)
        let model = TestPaths.fixture("tiny/dinov2").path
        #expect { try ChangeDetectCommand.run(["train", "--data", data, "--out", root.path + "/x", "--model", model, "--peft", "lora"]) }
            throws: { "\($0)".contains("--exchange") && "\($0)".contains("level 2") }
        #expect { try ChangeDetectCommand.run(["train", "--data", data, "--out", root.path + "/x", "--model", model, "--exchange", "0", "--size", "30", "--steps", "1"]) }
            throws: { "\($0)".contains("multiple of the model's patch size 8") }
        #expect { try ChangeDetectCommand.run(["train", "--data", data, "--out", root.path + "/x", "--peft", "dora"]) }
            throws: { "\($0)".contains("lora, adapter or frozen") }
    }
}

import Foundation
import Testing
@testable import Vision
import Core
import TestSupport

/// Inputs found by `scripts/fuzz.sh` (target `pnm`), minimised by hand.
@Suite("Fuzz regressions (Vision)")
struct VisionFuzzRegressionTests {
    /// A 27-byte ASCII PPM whose header claims 19 × 6,553,311 pixels: the decoder allocated the
    /// 373 MB raster before reading a single sample (Tests/Fuzz/crashes/pnm/oom-940e…). Each
    /// ASCII sample needs at least a digit and a separator, so the header is refused up front.
    @Test func asciiHeaderClaimingMoreSamplesThanTheFileHoldsIsRefusedBeforeAllocating() throws {
        let found = try #require(Data(base64Encoded: "UDMxOQogCjY1NTMzMTEKIAo2NTUzNQoKNgoK"))
        #expect(String(decoding: found, as: UTF8.self).hasPrefix("P319\n \n6553311"))
        for data in [found, Data("P2 1000 1000 255 1 2 3".utf8), Data("P6 1000 1000 255\n".utf8) + Data([1, 2, 3])] {
            do {
                _ = try PNMDecoder.decode(data, file: "claims.ppm")
                Issue.record("should fail")
            } catch let error as ImageError {
                #expect(error.kind == .truncated, "\(error)")
                #expect("\(error)".contains("claims.ppm") && "\(error)".contains("unexpected end of data"), "\(error)")
            }
        }
        // A header that fits still decodes (the bound is exact at one digit + one separator).
        let tight = try PNMDecoder.decode(Data("P2 2 1 9 1 2".utf8), file: "tight.pgm")
        #expect(tight.width == 2 && tight.pixels.count == 2)
    }

    /// A TIFF whose BitsPerSample tag lists 1,818 values (Tests/Fuzz/crashes/tiff/crash-e466…,
    /// target `tiff`): the error quoted every one, a 6,000-character "line". Minimised: a
    /// little-endian 1×1 image whose BitsPerSample holds 2,000 alternating 8s and 16s.
    @Test func tiffErrorForManyBitDepthsStaysShort() {
        var b: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0]
        func u16(_ v: Int) { b += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: Int) { b += (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) } }
        let valuesAt = 8 + 2 + 3 * 12 + 4
        u16(3)
        u16(256); u16(3); u32(1); u16(1); u16(0)                  // ImageWidth 1
        u16(257); u16(3); u32(1); u16(1); u16(0)                  // ImageLength 1
        u16(258); u16(3); u32(2000); u32(valuesAt)                // BitsPerSample × 2000
        u32(0)
        for i in 0..<2000 { u16(i % 2 == 0 ? 8 : 16) }
        do {
            _ = try TIFFDecoder.decode(Data(b), file: "depths.tif")
            Issue.record("should fail")
        } catch {
            let message = "\(error)"
            #expect(message.contains("depths.tif") && message.contains("different bit depths (8, 16)"), "\(message)")
            #expect(message.count < 400 && !message.contains("\n"), "\(message.count) characters")
        }
    }

    /// File and folder names may hold a newline on Linux; the dataset readers quoted them raw,
    /// so the error split over two lines (fuzz targets `image-folder`, `deepfake-folder`,
    /// `face-folder`). `DatasetError` now escapes control characters.
    @Test func folderNamesWithNewlinesGiveOneLineErrors() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-nl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let cls = root.appendingPathComponent("cat")
        try FileManager.default.createDirectory(at: cls, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: cls.appendingPathComponent("notes\nforged: ok.txt"))
        do {
            _ = try ImageFolder(root: root, strict: true)
            Issue.record("a text file was accepted in strict mode")
        } catch {
            let text = "\(error)"
            #expect(!text.contains("\n") && text.contains(#"notes\nforged: ok.txt"#) && text.contains(root.path), "\(text.debugDescription)")
        }
        #expect(DatasetError("a\rb\u{1B}[2Kc").message == #"a\rb\u{1B}[2Kc"#)
    }

    /// A saved vision-adapt folder whose manifest names an unknown LoRA target (soak of the sixth
    /// session, target `vision-adapter`, Tests/Fuzz/crashes/vision-adapter/crash-lora-seed-with-target-x):
    /// the error quoted the command-line flag (`--targets: 'x' is not one of …`) and named no file.
    @Test func unknownLoRATargetInManifestNamesTheManifest() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = TestPaths.fixture("tiny/dinov2").path
        var rng = SplitMix64(seed: 5)
        let backbone = try VisionBackbone.load(model: model)
        var options = VisionAdaptOptions(method: .lora, shots: 2)
        options.imageSize = 32
        options.loraRank = 2
        let features = Tensor.normal([4, backbone.featureDim], using: &rng)
        let adapted = try VisionAdaptModel.create(backbone: backbone, classes: ["cat", "dog"], options: options, supportFeatures: features, labels: [0, 0, 1, 1])
        try adapted.save(to: root, supportFiles: [URL(fileURLWithPath: "/data/cat/1.png")], dataRoot: URL(fileURLWithPath: "/data"))
        _ = try VisionAdaptModel.load(from: root, model: model)  // the untouched folder loads
        let manifest = root.appendingPathComponent(VisionAdaptManifest.fileName)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: manifest)) as? [String: Any])
        var saved = try #require(json["options"] as? [String: Any])
        #expect(saved["lora_targets"] != nil, "manifest key renamed? \(saved.keys.sorted())")
        saved["lora_targets"] = ["q", "x"]
        json["options"] = saved
        try JSONSerialization.data(withJSONObject: json).write(to: manifest)
        do {
            _ = try VisionAdaptModel.load(from: root, model: model)
            Issue.record("a manifest with target 'x' loaded")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix(manifest.path) && text.contains("'x'") && !text.contains("\n"), "\(text)")
        }
    }

    /// A symlink loop (soak of the sixth session, target `image-folder`,
    /// Tests/Fuzz/crashes/image-folder/crash-8274…): the error quoted the path 32 levels down,
    /// 4,347 characters; it is now clipped, and since the seventh session the loop is reported
    /// at its first repeat (the folder is recognised by device and inode).
    @Test func symlinkLoopErrorStaysShort() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cls = root.appendingPathComponent("cat")
        try FileManager.default.createDirectory(at: cls, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: cls.appendingPathComponent(String(repeating: "n", count: 100)).path,
                                                   withDestinationPath: ".")
        do {
            _ = try ImageFolder(root: root, strict: true)
            Issue.record("a symlink loop was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.count < 400 && text.contains("symlink loop") && text.contains(root.path), "\(text.count) characters: \(text.prefix(300))")
        }
    }

    /// Two links back to an ancestor double the paths at every level (seventh session's soak,
    /// target `image-folder`, Tests/Fuzz/crashes/image-folder/oom-a816…: 1.1 GB of path strings
    /// before the 32-level limit). Each real folder is scanned once, so the scan stops at the
    /// first repeat, quickly, naming both paths.
    @Test func symlinkFanOutStopsAtTheFirstRepeat() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let inner = root.appendingPathComponent("cat/inner")
        try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: true)
        for link in ["a", "b", "c"] {
            try FileManager.default.createSymbolicLink(atPath: inner.appendingPathComponent(link).path, withDestinationPath: "..")
        }
        let started = Date()
        do {
            _ = try ImageFolder(root: root, strict: true)
            Issue.record("a folder with links back to its parent was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("cat/inner/a") && text.contains("symlink loop") && !text.contains("\n"), "\(text)")
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    /// A second link to a folder that is not an ancestor would put its images in the data set
    /// twice: refused the same way, naming the first path it was scanned under.
    @Test func secondLinkToOneFolderIsRefused() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let elsewhere = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let cat = root.appendingPathComponent("cat")
        try FileManager.default.createDirectory(at: cat, withIntermediateDirectories: true)
        for link in ["first", "second"] {
            try FileManager.default.createSymbolicLink(atPath: cat.appendingPathComponent(link).path, withDestinationPath: elsewhere.path)
        }
        do {
            _ = try ImageFolder(root: root, strict: true)
            Issue.record("two links to one folder were accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("cat/second") && text.contains("cat/first"), "\(text)")
        }
    }

    /// Real folders (no links) nested deeper than 32 levels still stop at the depth limit.
    @Test func deepRealFoldersStopAtTheDepthLimit() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var deep = root.appendingPathComponent("cat")
        for _ in 0..<34 { deep = deep.appendingPathComponent("d") }
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        do {
            _ = try ImageFolder(root: root, strict: true)
            Issue.record("34 nested folders were accepted")
        } catch {
            #expect("\(error)".contains("nested more than 32 deep"), "\(error)")
        }
    }
}

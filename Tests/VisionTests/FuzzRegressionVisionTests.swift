import Foundation
import Testing
@testable import Vision

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
}

import Foundation
import Testing
import TestSupport
import Core
@testable import Vision

/// PNG decoding against `fixtures/png/decoded*.safetensors`: bytes recorded from libpng 1.6.39's
/// simplified API by the fixture generator (independent of this code, which only calls libpng).
@Suite struct PNGCodecTests {
    static let sixteenBitFiles: Set<String> = ["gray16.png", "gray16_srgb.png", "rgb16.png", "rgb16_srgb.png", "rgba16.png"]

    @Test func everyFixtureMatchesLibpngDefaultBytes() throws {
        let reference = try VisionFixtures.safetensorsU8(VisionFixtures.pngFolder.appendingPathComponent("decoded.safetensors"))
        #expect(reference.count == 20)
        for (name, ref) in reference.sorted(by: { $0.key < $1.key }) {
            let img = try PNGCodec.decode(contentsOf: VisionFixtures.pngFolder.appendingPathComponent(name), sixteenBit: .libpngDefault)
            #expect([img.height, img.width, 4] == ref.shape, "\(name) shape")
            #expect(img.rgbaBytes == ref.bytes, "\(name) pixels differ from libpng's reference")
        }
    }

    @Test func defaultSixteenBitRoundingMatchesSRGBFlagReference() throws {
        let plain = try VisionFixtures.safetensorsU8(VisionFixtures.pngFolder.appendingPathComponent("decoded.safetensors"))
        let srgb = try VisionFixtures.safetensorsU8(VisionFixtures.pngFolder.appendingPathComponent("decoded_16bit_srgb_flag.safetensors"))
        #expect(Set(srgb.keys) == Self.sixteenBitFiles)
        for name in plain.keys.sorted() {
            let img = try PNGCodec.decode(contentsOf: VisionFixtures.pngFolder.appendingPathComponent(name))
            let expected = Self.sixteenBitFiles.contains(name) ? srgb[name]!.bytes : plain[name]!.bytes
            #expect(img.rgbaBytes == expected, "\(name) with the default (sRGB-rounding) 16-bit mode")
        }
        // The trap the README describes: linear 32768 → 186 under libpng's default, 128 when rounded.
        #expect(plain["gray16.png"]!.bytes != srgb["gray16.png"]!.bytes)
    }

    @Test func channelCountFollowsTheFile() throws {
        let expected: [String: Int] = [
            "gray8.png": 1, "gray1.png": 1, "gray16.png": 1, "graya8.png": 4, "rgb8.png": 3, "rgb16.png": 3,
            "rgba8.png": 4, "rgba16.png": 4, "rgb8_trns.png": 4, "palette8.png": 3, "palette8_trns.png": 4,
            "palette4_trns.png": 4, "rgb8_adam7.png": 3, "gray8_1x1.png": 1,
        ]
        for (name, channels) in expected {
            let img = try PNGCodec.decode(contentsOf: VisionFixtures.pngFolder.appendingPathComponent(name))
            #expect(img.channels == channels, "\(name)")
        }
        let one = try PNGCodec.decode(contentsOf: VisionFixtures.pngFolder.appendingPathComponent("gray8_1x1.png"))
        #expect(one.pixels == [200])   // README: a single pixel of value 200
    }

    @Test func corruptFilesThrowOneClearError() throws {
        let corrupt = VisionFixtures.pngFolder.appendingPathComponent("corrupt")
        let cases: [(String, ImageError.Kind, String)] = [
            ("truncated.png", .truncated, "unexpected end of data"),
            ("bad_crc_idat.png", .corrupt, "CRC"),
            ("empty.png", .empty, "empty file"),
            ("signature_only.png", .truncated, "after the signature"),
            ("not_a_png.png", .unknownFormat, "not a PNG"),
            ("huge_dims.png", .tooLarge, "100000x100000"),
            ("zero_width.png", .invalidHeader, "zero width"),
        ]
        for (name, kind, phrase) in cases {
            let url = corrupt.appendingPathComponent(name)
            let err = expectImageError { try PNGCodec.decode(contentsOf: url) }
            #expect(err?.kind == kind, "\(name): \(String(describing: err))")
            #expect(err?.description.contains(url.path) == true, "\(name): message must name the file")
            #expect(err?.problem.contains(phrase) == true, "\(name): \(err?.problem ?? "no error")")
        }
    }

    @Test func damagedAncillaryChunkFollowsLibpngAndDecodes() throws {
        let reference = try VisionFixtures.safetensorsU8(VisionFixtures.pngFolder.appendingPathComponent("decoded.safetensors"))
        let img = try PNGCodec.decode(contentsOf: VisionFixtures.pngFolder.appendingPathComponent("corrupt/bad_crc_ancillary.png"))
        #expect(img.rgbaBytes == reference["rgb8.png"]!.bytes)
    }

    @Test func writeRoundTripsAndLeavesNoTemporaryFiles() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 7)
        for channels in [1, 3, 4] {
            let pixels = (0..<(5 * 7 * channels)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let img = Image(width: 7, height: 5, channels: channels, pixels: pixels)
            let url = dir.appendingPathComponent("out\(channels).png")
            try PNGCodec.write(img, to: url)
            #expect(try PNGCodec.decode(contentsOf: url) == img)
            try PNGCodec.write(img.flippedHorizontally(), to: url)   // overwrite in place
            #expect(try PNGCodec.decode(contentsOf: url) == img.flippedHorizontally())
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["out1.png", "out3.png", "out4.png"])
        let missingDir = dir.appendingPathComponent("no/such/folder/x.png")
        #expect(expectImageError { try PNGCodec.write(Image(width: 1, height: 1, channels: 1), to: missingDir) }?.kind == .writeFailed)
    }
}

import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// TIFF files written by Debian's libtiff (`Resources/make_tiff_fixtures.py`); sample values are
/// the script's closed formulas, recomputed here.
@Suite("ChangeDetection TIFF/GeoTIFF reading")
struct ChangeDetectionTIFFTests {
    static func file(_ name: String) -> URL { VisionFixtures.resources.appendingPathComponent("tiff/\(name).tif") }

    @Test func lzwWithPredictorRGB8() throws {
        let r = try TIFFDecoder.decode(contentsOf: Self.file("lzw_rgb8"))
        #expect(r.width == 37 && r.height == 23 && r.bands == 3 && r.bitsPerSample == 8)
        var bad = 0
        for b in 0..<3 { for y in 0..<23 { for x in 0..<37 where r.samples[(b * 23 + y) * 37 + x] != Float((x * 7 + y * 13 + b * 50) % 256) { bad += 1 } } }
        #expect(bad == 0)
    }

    @Test func lzwNoiseReachesTwelveBitCodes() throws {
        let r = try TIFFDecoder.decode(contentsOf: Self.file("lzw_noise8"))
        #expect(r.width == 211 && r.height == 97 && r.bands == 1)
        var state = 12345
        var bad = 0
        for i in 0..<(211 * 97) {
            state = (state &* 1_103_515_245 &+ 12345) % (1 << 31)
            if r.samples[i] != Float((state >> 16) & 0xFF) { bad += 1 }
        }
        #expect(bad == 0)
    }

    @Test func packBitsBigEndianPlanar16() throws {
        let r = try TIFFDecoder.decode(contentsOf: Self.file("packbits_u16_be_planar"))
        #expect(r.width == 19 && r.height == 11 && r.bands == 4 && r.bitsPerSample == 16)
        var bad = 0
        for b in 0..<4 { for y in 0..<11 { for x in 0..<19 {
            let expected = y % 3 == 0 ? b * 100 : (x * 300 + y * 1000 + b * 7000 + 5) % 65536
            if r.samples[(b * 11 + y) * 19 + x] != Float(expected) { bad += 1 }
        } } }
        #expect(bad == 0)
    }

    @Test func tiledWithPartialEdgeTiles() throws {
        let r = try TIFFDecoder.decode(contentsOf: Self.file("tiled_u16"))
        #expect(r.width == 40 && r.height == 33 && r.bands == 2)
        var bad = 0
        for b in 0..<2 { for y in 0..<33 { for x in 0..<40 where r.samples[(b * 33 + y) * 40 + x] != Float(x * 100 + y + b * 5000) { bad += 1 } } }
        #expect(bad == 0)
    }

    @Test func deflateIsRefusedWithAConversionHint() throws {
        #expect {
            try TIFFDecoder.decode(contentsOf: Self.file("deflate"))
        } throws: { e in
            let s = "\(e)"
            return s.contains("deflate.tif") && s.contains("Deflate") && s.contains("gdal_translate")
        }
    }

    @Test func writerRoundTripKeepsGeoTags() throws {
        // ModelPixelScale (3 doubles) and a GeoKeyDirectory (4 shorts), as a GeoTIFF carries them.
        let scale = TIFFTag(tag: 33550, type: 12, count: 3, bytes: [10.0, 10.0, 0.0].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        let keys = TIFFTag(tag: 34735, type: 3, count: 4, bytes: [1, 0, 1, 2, 0, 0, 0, 0])
        let raster = Raster(width: 5, height: 3, bands: 4, samples: (0..<60).map { Float($0 * 1000) })
        let data = try TIFFWriter.encode(raster, bitsPerSample: 16, extraTags: [scale, keys])
        let back = try TIFFDecoder.decode(data)
        #expect(back.samples == raster.samples && back.bands == 4)
        #expect(back.geoTags == [scale, keys])
    }

    @Test func damagedFilesFailCleanly() throws {
        let good = try Data(contentsOf: Self.file("lzw_rgb8"))
        let cases: [(Data, String)] = [
            (Data([0x49, 0x49, 42, 0]), "bytes long"),
            (Data([0x49, 0x49, 43, 0, 8, 0, 0, 0]), "BigTIFF"),
            (good.prefix(200), "past the end"),
            (Data([0x49, 0x49, 42, 0, 0xFF, 0xFF, 0xFF, 0x7F]), "past the end"),
        ]
        for (data, needle) in cases {
            #expect {
                try TIFFDecoder.decode(data, file: "x.tif")
            } throws: { e in "\(e)".contains(needle) && "\(e)".contains("x.tif") }
        }
        // A header that claims a huge image is refused before allocating.
        let huge = Raster(width: 2, height: 2, bands: 1, samples: [0, 0, 0, 0])
        var bytes = [UInt8](try TIFFWriter.encode(huge))
        let ifd = Int(bytes[4]) | Int(bytes[5]) << 8
        // Entry 0 is ImageWidth (LONG): claim 4 000 000 pixels wide.
        let v = 4_000_000
        for j in 0..<4 { bytes[ifd + 2 + 8 + j] = UInt8((v >> (8 * j)) & 0xFF) }
        bytes[ifd + 2 + 12 + 8] = 0xFF; bytes[ifd + 2 + 12 + 9] = 0xFF  // ImageLength 65535
        #expect(throws: ImageError.self) { try TIFFDecoder.decode(Data(bytes), file: "huge.tif") }
    }
}

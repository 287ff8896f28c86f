import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// Band stacking and the one-grid check, on hand-made GeoTIFFs; and the real Landsat 7 / 8 pair
/// of Debian r-cran-satellite when `scripts/install-models.sh` has unpacked it.
@Suite("ChangeDetection Landsat pair")
struct ChangeDetectionLandsatTests {
    static let landsat = LandsatPair.defaultFolder
    static let installed = LandsatPair.isInstalled(landsat)

    static func doubles(_ v: [Double]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
    static func tiepoint(_ x: Double, _ y: Double) -> TIFFTag { TIFFTag(tag: 33922, type: 12, count: 6, bytes: doubles([0, 0, 0, x, y, 0])) }
    static let scale = TIFFTag(tag: 33550, type: 12, count: 3, bytes: doubles([30, 30, 0]))

    @Test func stackKeepsBandOrderAndRefusesAnotherGrid() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func band(_ name: String, value: Float, width: Int = 4, tie: TIFFTag = Self.tiepoint(483285, 5628525)) throws -> URL {
            let url = dir.appendingPathComponent(name)
            try TIFFWriter.write(Raster(width: width, height: 3, bands: 1, samples: [Float](repeating: value, count: width * 3)),
                                 to: url, bitsPerSample: 16, extraTags: [Self.scale, tie])
            return url
        }
        let r = try BandStack.stack(files: [try band("b3.tif", value: 300), try band("b2.tif", value: 200), try band("b1.tif", value: 100)])
        #expect(r.bands == 3 && r.width == 4 && r.height == 3)
        #expect(r.band(0).allSatisfy { $0 == 300 } && r.band(2).allSatisfy { $0 == 100 })
        #expect(r.geoTags.contains(Self.scale) && r.geoTags.contains(Self.tiepoint(483285, 5628525)))
        // A band one pixel-width off (another tiepoint) or of another size is refused, naming both files.
        #expect { _ = try BandStack.stack(files: [dir.appendingPathComponent("b3.tif"), try band("shifted.tif", value: 1, tie: Self.tiepoint(483315, 5628525))]) } throws: { e in
            let s = "\(e)"
            return s.contains("b3.tif") && s.contains("shifted.tif") && s.contains("ModelTiepoint")
        }
        #expect { _ = try BandStack.stack(files: [dir.appendingPathComponent("b3.tif"), try band("wide.tif", value: 1, width: 5)]) } throws: { e in
            let s = "\(e)"
            return s.contains("4×3") && s.contains("5×3") && s.contains("wide.tif")
        }
        #expect { _ = try LandsatPair.load(folder: dir) } throws: { e in "\(e)".contains("install-models.sh") }
    }

    @Test func noDataSamplesStayOutOfTheStretch() throws {
        // A 16-bit signed band with GDAL_NODATA −32768 at its left column: the stretch must come
        // from the valid values 100…(100 + 15·8) only, and the fill must be drawn black.
        let nodata = TIFFTag(tag: 42113, type: 2, count: 7, bytes: Array("-32768".utf8) + [0])
        let (w, h) = (16, 8)
        let samples = (0..<(w * h)).map { $0 % w == 0 ? Float(-32768) : Float(100 + ($0 % w) * 8) }
        let r = Raster(width: w, height: h, bands: 1, samples: samples, bitsPerSample: 16, geoTags: [nodata])
        #expect(r.noDataValue == -32768)
        let img = try r.maskingNoData().normalizedImage(bands: [0])
        // Valid values 100 + 8x for columns x = 1…15, i.e. 108…220, each 8 times (120 values). By
        // numpy's linear rule the 2nd percentile sits at rank 0.02·119 = 2.38 (both neighbours
        // 108) and the 98th at 116.62 (both 220): 108 → 0, 220 → 255, and column 8 (164) →
        // 56·255/112 = 127.5, i.e. 127 or 128 after Float rounding.
        let column = { (x: Int) in img.pixels[(0 * w + x) * 3] }
        #expect(column(0) == 0)
        #expect(column(1) == 0 && column(15) == 255)
        #expect(column(8) == 127 || column(8) == 128, "mid column \(column(8))")
        // Without the masking the fill would set the low percentile and flatten the valid range.
        let washed = try r.normalizedImage(bands: [0])
        #expect(washed.pixels[8 * 3] > 200)
    }

    /// `CORNER_UL_PROJECTION_{X,Y}_PRODUCT` of a Landsat MTL metadata file.
    static func upperLeft(_ mtl: URL) throws -> (Double, Double) {
        let text = try String(contentsOf: mtl, encoding: .utf8)
        func value(_ key: String) -> Double? {
            text.split(separator: "\n").first { $0.contains(key + " =") }.flatMap { Double($0.split(separator: "=")[1].trimmingCharacters(in: .whitespaces)) }
        }
        return (value("CORNER_UL_PROJECTION_X_PRODUCT") ?? .nan, value("CORNER_UL_PROJECTION_Y_PRODUCT") ?? .nan)
    }

    @Test(.enabled(if: installed, "models/landsat not installed (scripts/install-models.sh unpacks Debian r-cran-satellite)"))
    func realPairLoadsOnOneThirtyMetreGrid() throws {
        let (a, b) = try LandsatPair.load(folder: Self.landsat)
        #expect((a.width, a.height, a.bands) == (41, 41, 3) && (b.width, b.height, b.bands) == (41, 41, 3))
        // Both crops carry 30 m pixels and one tiepoint.
        let scale = try #require(a.geoTags.first { $0.tag == 33550 })
        #expect(scale == Self.scale)
        let tie = try #require(a.geoTags.first { $0.tag == 33922 })
        #expect(b.geoTags.first { $0.tag == 33922 } == tie)
        let t = tie.bytes.withUnsafeBytes { raw in (0..<6).map { Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) } }
        // Independent check against each scene's MTL metadata: its upper-left corner is the centre
        // of the scene's first 30 m pixel, so the crop's corner (the tiepoint) lies a whole number
        // of pixels plus a half from it, inside the scene.
        for scene in [LandsatPair.beforeScene, LandsatPair.afterScene] {
            let (ulx, uly) = try Self.upperLeft(Self.landsat.appendingPathComponent("\(scene)_MTL.txt"))
            let dx = (t[3] - ulx + 15) / 30, dy = (uly - t[4] + 15) / 30
            #expect(dx == dx.rounded() && dy == dy.rounded() && dx > 0 && dy > 0, "\(scene): tiepoint \(t[3]), \(t[4]) vs UL \(ulx), \(uly)")
        }
        // Real digital numbers: no nodata (−32768) inside the crop, and texture in every band.
        for r in [a, b] {
            #expect(r.samples.allSatisfy { $0 > 0 })
            for k in 0..<3 { #expect(Set(r.band(k)).count > 20) }
        }
        let (ia, ib) = try LandsatPair.trueColour(folder: Self.landsat)
        #expect((ia.width, ia.height, ia.channels) == (41, 41, 3) && (ib.width, ib.height) == (41, 41))
        // The 2-98 % stretch uses the whole 8-bit range in each band.
        for img in [ia, ib] {
            for c in 0..<3 {
                let v = (0..<(41 * 41)).map { img.pixels[$0 * 3 + c] }
                #expect(v.min() == 0 && v.max() == 255)
            }
        }
    }
}

import Foundation

/// Satellite products often ship one single-band GeoTIFF per spectral band (Landsat `_B4.TIF`,
/// Sentinel-2 `B04.jp2`). `BandStack` reads such files into one multi-band `Raster`, and checks
/// that two dates lie on the same pixel grid before they are compared pixel by pixel.
public enum BandStack {
    /// The georeferencing tags that fix a raster's grid: pixel size (ModelPixelScale), the
    /// anchor point (ModelTiepoint), an affine transform if one is used instead
    /// (ModelTransformation), and the projection (GeoKeyDirectory, GeoDoubleParams). The ASCII
    /// citation and GDAL's nodata tag may differ between products on one grid, so they are left out.
    static let gridTags: [UInt16] = [33550, 33922, 34264, 34735, 34736]
    static let gridTagNames: [UInt16: String] = [33550: "ModelPixelScale", 33922: "ModelTiepoint", 34264: "ModelTransformation",
                                                 34735: "GeoKeyDirectory", 34736: "GeoDoubleParams"]

    /// Reads the first band of each file, in order, as the bands of one raster. Every file must
    /// have one size and one grid; the result keeps the first file's georeferencing tags and
    /// bit depth, and each file's nodata samples (GDAL_NODATA) become NaN.
    public static func stack(files: [URL]) throws -> Raster {
        guard let firstURL = files.first else { throw DatasetError("no band files to stack") }
        var first: Raster?
        var samples: [Float] = []
        for url in files {
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw DatasetError("\(url.path): band file not found")
            }
            let r = try TIFFDecoder.decode(contentsOf: url)
            if let f = first {
                try checkSameGrid(f, firstURL.path, r, url.path)
            } else {
                first = r
            }
            samples += r.maskingNoData().band(0)
        }
        let f = first!  // files is not empty, so the loop set it
        return Raster(width: f.width, height: f.height, bands: files.count, samples: samples, bitsPerSample: f.bitsPerSample, geoTags: f.geoTags)
    }

    /// Throws, naming both files and the first difference, unless `a` and `b` have the same
    /// size and the same grid tags (a tag both lack counts as equal: plain TIFFs of one size pass).
    public static func checkSameGrid(_ a: Raster, _ aName: String, _ b: Raster, _ bName: String) throws {
        guard (a.width, a.height) == (b.width, b.height) else {
            throw DatasetError("\(aName) is \(a.width)×\(a.height) but \(bName) is \(b.width)×\(b.height); the rasters must share one grid")
        }
        for tag in gridTags {
            let ta = a.geoTags.first { $0.tag == tag }, tb = b.geoTags.first { $0.tag == tag }
            guard ta == tb else {
                throw DatasetError("\(aName) and \(bName) differ in their \(gridTagNames[tag] ?? "tag \(tag)") (GeoTIFF tag \(tag)): they are not on one grid; resample one onto the other (e.g. gdalwarp) first")
            }
        }
    }
}

extension Raster {
    /// The nodata value of GDAL's `GDAL_NODATA` tag (42113, ASCII), if the file has one.
    public var noDataValue: Float? {
        guard let t = geoTags.first(where: { $0.tag == 42113 }) else { return nil }
        let text = String(decoding: t.bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return Float(text)
    }

    /// The raster with its nodata samples (GDAL_NODATA) made NaN, so a percentile stretch skips
    /// them and draws them black: scene edges filled with −32768 or 0 would otherwise set the
    /// low percentile and wash the picture out.
    public func maskingNoData() -> Raster {
        guard let nodata = noDataValue else { return self }
        var r = self
        for i in r.samples.indices where r.samples[i] == nodata { r.samples[i] = .nan }
        return r
    }
}

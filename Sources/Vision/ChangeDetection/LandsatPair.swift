import Foundation

/// The real Landsat pair used for a qualitative change map (it has no change mask): crops of
/// Landsat 7 ETM+ (2001-07-30) and Landsat 8 OLI (2013-07-07) on the same 41×41 grid of WRS-2
/// path 195, row 25 (30 m pixels; USGS Landsat data, public domain), as shipped in the extdata of
/// the R package `satellite` (Debian `r-cran-satellite`; `scripts/install-models.sh` unpacks the
/// .deb into `models/landsat` without installing R).
public enum LandsatPair {
    /// Product identifiers (file-name prefixes) of the two dates.
    public static let beforeScene = "LE07_L1TP_195025_20010730_20170204_01_T1"
    public static let afterScene = "LC08_L1TP_195025_20130707_20170503_01_T1"
    /// True colour (red, green, blue). The sensors number their bands differently: ETM+ B3/B2/B1
    /// are OLI's B4/B3/B2 (OLI added a coastal-aerosol band as B1).
    public static let beforeBands = [3, 2, 1]
    public static let afterBands = [4, 3, 2]

    /// `models/landsat` under the models folder.
    public static var defaultFolder: URL { VisionBackbone.modelsFolder.appendingPathComponent("landsat") }

    /// True when `folder` holds the true-colour bands of both dates.
    public static func isInstalled(_ folder: URL = defaultFolder) -> Bool {
        bandFiles(folder).allSatisfy { FileManager.default.fileExists(atPath: $0.path) }
    }

    static func bandFiles(_ folder: URL) -> [URL] {
        beforeBands.map { folder.appendingPathComponent("\(beforeScene)_B\($0).TIF") }
            + afterBands.map { folder.appendingPathComponent("\(afterScene)_B\($0).TIF") }
    }

    /// Both dates as 3-band (R, G, B) rasters of the stored digital numbers, with the GeoTIFF
    /// tags of their red band; throws if a file is missing or the two dates are not on one grid.
    public static func load(folder: URL = defaultFolder) throws -> (before: Raster, after: Raster) {
        let files = bandFiles(folder)
        if let missing = files.first(where: { !FileManager.default.fileExists(atPath: $0.path) }) {
            throw DatasetError("\(missing.path): not found; run scripts/install-models.sh (it unpacks Debian r-cran-satellite into models/landsat)")
        }
        let before = try BandStack.stack(files: Array(files.prefix(3)))
        let after = try BandStack.stack(files: Array(files.suffix(3)))
        try BandStack.checkSameGrid(before, files[0].path, after, files[3].path)
        return (before, after)
    }

    /// Both dates as 8-bit true-colour images, each band stretched between its own 2nd and 98th
    /// percentile (the two sensors' digital numbers are not on one scale, so each date is
    /// stretched on its own, as `change-detect` does for any GeoTIFF input).
    public static func trueColour(folder: URL = defaultFolder, reading: RasterReading = RasterReading()) throws -> (before: Image, after: Image) {
        let (a, b) = try load(folder: folder)
        return (try a.normalizedImage(bands: [0, 1, 2], low: reading.lowPercentile, high: reading.highPercentile, file: folder.path),
                try b.normalizedImage(bands: [0, 1, 2], low: reading.lowPercentile, high: reading.highPercentile, file: folder.path))
    }
}

import Core
import Foundation

/// One bi-temporal pair: the two dates and, for training and evaluation, the change mask.
public struct ChangePair: Sendable, Equatable {
    public let name: String
    public let before: URL
    public let after: URL
    public let label: URL?

    public init(name: String, before: URL, after: URL, label: URL?) {
        self.name = name
        self.before = before
        self.after = after
        self.label = label
    }
}

/// A loaded pair: both dates as 8-bit RGB of the same size, and the mask as 0/1 per pixel.
public struct LoadedChangePair: Sendable {
    public let name: String
    public let before: Image
    public let after: Image
    public let mask: [UInt8]?
}

/// How raster files become 8-bit RGB (PNG/JPEG pass through; TIFF/GeoTIFF bands are chosen and
/// stretched between two percentiles of each band).
public struct RasterReading: Codable, Sendable, Equatable {
    /// 0-based bands for R, G, B (nil: the first three, or the only one).
    public var bands: [Int]?
    public var lowPercentile = 2.0
    public var highPercentile = 98.0

    public init(bands: [Int]? = nil) { self.bands = bands }
}

/// Change-detection data in the layout of LEVIR-CD and most CD benchmarks:
/// `root/<split>/{A,B,label}/<name>.<ext>` with A the earlier date, B the later, and label a
/// binary mask stored as 0/255 (or 0/1). Images may be PNG, JPEG, PGM/PPM or TIFF/GeoTIFF.
public enum ChangeDataset {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff", "pgm", "ppm"]

    /// The pairs of `root/<split>`, sorted by name. Every A image needs a B image of the same
    /// name (any supported extension); labels are required when `needLabels`.
    public static func pairs(root: URL, split: String, needLabels: Bool = true) throws -> [ChangePair] {
        let dir = root.appendingPathComponent(split)
        let fm = FileManager.default
        func index(_ sub: String) throws -> [String: URL] {
            let folder = dir.appendingPathComponent(sub)
            guard let names = try? fm.contentsOfDirectory(atPath: folder.path) else {
                throw DatasetError("\(folder.path): not found; change-detection data is laid out as DIR/{train,val,test}/{A,B,label}/<name>.png")
            }
            var out: [String: URL] = [:]
            for n in names where !n.hasPrefix(".") {
                let url = folder.appendingPathComponent(n)
                guard imageExtensions.contains(url.pathExtension.lowercased()) else { continue }
                let stem = url.deletingPathExtension().lastPathComponent
                if let other = out[stem] { throw DatasetError("\(folder.path): both \(other.lastPathComponent) and \(n) are named '\(stem)'") }
                out[stem] = url
            }
            return out
        }
        let a = try index("A"), b = try index("B")
        let labels = needLabels ? try index("label") : (try? index("label")) ?? [:]
        var pairs: [ChangePair] = []
        for name in a.keys.sorted() {
            guard let after = b[name] else { throw DatasetError("\(dir.path)/B: no image named '\(name)' to pair with A/\(a[name]!.lastPathComponent)") }
            let label = labels[name]
            if needLabels && label == nil { throw DatasetError("\(dir.path)/label: no mask named '\(name)' for A/\(a[name]!.lastPathComponent)") }
            pairs.append(ChangePair(name: name, before: a[name]!, after: after, label: label))
        }
        guard !pairs.isEmpty else { throw DatasetError("\(dir.path)/A: no images (PNG, JPEG, PGM/PPM or TIFF)") }
        return pairs
    }

    /// Reads any supported image as 8-bit RGB; TIFFs go through band selection and percentile
    /// stretching (GDAL nodata samples are left out of the percentiles and drawn black).
    public static func readRGB(_ url: URL, reading: RasterReading = RasterReading()) throws -> Image {
        if isTIFF(url) {
            let raster = try TIFFDecoder.decode(contentsOf: url).maskingNoData()
            return try raster.normalizedImage(bands: reading.bands, low: reading.lowPercentile, high: reading.highPercentile, file: url.path)
        }
        return try ImageDecoder.decode(contentsOf: url).rgb()
    }

    static func isTIFF(_ url: URL) -> Bool {
        guard let h = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? h.close() }
        return TIFFDecoder.isTIFF((try? h.read(upToCount: 4)) ?? Data())
    }

    /// Reads a mask as 0/1. Accepted stored values: {0, 255} or {0, 1} (first channel); anything
    /// else is an error naming the values found.
    public static func readMask(_ url: URL) throws -> (mask: [UInt8], width: Int, height: Int) {
        var values: [Float]
        let (w, h): (Int, Int)
        if isTIFF(url) {
            let r = try TIFFDecoder.decode(contentsOf: url)
            (w, h) = (r.width, r.height)
            values = Array(r.band(0))
        } else {
            let img = try ImageDecoder.decode(contentsOf: url)
            (w, h) = (img.width, img.height)
            values = (0..<(w * h)).map { Float(img.pixels[$0 * img.channels]) }
        }
        let distinct = Set(values)
        let binary: Bool = distinct.isSubset(of: [0, 255]) || distinct.isSubset(of: [0, 1])
        guard binary else {
            let shown = distinct.sorted().prefix(8).map { String(Int($0)) }.joined(separator: ", ")
            throw DatasetError("\(url.path): label is not binary (values \(shown)\(distinct.count > 8 ? ", …" : "")); masks must hold 0 = no change and 255 (or 1) = change")
        }
        return (values.map { $0 > 0 ? 1 : 0 }, w, h)
    }

    /// Loads a pair, checking that both dates and the mask have one size. `resize` brings the
    /// later date to the earlier one's size instead of failing.
    public static func load(_ pair: ChangePair, reading: RasterReading = RasterReading(), resize: Bool = false) throws -> LoadedChangePair {
        let a = try readRGB(pair.before, reading: reading)
        var b = try readRGB(pair.after, reading: reading)
        if (a.width, a.height) != (b.width, b.height) {
            guard resize else {
                throw DatasetError("\(pair.before.path) is \(a.width)×\(a.height) but \(pair.after.path) is \(b.width)×\(b.height); the dates must have one size (or pass --resize)")
            }
            b = b.resized(width: a.width, height: a.height)
        }
        var mask: [UInt8]?
        if let l = pair.label {
            let m = try readMask(l)
            guard (m.width, m.height) == (a.width, a.height) else {
                throw DatasetError("\(l.path) is \(m.width)×\(m.height) but its images are \(a.width)×\(a.height)")
            }
            mask = m.mask
        }
        return LoadedChangePair(name: pair.name, before: a, after: b, mask: mask)
    }
}

/// Pairs read on demand, kept in memory while the total stays under `cacheBytes` (so a small
/// set decodes once, and a LEVIR-sized one streams from disk instead of filling memory).
public final class ChangePairSource {
    public let pairs: [ChangePair]
    public let reading: RasterReading
    public let resize: Bool
    public let cacheBytes: Int
    private var cache: [Int: PairPlanes] = [:]
    private var cached = 0

    public init(_ pairs: [ChangePair], reading: RasterReading = RasterReading(), resize: Bool = false, cacheBytes: Int = 1 << 30) {
        self.pairs = pairs
        self.reading = reading
        self.resize = resize
        self.cacheBytes = cacheBytes
    }

    /// In-memory pairs (tests, generated data).
    public convenience init(planes: [PairPlanes]) {
        self.init([], cacheBytes: Int.max)
        for (i, p) in planes.enumerated() { cache[i] = p }
        memoryCount = planes.count
    }

    private var memoryCount = 0
    public var count: Int { pairs.isEmpty ? memoryCount : pairs.count }
    public var isEmpty: Bool { count == 0 }

    public func planes(_ i: Int) throws -> PairPlanes {
        if let p = cache[i] { return p }
        let p = PairPlanes(try ChangeDataset.load(pairs[i], reading: reading, resize: resize))
        guard p.mask.count == p.width * p.height else { throw DatasetError("\(pairs[i].name): mask size mismatch") }
        let bytes = p.width * p.height * 25
        if cached + bytes <= cacheBytes {
            cache[i] = p
            cached += bytes
        }
        return p
    }
}

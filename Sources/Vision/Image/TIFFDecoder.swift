import Foundation

/// A multi-band raster as read from a TIFF/GeoTIFF: every band as a plane of `Float` samples
/// (band-major `[bands][height][width]`, the stored integer or float values unscaled), plus the
/// GeoTIFF tags verbatim so a result can be written back on the same grid.
public struct Raster: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let bands: Int
    public var samples: [Float]
    /// Bits per stored sample (8, 16 or 32).
    public let bitsPerSample: Int
    /// Georeferencing tags (ModelPixelScale, ModelTiepoint, ModelTransformation, GeoKeyDirectory,
    /// GeoDoubleParams, GeoAsciiParams, GDAL metadata / nodata) as found in the file.
    public var geoTags: [TIFFTag]

    public init(width: Int, height: Int, bands: Int, samples: [Float], bitsPerSample: Int = 32, geoTags: [TIFFTag] = []) {
        precondition(samples.count == width * height * bands, "Raster: \(samples.count) samples for \(width)×\(height)×\(bands)")
        self.width = width
        self.height = height
        self.bands = bands
        self.samples = samples
        self.bitsPerSample = bitsPerSample
        self.geoTags = geoTags
    }

    /// The samples of band `b` (0-based).
    public func band(_ b: Int) -> ArraySlice<Float> { samples[(b * width * height)..<((b + 1) * width * height)] }
}

/// One TIFF directory entry kept as raw bytes (little-endian after reading).
public struct TIFFTag: Sendable, Equatable {
    public let tag: UInt16
    /// TIFF field type (1 BYTE, 2 ASCII, 3 SHORT, 4 LONG, 5 RATIONAL, 12 DOUBLE, …).
    public let type: UInt16
    public let count: Int
    /// The value bytes, converted to little-endian element by element.
    public let bytes: [UInt8]

    public init(tag: UInt16, type: UInt16, count: Int, bytes: [UInt8]) {
        self.tag = tag
        self.type = type
        self.count = count
        self.bytes = bytes
    }

    /// Tags copied from an input GeoTIFF to an output on the same grid.
    public static let georeferencing: Set<UInt16> = [33550, 33922, 34264, 34735, 34736, 34737, 42113]
}

/// Baseline TIFF and GeoTIFF reading in Swift, bounded against lying headers: classic TIFF (both
/// byte orders, first image only), strips or tiles, chunky or planar bands, 8/16/32-bit unsigned
/// or signed integers and 32-bit floats, compression none / LZW / PackBits with or without the
/// horizontal-difference predictor. Deflate, JPEG and BigTIFF are refused with a conversion hint
/// (`gdal_translate -co COMPRESS=LZW in.tif out.tif`).
public enum TIFFDecoder {
    /// Whether `prefix` starts like a TIFF file.
    public static func isTIFF(_ prefix: some Collection<UInt8>) -> Bool {
        let p = Array(prefix.prefix(4))
        return p == [0x49, 0x49, 42, 0] || p == [0x4D, 0x4D, 0, 42]
    }

    public static func decode(contentsOf url: URL) throws -> Raster {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw ImageError(.unreadable, file: url.path, problem: "cannot be read (\(error.localizedDescription))", hint: "check the path")
        }
        return try decode(data, file: url.path)
    }

    public static func decode(_ data: Data, file: String = "<memory>") throws -> Raster {
        var parser = TIFFParser(bytes: [UInt8](data), file: file)
        return try parser.raster()
    }
}

/// The parser state: the file bytes and the byte order.
struct TIFFParser {
    let bytes: [UInt8]
    let file: String
    var little = true

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    func fail(_ problem: String, hint: String = "the file is damaged or not a TIFF") -> ImageError {
        ImageError(.corrupt, file: file, problem: problem, hint: hint)
    }

    func unsupported(_ problem: String) -> ImageError {
        ImageError(.unsupported, file: file, problem: problem,
                   hint: "convert it with `gdal_translate -co COMPRESS=LZW -ot UInt16 in.tif out.tif`")
    }

    func u16(_ at: Int) throws -> Int {
        guard at >= 0, at + 2 <= bytes.count else { throw fail("offset \(at) is past the end of the file (\(bytes.count) bytes)") }
        return little ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : Int(bytes[at]) << 8 | Int(bytes[at + 1])
    }

    func u32(_ at: Int) throws -> Int {
        guard at >= 0, at + 4 <= bytes.count else { throw fail("offset \(at) is past the end of the file (\(bytes.count) bytes)") }
        let b = (0..<4).map { Int(bytes[at + $0]) }
        return little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]
    }

    static func typeSize(_ type: Int) -> Int? {
        switch type {
        case 1, 2, 6, 7: return 1
        case 3, 8: return 2
        case 4, 9, 11: return 4
        case 5, 10, 12: return 8
        default: return nil
        }
    }

    /// Reads the first image file directory into tag → raw entry.
    mutating func directory() throws -> [UInt16: TIFFTag] {
        guard bytes.count >= 8 else { throw fail("is only \(bytes.count) bytes long") }
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: throw fail("does not start with a TIFF byte-order mark (II or MM)")
        }
        let magic = try u16(2)
        if magic == 43 { throw unsupported("is a BigTIFF, which is not supported") }
        guard magic == 42 else { throw fail("has TIFF magic \(magic), expected 42") }
        let ifd = try u32(4)
        let n = try u16(ifd)
        guard n > 0, ifd + 2 + n * 12 <= bytes.count else { throw fail("image directory at \(ifd) with \(n) entries runs past the end") }
        var tags: [UInt16: TIFFTag] = [:]
        for i in 0..<n {
            let e = ifd + 2 + i * 12
            let tag = UInt16(try u16(e)), type = try u16(e + 2), count = try u32(e + 4)
            guard let size = Self.typeSize(type) else { continue }  // unknown types are skipped, as libtiff does
            guard count <= bytes.count else { throw fail("tag \(tag) claims \(count) values, more than the file holds") }
            let total = size * count
            let start = total <= 4 ? e + 8 : try u32(e + 8)
            guard start + total <= bytes.count else { throw fail("tag \(tag) values at \(start)+\(total) run past the end") }
            // Store little-endian element by element so writers need no byte-order bookkeeping.
            var raw = [UInt8](repeating: 0, count: total)
            let element = type == 5 || type == 10 ? 4 : size
            for k in 0..<(total / element) {
                for j in 0..<element {
                    raw[k * element + j] = bytes[start + k * element + (little ? j : element - 1 - j)]
                }
            }
            tags[tag] = TIFFTag(tag: tag, type: UInt16(type), count: count, bytes: raw)
        }
        return tags
    }

    /// Integer values of a tag (SHORT or LONG).
    func values(_ tags: [UInt16: TIFFTag], _ tag: UInt16, _ name: String) throws -> [Int]? {
        guard let t = tags[tag] else { return nil }
        switch t.type {
        case 3: return (0..<t.count).map { Int(t.bytes[2 * $0]) | Int(t.bytes[2 * $0 + 1]) << 8 }
        case 4: return (0..<t.count).map { k in (0..<4).reduce(0) { $0 | Int(t.bytes[4 * k + $1]) << (8 * $1) } }
        case 1: return t.bytes.map(Int.init)
        default: throw fail("tag \(name) has field type \(t.type), expected SHORT or LONG")
        }
    }

    func scalar(_ tags: [UInt16: TIFFTag], _ tag: UInt16, _ name: String, default d: Int? = nil) throws -> Int {
        if let v = try values(tags, tag, name)?.first { return v }
        if let d { return d }
        throw fail("has no \(name) tag")
    }

    mutating func raster() throws -> Raster {
        let tags = try directory()
        let width = try scalar(tags, 256, "ImageWidth"), height = try scalar(tags, 257, "ImageLength")
        let spp = try scalar(tags, 277, "SamplesPerPixel", default: 1)
        let bitsList = try values(tags, 258, "BitsPerSample") ?? [1]
        let bits = bitsList.first ?? 1
        guard bitsList.allSatisfy({ $0 == bits }) else {
            // The distinct depths, a few of them: a damaged tag can list thousands of values.
            let depths = Array(Set(bitsList)).sorted()
            let shown = depths.prefix(8).map(String.init).joined(separator: ", ") + (depths.count > 8 ? ", …" : "")
            throw unsupported("has bands of different bit depths (\(shown))")
        }
        guard [8, 16, 32].contains(bits) else { throw unsupported("has \(bits)-bit samples (only 8, 16 and 32 are supported)") }
        let format = try scalar(tags, 339, "SampleFormat", default: 1)
        guard format == 1 || format == 2 || (format == 3 && bits == 32) else {
            throw unsupported("has sample format \(format) with \(bits) bits (supported: unsigned/signed 8/16/32-bit integers, 32-bit float)")
        }
        let compression = try scalar(tags, 259, "Compression", default: 1)
        guard [1, 5, 32773].contains(compression) else {
            let names = [7: "JPEG", 8: "Deflate", 32946: "Deflate", 34887: "LERC", 50000: "ZSTD", 34925: "LZMA"]
            throw unsupported("uses compression \(compression) (\(names[compression] ?? "unknown")); supported are none, LZW and PackBits")
        }
        let predictor = try scalar(tags, 317, "Predictor", default: 1)
        guard predictor == 1 || predictor == 2 else { throw unsupported("uses predictor \(predictor) (floating-point predictor is not supported)") }
        let planar = try scalar(tags, 284, "PlanarConfiguration", default: 1) == 2
        if try scalar(tags, 262, "PhotometricInterpretation", default: 1) == 3 { throw unsupported("is a palette image") }
        guard (1...64).contains(spp) else { throw unsupported("has \(spp) samples per pixel (at most 64 bands are read)") }
        try ImageLimits.check(width: width, height: height, channels: spp, file: file)
        guard width * height * spp <= ImageLimits.maxPixels else {
            throw ImageError(.tooLarge, file: file, problem: "header claims \(width)×\(height)×\(spp) samples; refusing to allocate")
        }

        let bps = bits / 8
        let tiled = tags[322] != nil
        let chunkW = tiled ? try scalar(tags, 322, "TileWidth") : width
        let chunkH = tiled ? try scalar(tags, 323, "TileLength") : min(height, try scalar(tags, 278, "RowsPerStrip", default: height))
        guard chunkW > 0, chunkH > 0, chunkW <= 65536, chunkH <= 65536 else { throw fail("has chunk size \(chunkW)×\(chunkH)") }
        let offsets = try values(tags, tiled ? 324 : 273, tiled ? "TileOffsets" : "StripOffsets") ?? []
        let counts = try values(tags, tiled ? 325 : 279, tiled ? "TileByteCounts" : "StripByteCounts") ?? []
        let across = (width + chunkW - 1) / chunkW, down = (height + chunkH - 1) / chunkH
        let planes = planar ? spp : 1
        let perChunk = planar ? 1 : spp
        guard offsets.count == across * down * planes, counts.count == offsets.count else {
            throw fail("has \(offsets.count) data offsets and \(counts.count) byte counts for \(across * down * planes) chunks")
        }
        var samples = [Float](repeating: 0, count: width * height * spp)
        let rowBytes = chunkW * perChunk * bps
        let chunkBytes = rowBytes * chunkH
        for plane in 0..<planes {
            for cy in 0..<down {
                for cx in 0..<across {
                    let index = (plane * down + cy) * across + cx
                    let (start, length) = (offsets[index], counts[index])
                    guard start >= 0, length >= 0, start + length <= bytes.count else {
                        throw fail("chunk \(index) at \(start)+\(length) runs past the end of the file")
                    }
                    let raw = Array(bytes[start..<(start + length)])
                    var chunk: [UInt8]
                    switch compression {
                    case 5: chunk = try TIFFDecompress.lzw(raw, expected: chunkBytes, file: file)
                    case 32773: chunk = try TIFFDecompress.packBits(raw, expected: chunkBytes, file: file)
                    default: chunk = raw
                    }
                    // Strips at the bottom may be short; a short chunk is padded with zeros.
                    if chunk.count < chunkBytes { chunk += [UInt8](repeating: 0, count: chunkBytes - chunk.count) }
                    if predictor == 2 { TIFFDecompress.undoHorizontalDifference(&chunk, rows: chunkH, width: chunkW, samples: perChunk, bytesPerSample: bps, little: little) }
                    try place(chunk, into: &samples, x0: cx * chunkW, y0: cy * chunkH, chunkW: chunkW, chunkH: chunkH,
                              width: width, height: height, spp: spp, perChunk: perChunk, plane: plane, bps: bps, format: format)
                }
            }
        }
        let geo = tags.values.filter { TIFFTag.georeferencing.contains($0.tag) }.sorted { $0.tag < $1.tag }
        return Raster(width: width, height: height, bands: spp, samples: samples, bitsPerSample: bits, geoTags: geo)
    }

    /// Converts one decoded chunk's samples into the band-major float planes.
    func place(_ chunk: [UInt8], into samples: inout [Float], x0: Int, y0: Int, chunkW: Int, chunkH: Int,
               width: Int, height: Int, spp: Int, perChunk: Int, plane: Int, bps: Int, format: Int) throws {
        let plane0 = width * height
        for y in 0..<min(chunkH, height - y0) {
            for x in 0..<min(chunkW, width - x0) {
                for s in 0..<perChunk {
                    let at = ((y * chunkW + x) * perChunk + s) * bps
                    var v: UInt32 = 0
                    for j in 0..<bps { v |= UInt32(chunk[at + (little ? j : bps - 1 - j)]) << (8 * j) }
                    let value: Float
                    switch (format, bps) {
                    case (3, _): value = Float(bitPattern: v)
                    case (2, 1): value = Float(Int8(truncatingIfNeeded: v))
                    case (2, 2): value = Float(Int16(truncatingIfNeeded: v))
                    case (2, _): value = Float(Int32(bitPattern: v))
                    default: value = Float(v)
                    }
                    let band = planar(perChunk) ? plane : s
                    samples[band * plane0 + (y0 + y) * width + x0 + x] = value
                }
            }
        }
    }

    private func planar(_ perChunk: Int) -> Bool { perChunk == 1 }
}

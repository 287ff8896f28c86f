import Core
import Foundation

/// Writes uncompressed little-endian baseline TIFFs (one strip, chunky bands) of 8- or 16-bit
/// unsigned samples, optionally carrying tags copied from another file, e.g. a change mask on the
/// same grid as its GeoTIFF input. Written to a temporary file, then renamed.
public enum TIFFWriter {
    /// `raster` samples are rounded and clamped to the bit depth's range.
    public static func encode(_ raster: Raster, bitsPerSample: Int = 8, extraTags: [TIFFTag] = []) throws -> Data {
        guard bitsPerSample == 8 || bitsPerSample == 16 else {
            throw ImageError(.unsupported, file: "<tiff>", problem: "writing \(bitsPerSample)-bit samples", hint: "use 8 or 16")
        }
        let (w, h, n) = (raster.width, raster.height, raster.bands)
        let bps = bitsPerSample / 8
        let maxValue = Float((1 << bitsPerSample) - 1)
        var pixels = [UInt8](repeating: 0, count: w * h * n * bps)
        let plane = w * h
        for p in 0..<plane {
            for b in 0..<n {
                let v = UInt32(min(maxValue, max(0, raster.samples[b * plane + p].rounded())))
                let at = (p * n + b) * bps
                for j in 0..<bps { pixels[at + j] = UInt8(truncatingIfNeeded: v >> (8 * j)) }
            }
        }
        // Layout: header (8) | pixel data | out-of-line tag values | directory.
        var file: [UInt8] = [0x49, 0x49, 42, 0, 0, 0, 0, 0]
        file += pixels
        func short(_ tag: UInt16, _ values: [Int]) -> TIFFTag {
            TIFFTag(tag: tag, type: 3, count: values.count, bytes: values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        }
        func long(_ tag: UInt16, _ v: Int) -> TIFFTag {
            TIFFTag(tag: tag, type: 4, count: 1, bytes: (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) })
        }
        var tags: [TIFFTag] = [
            long(256, w), long(257, h), short(258, [Int](repeating: bitsPerSample, count: n)), short(259, [1]),
            short(262, [n >= 3 ? 2 : 1]), long(273, 8), short(277, [n]), long(278, h), long(279, pixels.count), short(284, [1]),
        ]
        if n == 4 { tags.append(short(338, [0])) }  // ExtraSamples: the fourth band is not alpha
        tags += extraTags.filter { t in !tags.contains { $0.tag == t.tag } }
        tags.sort { $0.tag < $1.tag }
        var entries: [(TIFFTag, Int?)] = []
        for t in tags {
            if t.bytes.count > 4 {
                if file.count % 2 == 1 { file.append(0) }
                entries.append((t, file.count))
                file += t.bytes
            } else {
                entries.append((t, nil))
            }
        }
        if file.count % 2 == 1 { file.append(0) }
        let ifd = file.count
        for j in 0..<4 { file[4 + j] = UInt8((ifd >> (8 * j)) & 0xFF) }
        file += [UInt8(tags.count & 0xFF), UInt8(tags.count >> 8)]
        for (t, offset) in entries {
            file += [UInt8(t.tag & 0xFF), UInt8(t.tag >> 8), UInt8(t.type & 0xFF), UInt8(t.type >> 8)]
            file += (0..<4).map { UInt8((t.count >> (8 * $0)) & 0xFF) }
            if let offset {
                file += (0..<4).map { UInt8((offset >> (8 * $0)) & 0xFF) }
            } else {
                file += t.bytes + [UInt8](repeating: 0, count: 4 - t.bytes.count)
            }
        }
        file += [0, 0, 0, 0]
        return Data(file)
    }

    /// Encodes and writes atomically.
    public static func write(_ raster: Raster, to url: URL, bitsPerSample: Int = 8, extraTags: [TIFFTag] = []) throws {
        let data = try encode(raster, bitsPerSample: bitsPerSample, extraTags: extraTags)
        do { try AtomicFile.write(data, to: url) } catch {
            throw ImageError(.writeFailed, file: url.path, problem: "cannot be written (\(error))", hint: "check the folder exists and is writable")
        }
    }
}

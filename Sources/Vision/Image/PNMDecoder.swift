import Foundation

/// Netpbm gray and colour maps: P2 (ASCII PGM), P5 (binary PGM), P3 (ASCII PPM), P6 (binary
/// PPM), any maxval from 1 to 65535 (16-bit binary samples are big-endian). Needed for the ORL
/// faces, which ship as P5 PGM. Samples are scaled to 8 bits as Pillow does,
/// `round(v / maxval · 255)` with ties to even; maxval 255 passes values through.
public enum PNMDecoder {
    /// Decodes a PGM/PPM file. See `decode(_:file:)`.
    public static func decode(contentsOf url: URL) throws -> Image {
        try decode(readFileBytes(url), file: url.path)
    }

    /// Decodes PGM/PPM bytes to a 1-channel (PGM) or 3-channel (PPM) image.
    public static func decode(_ data: Data, file: String = "<memory>") throws -> Image {
        let bytes = [UInt8](data)
        guard !bytes.isEmpty else { throw ImageError(.empty, file: file, problem: "empty file (0 bytes), not a PGM/PPM") }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), let kind = "2356".firstIndex(of: Character(UnicodeScalar(bytes[1]))) else {
            throw ImageError(.unknownFormat, file: file, problem: "not a PGM/PPM file (expected P2, P3, P5 or P6 at the start)")
        }
        let variant = "2356"[kind]
        let binary = variant == "5" || variant == "6"
        let channels = variant == "3" || variant == "6" ? 3 : 1
        var reader = TokenReader(bytes: bytes, position: 2, file: file)
        let width = try reader.headerInt("width")
        let height = try reader.headerInt("height")
        let maxval = try reader.headerInt("maxval")
        guard (1...65535).contains(maxval) else {
            throw ImageError(.invalidHeader, file: file, problem: "invalid maxval \(maxval) (must be 1...65535)")
        }
        try ImageLimits.check(width: width, height: height, channels: channels, file: file)
        let count = width * height * channels

        // A lookup table does the 8-bit scaling once per possible value (≤ 65536 entries).
        let table: [UInt8] = (0...maxval).map { v in
            maxval == 255 ? UInt8(v) : UInt8((Double(v) / Double(maxval) * 255).rounded(.toNearestOrEven))
        }
        // Refuse a raster the file cannot hold before allocating it: a 27-byte header claiming
        // 19 × 6,553,311 pixels must not cost 373 MB (found by fuzzing). ASCII samples take at
        // least a separator and a digit each, binary ones one or two bytes.
        let available = bytes.count - reader.position
        let minimum = binary ? count * (maxval < 256 ? 1 : 2) : 2 * count - 1
        guard available >= minimum else {
            throw ImageError(.truncated, file: file, problem:
                "unexpected end of data: header says \(width)x\(height)x\(channels) needing at least \(minimum) bytes of raster, file has \(max(0, available))")
        }
        var pixels = [UInt8](repeating: 0, count: count)
        if binary {
            // Exactly one whitespace byte separates maxval from the raster.
            let start = reader.position + 1
            let sampleBytes = maxval < 256 ? 1 : 2
            let needed = count * sampleBytes
            guard start <= bytes.count, bytes.count - start >= needed else {
                throw ImageError(.truncated, file: file, problem:
                    "unexpected end of data: header says \(width)x\(height)x\(channels) needing \(needed) bytes of raster, file has \(max(0, bytes.count - start))")
            }
            for i in 0..<count {
                // Binary samples above maxval are clamped, as Pillow does.
                let v = sampleBytes == 1 ? Int(bytes[start + i]) : Int(bytes[start + 2 * i]) << 8 | Int(bytes[start + 2 * i + 1])
                pixels[i] = table[min(v, maxval)]
            }
        } else {
            for i in 0..<count {
                guard let v = try reader.nextInt() else {
                    throw ImageError(.truncated, file: file, problem: "unexpected end of data: found \(i) of \(count) ASCII samples")
                }
                guard v <= maxval else {
                    throw ImageError(.corrupt, file: file, problem: "sample \(i) has value \(v), above maxval \(maxval)")
                }
                pixels[i] = table[v]
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Whitespace-separated decimal tokens with `#` comments running to the end of a line.
    private struct TokenReader {
        let bytes: [UInt8]
        var position: Int
        let file: String

        mutating func nextInt() throws -> Int? {
            while position < bytes.count {
                let b = bytes[position]
                if b == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 10, bytes[position] != 13 { position += 1 }
                } else if b == 32 || (9...13).contains(b) {
                    position += 1
                } else {
                    break
                }
            }
            guard position < bytes.count else { return nil }
            var value = 0
            var digits = 0
            while position < bytes.count, (48...57).contains(bytes[position]) {
                value = value * 10 + Int(bytes[position] - 48)
                digits += 1
                position += 1
                guard value <= 1 << 31 else {
                    throw ImageError(.invalidHeader, file: file, problem: "number too large at byte \(position)")
                }
            }
            guard digits > 0 else {
                throw ImageError(.corrupt, file: file, problem: "expected a decimal number at byte \(position), found byte 0x\(String(bytes[position], radix: 16))")
            }
            return value
        }

        mutating func headerInt(_ name: String) throws -> Int {
            do {
                guard let v = try nextInt() else {
                    throw ImageError(.truncated, file: file, problem: "unexpected end of data in the header while reading \(name)")
                }
                return v
            } catch let e as ImageError where e.kind == .corrupt {
                throw ImageError(.invalidHeader, file: file, problem: "invalid header \(name): \(e.problem)")
            }
        }
    }
}

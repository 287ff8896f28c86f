import Foundation

/// A failure decompressing a gzip file: which file, the byte offset, and what was wrong.
public struct GzipError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let offset: Int
    public let problem: String

    public var description: String {
        "\(file): byte \(offset): \(problem); the file is not a valid gzip file (re-download it, or decompress it with `gzip -dc` to check)"
    }
}

/// Gzip (RFC 1952) over DEFLATE (RFC 1951) decompression in Swift, so the CLIP merges file
/// (`bpe_simple_vocab_16e6.txt.gz`) can be read as shipped, without zlib. Every member of a
/// multi-member file is decoded and each member's CRC-32 and length are checked. Output is capped
/// (`maxOutputBytes`), so a corrupt or hostile stream cannot claim unbounded memory.
///
/// ```swift
/// let text = try Gzip.decompress(contentsOf: url)          // [UInt8]
/// ```
public enum Gzip {
    /// Reads and decompresses a `.gz` file.
    public static func decompress(contentsOf url: URL, maxOutputBytes: Int = 1 << 30) throws -> [UInt8] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw GzipError(file: url.path, offset: 0, problem: "cannot read the file (\(error.localizedDescription))")
        }
        return try decompress([UInt8](data), source: url.path, maxOutputBytes: maxOutputBytes)
    }

    /// Decompresses gzip bytes; `source` names them in errors.
    public static func decompress(_ bytes: [UInt8], source: String = "(gzip data)", maxOutputBytes: Int = 1 << 30) throws -> [UInt8] {
        var out: [UInt8] = []
        var position = 0
        repeat {
            let memberStart = out.count
            position = try header(bytes, at: position, source: source)
            var inflater = Inflater(input: bytes, position: position, source: source, limit: maxOutputBytes)
            try inflater.run(into: &out)
            position = inflater.bytePosition
            guard position + 8 <= bytes.count else {
                throw GzipError(file: source, offset: position, problem: "the CRC-32/length trailer is missing (truncated file)")
            }
            let crc = readLE32(bytes, position), size = readLE32(bytes, position + 4)
            let member = out[memberStart...]
            guard CRC32.checksum(member) == crc else {
                throw GzipError(file: source, offset: position, problem: "CRC-32 mismatch (corrupt data)")
            }
            guard UInt32(truncatingIfNeeded: member.count) == size else {
                throw GzipError(file: source, offset: position + 4, problem: "length \(member.count) does not match the trailer's \(size)")
            }
            position += 8
            // Trailing zero padding after the last member is tolerated, as gzip does.
        } while position < bytes.count && bytes[position...].contains(where: { $0 != 0 })
        return out
    }

    static func readLE32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    /// Skips a member header; returns the offset of the DEFLATE stream.
    static func header(_ b: [UInt8], at start: Int, source: String) throws -> Int {
        func need(_ n: Int, _ at: Int) throws {
            if at + n > b.count { throw GzipError(file: source, offset: at, problem: "the header is truncated") }
        }
        try need(10, start)
        guard b[start] == 0x1f, b[start + 1] == 0x8b else {
            throw GzipError(file: source, offset: start, problem: "missing the gzip signature 1f 8b")
        }
        guard b[start + 2] == 8 else { throw GzipError(file: source, offset: start + 2, problem: "compression method \(b[start + 2]) is not DEFLATE") }
        let flags = b[start + 3]
        guard flags & 0xE0 == 0 else { throw GzipError(file: source, offset: start + 3, problem: "reserved header flags are set") }
        var p = start + 10
        if flags & 0x04 != 0 {  // FEXTRA
            try need(2, p)
            let n = Int(b[p]) | Int(b[p + 1]) << 8
            try need(2 + n, p)
            p += 2 + n
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {  // FNAME, FCOMMENT: zero-terminated
            guard let end = b[p...].firstIndex(of: 0) else { throw GzipError(file: source, offset: p, problem: "unterminated name or comment") }
            p = end + 1
        }
        if flags & 0x02 != 0 { try need(2, p); p += 2 }  // FHCRC
        return p
    }
}

/// CRC-32 (IEEE, reflected polynomial 0xEDB88320), as gzip stores it.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

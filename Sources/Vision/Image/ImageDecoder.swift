import Foundation

/// Picks the decoder from the file's leading bytes (never from its extension, which lies
/// often enough in scraped image folders).
public enum ImageDecoder {
    /// The formats this package reads.
    public enum Format: String, Sendable {
        case png, jpeg, pnm
    }

    /// The format whose signature `prefix` starts with, or nil.
    public static func sniff(_ prefix: some Collection<UInt8>) -> Format? {
        let b = Array(prefix.prefix(8))
        if b.count >= 8, b == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return .jpeg }
        if b.count >= 2, b[0] == UInt8(ascii: "P"), [UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "5"), UInt8(ascii: "6")].contains(b[1]) {
            return .pnm
        }
        return nil
    }

    /// The format of the file at `url`, reading only its first bytes; nil if unknown or unreadable.
    public static func sniff(contentsOf url: URL) -> Format? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 8) else { return nil }
        return sniff(head)
    }

    /// Decodes a PNG, JPEG or PGM/PPM file to an `Image` with its own channel count (1, 3 or 4).
    /// Use `.rgb()` on the result for a model input.
    public static func decode(contentsOf url: URL) throws -> Image {
        try decode(readFileBytes(url), file: url.path)
    }

    /// Decodes in-memory bytes; `file` names the source in error messages.
    public static func decode(_ data: Data, file: String = "<memory>") throws -> Image {
        guard !data.isEmpty else { throw ImageError(.empty, file: file, problem: "empty file (0 bytes)") }
        switch sniff(data) {
        case .png: return try PNGCodec.decode(data, file: file)
        case .jpeg: return try JPEGDecoder.decode(data, file: file)
        case .pnm: return try PNMDecoder.decode(data, file: file)
        case nil:
            let head = data.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " ")
            throw ImageError(.unknownFormat, file: file, problem: "not a PNG, JPEG or PGM/PPM file (first bytes: \(head))")
        }
    }
}

import CPNG
import Foundation

/// PNG reading and writing through libpng's *simplified* API (`png_image_*`). That API keeps
/// libpng's setjmp/longjmp error handling inside libpng and reports failure as a return code
/// plus a message, so no `longjmp` ever crosses a Swift frame.
public enum PNGCodec {
    /// How 16-bit samples are reduced to the 8 bits `Image` stores.
    public enum SixteenBit: Sendable {
        /// Plain rounding, `round(v / 257)`, gamma untouched (`PNG_IMAGE_FLAG_16BIT_sRGB`).
        /// The default: most 16-bit PNGs in the wild hold sRGB-encoded values whether or not they
        /// carry an sRGB chunk, and this is within 1 of what Pillow and OpenCV produce.
        case assumeSRGB
        /// libpng's own default: a 16-bit file without gAMA/sRGB/iCCP is taken to be LINEAR
        /// light and gamma-encoded on the way to 8 bits (32768 becomes 186, not 128).
        case libpngDefault
    }

    /// Decodes a PNG file. See `decode(_:file:sixteenBit:)`.
    public static func decode(contentsOf url: URL, sixteenBit: SixteenBit = .assumeSRGB) throws -> Image {
        try decode(readFileBytes(url), file: url.path, sixteenBit: sixteenBit)
    }

    /// Decodes PNG bytes to an `Image`: gray files give 1 channel, RGB files 3, and anything with
    /// transparency (an alpha channel, or a palette / colour-key tRNS chunk) 4, straight alpha.
    /// Bit depths 1–16, palettes and Adam7 interlacing are all handled by libpng. A damaged
    /// ancillary chunk is dropped with a libpng warning and the image still decodes (libpng's
    /// default); a damaged critical chunk, a truncated stream or a header claiming more than
    /// `ImageLimits.maxPixels` pixels throws `ImageError` — the size check happens before the
    /// pixel buffer is allocated.
    public static func decode(_ data: Data, file: String = "<memory>", sixteenBit: SixteenBit = .assumeSRGB) throws -> Image {
        guard !data.isEmpty else { throw ImageError(.empty, file: file, problem: "empty file (0 bytes), not a PNG") }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Image in
            var image = png_image()
            image.version = png_uint_32(PNG_IMAGE_VERSION)
            // libpng keeps a pointer into `raw` between begin and finish, so both stay in this closure.
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                throw failure(&image, data: raw, file: file, stage: "reading the header")
            }
            defer { png_image_free(&image) }
            let width = Int(image.width), height = Int(image.height)
            let fileFormat = image.format
            let hasColor = fileFormat & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
            let hasAlpha = fileFormat & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
            try ImageLimits.check(width: width, height: height, channels: 4, file: file)

            // Always ask for RGBA: one code path, and exactly the bytes the fixtures record.
            image.format = formatRGBA
            // begin_read resets `flags`, so this must be set between the two calls.
            if sixteenBit == .assumeSRGB { image.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB) }
            var rgba = [UInt8](repeating: 0, count: width * height * 4)
            let ok = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw failure(&image, data: raw, file: file, stage: "decoding pixel data") }

            let full = Image(width: width, height: height, channels: 4, pixels: rgba)
            if hasAlpha { return full }
            return hasColor ? full.rgb() : grayFromRGBA(full)
        }
    }

    /// Encodes an 8-bit image (1, 3 or 4 channels) as PNG bytes.
    public static func encode(_ img: Image) throws -> Data {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(img.width)
        image.height = png_uint_32(img.height)
        image.format = img.channels == 1 ? png_uint_32(PNG_FORMAT_GRAY) : img.channels == 3 ? png_uint_32(PNG_FORMAT_FLAG_COLOR) : formatRGBA
        defer { png_image_free(&image) }
        var size: png_alloc_size_t = 0
        // First call with no buffer measures the encoded size; the second writes it.
        let measured = img.pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        guard measured != 0, size > 0 else { throw writeFailure(&image) }
        var out = Data(count: Int(size))
        let written = out.withUnsafeMutableBytes { dst in
            img.pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard written != 0 else { throw writeFailure(&image) }
        return out.prefix(Int(size))
    }

    /// Writes `img` as a PNG file atomically (temporary file in the same folder, then rename).
    public static func write(_ img: Image, to url: URL) throws {
        let data: Data
        do { data = try encode(img) } catch let e as ImageError {
            throw ImageError(.writeFailed, file: url.path, problem: e.problem)
        }
        try writeAtomically(data, to: url)
    }

    // MARK: - Helpers

    /// `PNG_FORMAT_RGBA` (a macro of macros, which Swift does not import).
    private static let formatRGBA = png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)

    private static func grayFromRGBA(_ rgba: Image) -> Image {
        var out = [UInt8](repeating: 0, count: rgba.width * rgba.height)
        for i in 0..<out.count { out[i] = rgba.pixels[4 * i] }   // libpng set R = G = B = gray
        return Image(width: rgba.width, height: rgba.height, channels: 1, pixels: out)
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { bytes in
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }

    /// Turns libpng's message into an `ImageError` of the right kind, with extra detail where
    /// libpng's own words are terse (it says only "Invalid IHDR data" for a zero width).
    private static func failure(_ image: inout png_image, data: UnsafeRawBufferPointer, file: String, stage: String) -> ImageError {
        let msg = message(&image)
        let lower = msg.lowercased()
        if lower.contains("not a png") {
            return ImageError(.unknownFormat, file: file, problem: "not a PNG file (bad signature) (libpng: \(msg))")
        }
        if lower.contains("beyond end") || lower.contains("truncated") || lower.contains("not enough") {
            let after = data.count <= 8 ? " right after the signature" : ""
            return ImageError(.truncated, file: file, problem: "unexpected end of data\(after) while \(stage), file has \(data.count) bytes (libpng: \(msg))")
        }
        if lower.contains("crc") {
            return ImageError(.corrupt, file: file, problem: "CRC mismatch while \(stage) (libpng: \(msg))")
        }
        if lower.contains("ihdr") || lower.contains("image width") || lower.contains("image height") {
            var detail = ""
            if data.count >= 24 {
                let w = data.load(fromByteOffset: 16, as: UInt32.self).bigEndian
                let h = data.load(fromByteOffset: 20, as: UInt32.self).bigEndian
                detail = w == 0 ? ": zero width" : h == 0 ? ": zero height" : " (\(w)x\(h))"
            }
            return ImageError(.invalidHeader, file: file, problem: "invalid IHDR\(detail) (libpng: \(msg))")
        }
        return ImageError(.corrupt, file: file, problem: "damaged PNG data while \(stage) (libpng: \(msg.isEmpty ? "no message" : msg))")
    }

    private static func writeFailure(_ image: inout png_image) -> ImageError {
        ImageError(.writeFailed, file: "<memory>", problem: "libpng could not encode the image: \(message(&image))")
    }
}

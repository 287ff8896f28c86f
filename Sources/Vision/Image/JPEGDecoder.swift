import CJPEG
import Foundation

/// JPEG decoding through libjpeg-turbo's TurboJPEG API. libjpeg's default error handler calls
/// `exit()`, and a custom one would have to `longjmp` across Swift frames; TurboJPEG installs
/// its own handler that unwinds inside the C library and hands back `-1` plus a message, so
/// Swift only ever sees return codes.
///
/// Decoding uses libjpeg's defaults — accurate integer IDCT and "fancy" (smooth) chroma
/// upsampling — which are also what `djpeg` and Pillow use, so pixels match both exactly.
/// EXIF orientation is ignored, as in Pillow's `Image.open` and torchvision's `ImageFolder`.
public enum JPEGDecoder {
    /// Decodes a JPEG file. See `decode(_:file:)`.
    public static func decode(contentsOf url: URL) throws -> Image {
        try decode(readFileBytes(url), file: url.path)
    }

    /// Decodes JPEG bytes: grayscale JPEGs give 1 channel; YCbCr/RGB give 3; CMYK/YCCK (Adobe,
    /// inverted) are converted to RGB as Pillow does (R = C·K/255 on the stored values). Any
    /// libjpeg warning — most importantly "premature end of JPEG file" on a truncated download —
    /// is treated as an error, so a half-grey image never reaches training.
    public static func decode(_ data: Data, file: String = "<memory>") throws -> Image {
        guard data.count > 2 else {
            throw ImageError(.empty, file: file, problem: data.isEmpty ? "empty file (0 bytes), not a JPEG" : "only \(data.count) bytes, too short for a JPEG")
        }
        guard let handle = tjInitDecompress() else {
            throw ImageError(.unsupported, file: file, problem: "libturbojpeg could not create a decompressor")
        }
        defer { tjDestroy(handle) }

        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Image in
            let src = raw.bindMemory(to: UInt8.self).baseAddress!
            let size = UInt(raw.count)
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, src, size, &width, &height, &subsampling, &colorspace) == 0 else {
                throw failure(handle, file: file, stage: "reading the header", bytes: raw)
            }
            // A stream cut before its frame header reads as a legal "tables-only" JPEG: success, size 0x0.
            guard width > 0, height > 0 else {
                if !endsWithEOI(raw) {
                    throw ImageError(.truncated, file: file, problem: "unexpected end of data before the image frame header (SOF): the file (\(raw.count) bytes) has no JPEG end marker")
                }
                throw ImageError(.invalidHeader, file: file, problem: "invalid header: no image frame, size \(width)x\(height)")
            }
            let isGray = colorspace == Int32(TJCS_GRAY.rawValue)
            let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
            let decodedChannels = isGray ? 1 : isCMYK ? 4 : 3
            try ImageLimits.check(width: Int(width), height: Int(height), channels: 4, file: file)

            let format = isGray ? TJPF_GRAY : isCMYK ? TJPF_CMYK : TJPF_RGB
            var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * decodedChannels)
            // TJFLAG_LIMITSCANS refuses progressive files with absurd scan counts (a known
            // decompression-time attack) instead of grinding through them.
            let status = pixels.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src, size, dst.baseAddress, width, 0, height, Int32(format.rawValue), TJFLAG_LIMITSCANS)
            }
            guard status == 0 else { throw failure(handle, file: file, stage: "decoding pixel data", bytes: raw) }
            if isCMYK { return cmykToRGB(pixels, width: Int(width), height: Int(height)) }
            return Image(width: Int(width), height: Int(height), channels: decodedChannels, pixels: pixels)
        }
    }

    /// Adobe CMYK JPEGs store inverted ink values; with stored values c, k the RGB value is
    /// c·k/255 (Pillow reads them as "CMYK;I" and converts with the same product). The division
    /// uses Pillow's MULDIV255 rounding: ((x + 128) + ((x + 128) >> 8)) >> 8.
    static func cmykToRGB(_ cmyk: [UInt8], width: Int, height: Int) -> Image {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let k = Int(cmyk[4 * i + 3])
            for c in 0..<3 {
                let x = Int(cmyk[4 * i + c]) * k + 128
                out[3 * i + c] = UInt8((x + (x >> 8)) >> 8)
            }
        }
        return Image(width: width, height: height, channels: 3, pixels: out)
    }

    /// Whether an end-of-image marker (FF D9) sits in the last 16 bytes (a little trailing junk
    /// after EOI is common in camera files and is not truncation).
    private static func endsWithEOI(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let tail = bytes.suffix(16)
        return zip(tail, tail.dropFirst()).contains { $0 == 0xFF && $1 == 0xD9 }
    }

    private static func failure(_ handle: tjhandle, file: String, stage: String, bytes: UnsafeRawBufferPointer) -> ImageError {
        let msg = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
        let lower = msg.lowercased()
        if lower.contains("not a jpeg") {
            return ImageError(.unknownFormat, file: file, problem: "not a JPEG file (libjpeg: \(msg))")
        }
        // libjpeg's memory source pads a short buffer with a fake end marker, so a file cut inside
        // its headers surfaces as "missing SOS marker" or similar; a missing EOI (FF D9) near the
        // end of the data is the more useful diagnosis.
        if lower.contains("premature end") || lower.contains("insufficient data") || lower.contains("empty input") || !endsWithEOI(bytes) {
            return ImageError(.truncated, file: file, problem: "unexpected end of data while \(stage): the file (\(bytes.count) bytes) has no JPEG end marker (libjpeg: \(msg))")
        }
        if lower.contains("unsupported") {
            return ImageError(.unsupported, file: file, problem: "unsupported JPEG variant (libjpeg: \(msg))")
        }
        if lower.contains("image too big") || lower.contains("maximum supported image dimension") {
            return ImageError(.tooLarge, file: file, problem: "image dimensions too large (libjpeg: \(msg))")
        }
        if lower.contains("bogus") || lower.contains("invalid") || lower.contains("sof") && lower.contains("width") {
            return ImageError(.invalidHeader, file: file, problem: "invalid JPEG header while \(stage) (libjpeg: \(msg))")
        }
        return ImageError(.corrupt, file: file, problem: "damaged JPEG data while \(stage) (libjpeg: \(msg))")
    }
}

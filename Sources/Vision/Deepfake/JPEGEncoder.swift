import CJPEG
import Foundation

/// JPEG encoding through libjpeg-turbo's TurboJPEG API (the decoder is `JPEGDecoder`), used to
/// make re-compression manipulations and the JPEG-quality augmentation. Grey images are coded
/// as one-component JPEGs, colour with 4:2:0 chroma subsampling (libjpeg's and Pillow's default).
public enum JPEGEncoder {
    /// Encodes `image` at `quality` (1–100). RGBA loses its alpha channel.
    public static func encode(_ image: Image, quality: Int) throws -> Data {
        guard (1...100).contains(quality) else {
            throw DatasetError("JPEG quality \(quality) is outside 1…100")
        }
        guard image.width > 0, image.height > 0 else { throw DatasetError("cannot JPEG-encode an empty \(image.width)x\(image.height) image") }
        let img = image.channels == 4 ? image.rgb() : image
        guard let handle = tjInitCompress() else { throw DatasetError("libturbojpeg could not create a compressor") }
        defer { tjDestroy(handle) }
        let format = img.channels == 1 ? TJPF_GRAY : TJPF_RGB
        let subsampling = img.channels == 1 ? TJSAMP_GRAY : TJSAMP_420
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = img.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(img.width), 0, Int32(img.height), Int32(format.rawValue),
                        &buffer, &size, Int32(subsampling.rawValue), Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else {
            let msg = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
            throw DatasetError("JPEG encoding failed (libjpeg: \(msg))")
        }
        return Data(bytes: buffer, count: Int(size))
    }

    /// Encodes at `quality` and decodes again: what a JPEG save/load round trip does to pixels.
    public static func roundTrip(_ image: Image, quality: Int) throws -> Image {
        let decoded = try JPEGDecoder.decode(try encode(image, quality: quality), file: "<jpeg q\(quality)>")
        // A grey JPEG decodes to one channel, colour to three: keep the caller's layout.
        return decoded.channels == image.channels ? decoded : (image.channels == 1 ? decoded.grayscale() : decoded.rgb())
    }
}

import Foundation

/// An 8-bit image stored **interleaved, row-major, H×W×C** (`pixels[(y * width + x) * channels + c]`,
/// top row first), with 1 (gray), 3 (RGB) or 4 (RGBA, straight alpha) channels.
///
/// Why 8-bit and not Float: torchvision and the Hugging Face image processors run every geometric
/// transform on 8-bit PIL images and only turn them into floats at `ToTensor`. PIL's resampling
/// rounds to 8 bits after each of its two passes, so keeping 8-bit storage here is what lets
/// `resized(...)` reproduce PIL bit for bit. Floats appear once, in `toTensor(mean:std:)`.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// Interleaved H×W×C bytes; `count == width * height * channels`.
    public var pixels: [UInt8]

    /// Wraps existing pixels. The caller guarantees `pixels.count == width * height * channels`
    /// (checked with a precondition: this is a programming error, not bad outside data).
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3 || channels == 4, "Image supports 1, 3 or 4 channels, got \(channels)")
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * channels,
                     "Image: \(pixels.count) bytes do not match \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// A constant image (handy in tests and for padding).
    public init(width: Int, height: Int, channels: Int, fill: UInt8 = 0) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: fill, count: width * height * channels))
    }

    /// The value at row `y`, column `x`, channel `c`.
    @inlinable public subscript(y: Int, x: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    // MARK: - Channel conversion (PIL `convert` semantics)

    /// Three-channel RGB, as PIL's `convert("RGB")`: gray is replicated, alpha is dropped
    /// (not composited over a background — PIL does not composite either).
    public func rgb() -> Image {
        switch channels {
        case 3: return self
        case 1:
            var out = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) {
                let v = pixels[i]
                out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
            }
            return Image(width: width, height: height, channels: 3, pixels: out)
        default:
            var out = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) {
                out[3 * i] = pixels[4 * i]; out[3 * i + 1] = pixels[4 * i + 1]; out[3 * i + 2] = pixels[4 * i + 2]
            }
            return Image(width: width, height: height, channels: 3, pixels: out)
        }
    }

    /// One-channel luminance, as PIL's `convert("L")`: L = (R·299 + G·587 + B·114) / 1000,
    /// computed in PIL's fixed point (`(r*19595 + g*38470 + b*7471 + 0x8000) >> 16`). Alpha is dropped.
    public func grayscale() -> Image {
        if channels == 1 { return self }
        var out = [UInt8](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            let r = Int(pixels[channels * i]), g = Int(pixels[channels * i + 1]), b = Int(pixels[channels * i + 2])
            out[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
        return Image(width: width, height: height, channels: 1, pixels: out)
    }

    // MARK: - Geometry

    /// The region with top-left corner (`top`, `left`) and the given size, as PIL's `crop` and
    /// torchvision's `F.crop`: parts of the box outside the image are filled with zeros.
    public func cropped(top: Int, left: Int, height h: Int, width w: Int) -> Image {
        precondition(h >= 0 && w >= 0, "crop size must be non-negative")
        var out = [UInt8](repeating: 0, count: h * w * channels)
        let y0 = max(0, top), y1 = min(height, top + h)
        let x0 = max(0, left), x1 = min(width, left + w)
        if y0 < y1 && x0 < x1 {
            let rowBytes = (x1 - x0) * channels
            pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for y in y0..<y1 {
                        let s = (y * width + x0) * channels
                        let d = ((y - top) * w + (x0 - left)) * channels
                        dst.baseAddress!.advanced(by: d).update(from: src.baseAddress!.advanced(by: s), count: rowBytes)
                    }
                }
            }
        }
        return Image(width: w, height: h, channels: channels, pixels: out)
    }

    /// Mirror left ↔ right (PIL `FLIP_LEFT_RIGHT`, torchvision `hflip`).
    public func flippedHorizontally() -> Image {
        var out = pixels
        for y in 0..<height {
            for x in 0..<width {
                let s = (y * width + (width - 1 - x)) * channels
                let d = (y * width + x) * channels
                for c in 0..<channels { out[d + c] = pixels[s + c] }
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: out)
    }
}

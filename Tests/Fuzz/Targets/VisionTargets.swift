import Core
import Foundation
import Vision

// Targets for the image formats (our wrappers around libpng and libjpeg-turbo, our own PNM
// reader), Fashion-MNIST's IDX files and CLIP's config mapping.

/// Decoded images must be self-consistent, and small ones are pushed through the conversions
/// the data pipeline applies next (grey/RGB, resize, PNG round trip).
private func exercise(_ image: Image) {
    guard image.pixels.count == image.width * image.height * image.channels else {
        fatalError("decoder returned \(image.width)x\(image.height)x\(image.channels) with \(image.pixels.count) bytes")
    }
    guard image.width * image.height <= 1 << 16 else { return }
    _ = image.rgb().resized(width: 7, height: 5)
    _ = image.grayscale()
    if let png = try? PNGCodec.encode(image), let back = try? PNGCodec.decode(png, file: "roundtrip.png") {
        if back.pixels != image.pixels || back.width != image.width {
            fatalError("PNG round trip changed a \(image.width)x\(image.height)x\(image.channels) image")
        }
    }
}

let visionFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "png", summary: "PNG through PNGCodec (both 16-bit policies), then conversions and re-encode") { data in
        for policy in [PNGCodec.SixteenBit.assumeSRGB, .libpngDefault] {
            do { exercise(try PNGCodec.decode(data, file: "input.png", sixteenBit: policy)) } catch {
                Fuzz.expectClear(error, naming: "input.png")
            }
        }
    },
    FuzzTarget(name: "jpeg", summary: "JPEG through JPEGDecoder (libjpeg-turbo), then conversions") { data in
        do { exercise(try JPEGDecoder.decode(data, file: "input.jpg")) } catch { Fuzz.expectClear(error, naming: "input.jpg") }
    },
    FuzzTarget(name: "pnm", summary: "PGM/PPM (P2, P3, P5, P6) through PNMDecoder") { data in
        do { exercise(try PNMDecoder.decode(data, file: "input.pgm")) } catch { Fuzz.expectClear(error, naming: "input.pgm") }
    },
    FuzzTarget(name: "image-sniff", summary: "any bytes through ImageDecoder's format sniffing and dispatch") { data in
        do { exercise(try ImageDecoder.decode(data, file: "input.img")) } catch { Fuzz.expectClear(error, naming: "input.img") }
    },
    FuzzTarget(name: "idx", summary: "Fashion-MNIST IDX arrays (IDXArray)") { data in
        Fuzz.attempt(naming: "images.idx") {
            let a = try IDXArray(bytes: [UInt8](data), file: "images.idx")
            guard a.values.count == a.shape.reduce(1, *) else { fatalError("IDX shape \(a.shape) with \(a.values.count) values") }
        }
    },
    FuzzTarget(name: "clip-config", summary: "a CLIP config.json mapped to CLIPConfig") { data in
        data.withUnsafeBytes { raw in
            Fuzz.attempt(naming: "config.json") { _ = try CLIPConfig(json: try JSONConfig(parsing: raw, file: "config.json")) }
        }
    },
]

import Core
import Foundation

/// The manipulation families of the synthetic data set ("synthetic face manipulations of
/// real photos"). Each takes one real face image (and, for swaps and splices, a second real
/// photo) and returns a manipulated copy of the same size and channel count.
public enum ManipulationFamily: String, Sendable, Codable, CaseIterable {
    /// Face-region swap between two people: the donor's inner face, colour-matched to the
    /// target, seamlessly cloned by Poisson blending (the classic face-swap pipeline).
    case swap
    /// Self-blended image (Shiohara & Yamasaki, CVPR 2022): the image blended onto a slightly
    /// transformed, colour-shifted copy of itself through a soft face mask.
    case sbi
    /// Splicing: a hard-edged region cut from another photo pasted at another place.
    case splice
    /// Resampling (down then up) followed by double JPEG compression at two qualities.
    case recompress

    /// One line for data-set notes and reports.
    public var summary: String {
        switch self {
        case .swap: return "face-region swap between two identities, Reinhard colour matching + Poisson blending"
        case .sbi: return "self-blended image: soft-mask blend onto a transformed copy of itself"
        case .splice: return "splice of a hard-edged region from another photo"
        case .recompress: return "resampling (×0.5–0.8 down, back up, bilinear) + double JPEG (q 50–75 then 85–95)"
        }
    }
}

/// The manipulations themselves. Every random choice comes from the generator passed in.
public enum FaceManipulations {
    /// The face region of a roughly centred, upright face: an ellipse over the inner face.
    /// For ORL's 92×112 frames the default (centre 0.5w, 0.57h; radii 0.26w, 0.30h) covers
    /// eyes, nose and mouth; `jitter` moves and scales it a little per sample.
    public struct FaceEllipse: Sendable, Equatable {
        public var centerX: Double, centerY: Double, radiusX: Double, radiusY: Double

        public static func standard(width: Int, height: Int) -> FaceEllipse {
            FaceEllipse(centerX: 0.5 * Double(width), centerY: 0.57 * Double(height),
                        radiusX: 0.26 * Double(width), radiusY: 0.30 * Double(height))
        }

        public func jittered(using rng: inout SplitMix64) -> FaceEllipse {
            func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(rng.nextUnitFloat()) }
            return FaceEllipse(centerX: centerX + u(-0.04, 0.04) * radiusX * 2, centerY: centerY + u(-0.04, 0.04) * radiusY * 2,
                               radiusX: radiusX * u(0.85, 1.1), radiusY: radiusY * u(0.85, 1.1))
        }

        /// A mask in [0, 1]: 1 inside `1 − feather` of the radius, a smoothstep to 0 at the edge.
        public func mask(width: Int, height: Int, feather: Double = 0.25) -> [Float] {
            var m = [Float](repeating: 0, count: width * height)
            for y in 0..<height {
                for x in 0..<width {
                    let dx = (Double(x) + 0.5 - centerX) / radiusX, dy = (Double(y) + 0.5 - centerY) / radiusY
                    let d = (dx * dx + dy * dy).squareRoot()
                    let t = feather > 0 ? min(1, max(0, (1 - d) / feather)) : (d <= 1 ? 1 : 0)
                    m[y * width + x] = Float(t * t * (3 - 2 * t))
                }
            }
            return m
        }
    }

    // MARK: - The four families

    /// Face swap: `donor`'s face region, colour-matched to `target`, Poisson-blended into `target`.
    public static func faceSwap(target: Image, donor: Image, using rng: inout SplitMix64) throws -> Image {
        let donor = try conformed(donor, to: target)
        let region = FaceEllipse.standard(width: target.width, height: target.height).jittered(using: &rng)
        let mask = region.mask(width: target.width, height: target.height, feather: 0)
        let matched = colorMatched(donor, to: target, mask: mask)
        return try PoissonBlending.blend(source: matched, target: target, mask: mask).image
    }

    /// Self-blended image: a copy with shifted brightness/contrast, a mild blur or sharpening and
    /// a small scale/shift, blended onto the original through a soft face mask at a ratio drawn
    /// from {0.25, 0.5, 0.75, 1, 1, 1} (the SBI recipe's blend ratios).
    public static func selfBlend(_ image: Image, using rng: inout SplitMix64) -> Image {
        func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(rng.nextUnitFloat()) }
        var copy = adjusted(image, gain: u(0.85, 1.15), offset: u(-15, 15))
        copy = u(0, 1) < 0.5 ? boxBlurred(copy) : sharpened(copy, amount: u(0.3, 0.8))
        copy = warped(copy, scale: u(0.95, 1.05), shiftX: u(-2.5, 2.5), shiftY: u(-2.5, 2.5))
        let ratios: [Float] = [0.25, 0.5, 0.75, 1, 1, 1]
        let ratio = ratios[Int(u(0, 1) * Double(ratios.count)) % ratios.count]
        let region = FaceEllipse.standard(width: image.width, height: image.height).jittered(using: &rng)
        let mask = region.mask(width: image.width, height: image.height, feather: u(0.15, 0.4)).map { $0 * ratio }
        return alphaBlend(copy, onto: image, mask: mask)
    }

    /// Splice: a hard-edged rectangle (20–35 % of the width, 15–30 % of the height) cut from a
    /// random place of `donor` and pasted at a random place of `image`, no blending.
    public static func splice(_ image: Image, donor: Image, using rng: inout SplitMix64) throws -> Image {
        let donor = try conformed(donor, to: image)
        func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(rng.nextUnitFloat()) }
        let w = max(2, Int(u(0.2, 0.35) * Double(image.width))), h = max(2, Int(u(0.15, 0.3) * Double(image.height)))
        let sx = Int(u(0, 1) * Double(image.width - w)), sy = Int(u(0, 1) * Double(image.height - h))
        let tx = Int(u(0, 1) * Double(image.width - w)), ty = Int(u(0, 1) * Double(image.height - h))
        var out = image
        let c = image.channels
        for y in 0..<h {
            for x in 0..<w {
                for ch in 0..<c { out.pixels[((ty + y) * image.width + tx + x) * c + ch] = donor.pixels[((sy + y) * image.width + sx + x) * c + ch] }
            }
        }
        return out
    }

    /// Resampling and double JPEG: down by 0.5–0.8 and back up (bilinear), then JPEG at quality
    /// 50–75, decoded, and JPEG again at 85–95.
    public static func resampledRecompressed(_ image: Image, using rng: inout SplitMix64) throws -> Image {
        func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(rng.nextUnitFloat()) }
        let f = u(0.5, 0.8)
        let small = image.resized(width: max(1, Int((Double(image.width) * f).rounded())),
                                  height: max(1, Int((Double(image.height) * f).rounded())), interpolation: .bilinear)
        let back = small.resized(width: image.width, height: image.height, interpolation: .bilinear)
        let first = try JPEGEncoder.roundTrip(back, quality: Int(u(50, 75.99)))
        return try JPEGEncoder.roundTrip(first, quality: Int(u(85, 95.99)))
    }

    /// Applies `family` to `image`; `donor` is required by swap and splice.
    public static func apply(_ family: ManipulationFamily, to image: Image, donor: Image?, using rng: inout SplitMix64) throws -> Image {
        switch family {
        case .swap, .splice:
            guard let donor else { throw DatasetError("\(family.rawValue) needs a second photo (a donor)") }
            return family == .swap ? try faceSwap(target: image, donor: donor, using: &rng) : try splice(image, donor: donor, using: &rng)
        case .sbi: return selfBlend(image, using: &rng)
        case .recompress: return try resampledRecompressed(image, using: &rng)
        }
    }

    // MARK: - Pieces

    /// `donor` with `target`'s size and channel count.
    static func conformed(_ donor: Image, to target: Image) throws -> Image {
        var d = donor
        if d.width != target.width || d.height != target.height {
            d = d.resized(width: target.width, height: target.height, interpolation: .bilinear)
        }
        if d.channels != target.channels {
            switch target.channels {
            case 1: d = d.grayscale()
            case 3: d = d.rgb()
            default: throw DatasetError("manipulations need grey or RGB images, got \(target.channels) channels")
            }
        }
        return d
    }

    /// Reinhard-style colour transfer restricted to the mask: each channel of `source` is
    /// shifted and scaled so its mean and standard deviation inside the mask equal the target's.
    public static func colorMatched(_ source: Image, to target: Image, mask: [Float]) -> Image {
        let c = source.channels
        var out = source
        for ch in 0..<c {
            var ws = 0.0, ms = 0.0, mt = 0.0, ss = 0.0, st = 0.0
            for i in 0..<(source.width * source.height) where mask[i] > 0.5 {
                ws += 1
                ms += Double(source.pixels[i * c + ch]); mt += Double(target.pixels[i * c + ch])
            }
            guard ws > 1 else { continue }
            ms /= ws; mt /= ws
            for i in 0..<(source.width * source.height) where mask[i] > 0.5 {
                let a = Double(source.pixels[i * c + ch]) - ms, b = Double(target.pixels[i * c + ch]) - mt
                ss += a * a; st += b * b
            }
            let gain = ss > 0 ? (st / ss).squareRoot() : 1
            for i in 0..<(source.width * source.height) {
                let v = (Double(source.pixels[i * c + ch]) - ms) * gain + mt
                out.pixels[i * c + ch] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return out
    }

    /// m·top + (1 − m)·bottom per pixel.
    public static func alphaBlend(_ top: Image, onto bottom: Image, mask: [Float]) -> Image {
        var out = bottom
        let c = bottom.channels
        for i in 0..<(bottom.width * bottom.height) {
            let m = mask[i]
            for ch in 0..<c {
                let v = m * Float(top.pixels[i * c + ch]) + (1 - m) * Float(bottom.pixels[i * c + ch])
                out.pixels[i * c + ch] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return out
    }

    static func adjusted(_ image: Image, gain: Double, offset: Double) -> Image {
        var out = image
        for i in out.pixels.indices {
            out.pixels[i] = UInt8(max(0, min(255, ((Double(image.pixels[i]) - 128) * gain + 128 + offset).rounded())))
        }
        return out
    }

    /// 3×3 box blur (edges replicated).
    static func boxBlurred(_ image: Image) -> Image {
        var out = image
        let w = image.width, h = image.height, c = image.channels
        for y in 0..<h {
            for x in 0..<w {
                for ch in 0..<c {
                    var s = 0
                    for dy in -1...1 {
                        for dx in -1...1 {
                            let yy = min(h - 1, max(0, y + dy)), xx = min(w - 1, max(0, x + dx))
                            s += Int(image.pixels[(yy * w + xx) * c + ch])
                        }
                    }
                    out.pixels[(y * w + x) * c + ch] = UInt8((s + 4) / 9)
                }
            }
        }
        return out
    }

    /// Unsharp mask: x + amount·(x − blur(x)).
    static func sharpened(_ image: Image, amount: Double) -> Image {
        let blur = boxBlurred(image)
        var out = image
        for i in out.pixels.indices {
            let v = Double(image.pixels[i]) + amount * (Double(image.pixels[i]) - Double(blur.pixels[i]))
            out.pixels[i] = UInt8(max(0, min(255, v.rounded())))
        }
        return out
    }

    /// Scale about the centre and shift, bilinear sampling with replicated edges.
    static func warped(_ image: Image, scale: Double, shiftX: Double, shiftY: Double) -> Image {
        var out = image
        let w = image.width, h = image.height, c = image.channels
        let cx = Double(w) / 2, cy = Double(h) / 2
        for y in 0..<h {
            for x in 0..<w {
                // Inverse map: output (x, y) samples the input at ((x − cx − shift)/scale + cx, …).
                let sx = min(Double(w - 1), max(0, (Double(x) + 0.5 - cx - shiftX) / scale + cx - 0.5))
                let sy = min(Double(h - 1), max(0, (Double(y) + 0.5 - cy - shiftY) / scale + cy - 0.5))
                let x0 = Int(sx), y0 = Int(sy), x1 = min(w - 1, x0 + 1), y1 = min(h - 1, y0 + 1)
                let fx = sx - Double(x0), fy = sy - Double(y0)
                for ch in 0..<c {
                    let p = { (yy: Int, xx: Int) in Double(image.pixels[(yy * w + xx) * c + ch]) }
                    let v = (1 - fy) * ((1 - fx) * p(y0, x0) + fx * p(y0, x1)) + fy * ((1 - fx) * p(y1, x0) + fx * p(y1, x1))
                    out.pixels[(y * w + x) * c + ch] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return out
    }
}

import Foundation

/// The resampling filters of `Image.resized`. Names follow PIL / torchvision.
public enum Interpolation: String, Sendable, CaseIterable {
    /// Triangle filter, support 1 (PIL `BILINEAR`; torchvision's default).
    case bilinear
    /// Keys cubic with a = −0.5, support 2 (PIL `BICUBIC`; CLIP and DINOv2 preprocessing).
    case bicubic

    /// Half-width of the filter at scale 1.
    var support: Double { self == .bilinear ? 1 : 2 }

    func weight(_ t: Double) -> Double {
        let x = abs(t)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// PIL's antialiased two-pass resampling (`Image.resize`), reproduced bit for bit for 8-bit
/// images so torchvision and Hugging Face preprocessing can be matched exactly.
///
/// Each output sample is a weighted sum over the input samples within `support × max(1, scale)`
/// of its centre, where `scale = inSize / outSize`: when downscaling the filter is stretched,
/// which is what makes the resize antialiased. Weights are normalised to sum to 1, then turned
/// into 22-bit fixed point; sums are rounded and clipped to 8 bits. The horizontal pass runs
/// first, over only the rows the vertical pass will read, and its 8-bit output feeds the
/// vertical pass — the intermediate rounding is part of PIL's result.
enum Resampler {
    /// Fixed-point fraction bits: 32 − 8 (sample) − 2 (headroom for negative lobes and overshoot).
    static let precisionBits = 22

    /// Per output index: the first contributing input index and the fixed-point weights.
    struct Coefficients {
        var start: [Int]
        var weights: [[Int32]]
    }

    static func coefficients(inSize: Int, outSize: Int, filter: Interpolation) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let inverse = 1 / filterScale
        var start = [Int](repeating: 0, count: outSize)
        var weights = [[Int32]](repeating: [], count: outSize)
        for o in 0..<outSize {
            let center = (Double(o) + 0.5) * scale
            // Int(...) truncates toward zero, like the C casts in PIL; clamp afterwards.
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            var w = [Double]()
            w.reserveCapacity(max(0, hi - lo))
            var total = 0.0
            for i in lo..<max(lo, hi) {
                let v = filter.weight((Double(i) - center + 0.5) * inverse)
                w.append(v)
                total += v
            }
            let one = Double(1 << precisionBits)
            weights[o] = w.map { v in
                let n = total != 0 ? v / total : v
                return Int32(n < 0 ? -0.5 + n * one : 0.5 + n * one)   // round half away from zero, then truncate
            }
            start[o] = lo
        }
        return Coefficients(start: start, weights: weights)
    }

    @inline(__always)
    static func clip8(_ sum: Int) -> UInt8 {
        let v = sum >> precisionBits    // arithmetic shift = floor, as in PIL
        return v < 0 ? 0 : v > 255 ? 255 : UInt8(v)
    }

    /// Resizes `image` to `width × height`; channels are filtered independently.
    static func resize(_ image: Image, width: Int, height: Int, filter: Interpolation) -> Image {
        precondition(width > 0 && height > 0, "resize target must be positive, got \(width)x\(height)")
        if width == image.width && height == image.height { return image }
        let ch = image.channels
        let vertical = coefficients(inSize: image.height, outSize: height, filter: filter)
        var current = image
        var rowOffset = 0
        if width != image.width {
            // Only rows [first, last) are ever read by the vertical pass.
            let first = vertical.start.first ?? 0
            let last = zip(vertical.start, vertical.weights).map { $0 + $1.count }.max() ?? image.height
            let horizontal = coefficients(inSize: image.width, outSize: width, filter: filter)
            var out = [UInt8](repeating: 0, count: width * (last - first) * ch)
            let half = Int32(1 << (precisionBits - 1))
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for y in first..<last {
                        let srcRow = src.baseAddress! + y * image.width * ch
                        let dstRow = dst.baseAddress! + (y - first) * width * ch
                        for o in 0..<width {
                            let base = srcRow + horizontal.start[o] * ch
                            horizontal.weights[o].withUnsafeBufferPointer { w in
                                for c in 0..<ch {
                                    // Int32 wrapping arithmetic, as PIL's C ints (the 2 headroom bits
                                    // of `precisionBits` keep real sums far from overflow).
                                    var sum = half
                                    for k in 0..<w.count { sum = sum &+ Int32(base[k * ch + c]) &* w[k] }
                                    dstRow[o * ch + c] = clip8(Int(sum))
                                }
                            }
                        }
                    }
                }
            }
            current = Image(width: width, height: last - first, channels: ch, pixels: out)
            rowOffset = first
        }
        guard height != image.height else { return current }
        var out = [UInt8](repeating: 0, count: width * height * ch)
        let rowLength = width * ch
        current.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var sums = [Int32](repeating: 0, count: rowLength)
                sums.withUnsafeMutableBufferPointer { acc in
                    for o in 0..<height {
                        let s = vertical.start[o] - rowOffset
                        for i in 0..<rowLength { acc[i] = Int32(1 << (precisionBits - 1)) }
                        for (k, wk) in vertical.weights[o].enumerated() {
                            let row = src.baseAddress! + (s + k) * rowLength
                            for i in 0..<rowLength { acc[i] = acc[i] &+ Int32(row[i]) &* wk }
                        }
                        let outRow = dst.baseAddress! + o * rowLength
                        for i in 0..<rowLength { outRow[i] = clip8(Int(acc[i])) }
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: ch, pixels: out)
    }
}

extension Image {
    /// Resized to `width × height` with PIL's antialiased filters (bit-exact with
    /// `PIL.Image.resize(..., resample=BILINEAR|BICUBIC)` for "L" and "RGB" images). Channels are
    /// filtered independently; PIL premultiplies RGBA by alpha first, so convert with `rgb()`
    /// before resizing if you need PIL's exact RGBA behaviour.
    public func resized(width: Int, height: Int, interpolation: Interpolation = .bilinear) -> Image {
        Resampler.resize(self, width: width, height: height, filter: interpolation)
    }
}

import Core
import Foundation

/// A float image in planar `[channels][height][width]` layout, values 0…255: the working form of
/// face preprocessing, where resampling must not round to 8 bits in between.
public struct FacePlanes: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var values: [Float]

    public init(width: Int, height: Int, channels: Int, values: [Float]) {
        precondition(values.count == width * height * channels, "FacePlanes: \(values.count) values for \(channels)×\(height)×\(width)")
        self.width = width
        self.height = height
        self.channels = channels
        self.values = values
    }

    /// From an 8-bit interleaved image.
    public init(_ image: Image) {
        let (w, h, c) = (image.width, image.height, image.channels)
        var v = [Float](repeating: 0, count: w * h * c)
        for y in 0..<h { for x in 0..<w { for k in 0..<c { v[(k * h + y) * w + x] = Float(image.pixels[(y * w + x) * c + k]) } } }
        self.init(width: w, height: h, channels: c, values: v)
    }
}

/// The preprocessing of the face experiments: crop, bilinear resize to the network's input,
/// the low-resolution probe simulation (area-average down, bilinear back up) and the layout
/// SFace expects (BGR planes, 0…255).
public enum FacePreprocessing {
    /// A crop rectangle in pixels.
    public struct Crop: Sendable, Equatable {
        public let top, left, height, width: Int
        public init(top: Int, left: Int, height: Int, width: Int) {
            (self.top, self.left, self.height, self.width) = (top, left, height, width)
        }
        /// The crude ORL face square used by the baseline: rows 10…101 of the 92×112 image.
        public static let orl = Crop(top: 10, left: 0, height: 92, width: 92)

        /// The largest centred square of a `width`×`height` image (for ORL's 92×112 this is
        /// exactly `orl`): the crop used for face folders of any size.
        public static func centeredSquare(width: Int, height: Int) -> Crop {
            let side = min(width, height)
            return Crop(top: (height - side) / 2, left: (width - side) / 2, height: side, width: side)
        }
    }

    public static func crop(_ p: FacePlanes, _ r: Crop, file: String) throws -> FacePlanes {
        guard r.top >= 0, r.left >= 0, r.height > 0, r.width > 0, r.top + r.height <= p.height, r.left + r.width <= p.width else {
            throw DatasetError("\(file): crop (top \(r.top), left \(r.left), \(r.width)×\(r.height)) does not fit the \(p.width)×\(p.height) image; use images of at least that size")
        }
        var v = [Float](repeating: 0, count: r.width * r.height * p.channels)
        for k in 0..<p.channels {
            for y in 0..<r.height {
                let src = (k * p.height + r.top + y) * p.width + r.left
                let dst = (k * r.height + y) * r.width
                for x in 0..<r.width { v[dst + x] = p.values[src + x] }
            }
        }
        return FacePlanes(width: r.width, height: r.height, channels: p.channels, values: v)
    }

    /// Bilinear interpolation with half-pixel centres and no antialiasing (OpenCV `INTER_LINEAR`,
    /// PyTorch `interpolate(..., align_corners=False)`): source coordinate (o + ½)·in/out − ½,
    /// clamped to the image.
    public static func resizeBilinear(_ p: FacePlanes, width: Int, height: Int) -> FacePlanes {
        precondition(width > 0 && height > 0, "resizeBilinear: target must be positive")
        func taps(_ outSize: Int, _ inSize: Int) -> [(Int, Int, Float)] {
            (0..<outSize).map { o in
                let c = max((Double(o) + 0.5) * Double(inSize) / Double(outSize) - 0.5, 0)
                let i0 = min(Int(c.rounded(.down)), inSize - 1)
                return (i0, min(i0 + 1, inSize - 1), Float(c - Double(i0)))
            }
        }
        let ty = taps(height, p.height), tx = taps(width, p.width)
        var v = [Float](repeating: 0, count: width * height * p.channels)
        for k in 0..<p.channels {
            let plane = k * p.height * p.width
            for (y, (y0, y1, fy)) in ty.enumerated() {
                for (x, (x0, x1, fx)) in tx.enumerated() {
                    let r0 = p.values[plane + y0 * p.width + x0] * (1 - fx) + p.values[plane + y0 * p.width + x1] * fx
                    let r1 = p.values[plane + y1 * p.width + x0] * (1 - fx) + p.values[plane + y1 * p.width + x1] * fx
                    v[(k * height + y) * width + x] = r0 * (1 - fy) + r1 * fy
                }
            }
        }
        return FacePlanes(width: width, height: height, channels: p.channels, values: v)
    }

    /// Area averaging (OpenCV `INTER_AREA` when shrinking): each output pixel is the mean of the
    /// input over its footprint [o·s, (o+1)·s) with s = in/out, partial pixels weighted by overlap.
    public static func resizeArea(_ p: FacePlanes, width: Int, height: Int) -> FacePlanes {
        precondition(width > 0 && height > 0 && width <= p.width && height <= p.height, "resizeArea: only shrinks")
        /// Per output index: (input index, weight) pairs summing to 1.
        func footprint(_ outSize: Int, _ inSize: Int) -> [[(Int, Float)]] {
            let s = Double(inSize) / Double(outSize)
            return (0..<outSize).map { o in
                let lo = Double(o) * s, hi = Double(o + 1) * s
                var taps: [(Int, Float)] = []
                var i = Int(lo.rounded(.down))
                while Double(i) < hi - 1e-9 && i < inSize {
                    let overlap = min(hi, Double(i + 1)) - max(lo, Double(i))
                    if overlap > 1e-9 { taps.append((i, Float(overlap / s))) }
                    i += 1
                }
                return taps
            }
        }
        let fy = footprint(height, p.height), fx = footprint(width, p.width)
        var v = [Float](repeating: 0, count: width * height * p.channels)
        for k in 0..<p.channels {
            let plane = k * p.height * p.width
            for y in 0..<height {
                for x in 0..<width {
                    var acc: Float = 0
                    for (iy, wy) in fy[y] { for (ix, wx) in fx[x] { acc += p.values[plane + iy * p.width + ix] * wy * wx } }
                    v[(k * height + y) * width + x] = acc
                }
            }
        }
        return FacePlanes(width: width, height: height, channels: p.channels, values: v)
    }

    /// Simulated low-resolution capture: area-average to `size`×`size`, then bilinear back to the
    /// original size (so the network input keeps its shape while the detail is gone).
    public static func degrade(_ p: FacePlanes, to size: Int, file: String) throws -> FacePlanes {
        guard size > 0, size <= p.width, size <= p.height else {
            throw DatasetError("\(file): probe size \(size) px is larger than the \(p.width)×\(p.height) face; choose a smaller probe size")
        }
        return resizeBilinear(resizeArea(p, width: size, height: size), width: p.width, height: p.height)
    }

    /// The SFace input for one face image: crop, bilinear resize to `side`, optional
    /// low-resolution degradation, then 3 BGR planes (grey copied) of 0…255 values.
    /// `flipped` mirrors the result (training augmentation).
    /// `transposed` swaps rows and columns at the end (only to study orientation sensitivity:
    /// faces must be upright for SFace).
    /// `degradeCrop` simulates the low-resolution capture on the crop itself (area-average the
    /// crop to `probeSize`, then one bilinear resize to `side`) instead of on the `side` image.
    public static func sfaceInput(_ image: Image, crop r: Crop = .orl, side: Int = 112, probeSize: Int? = nil,
                                  transposed: Bool = false, degradeCrop: Bool = false, flipped: Bool = false, file: String) throws -> [Float] {
        guard image.channels == 1 || image.channels == 3 || image.channels == 4 else {
            throw DatasetError("\(file): \(image.channels) channels; expected grey or colour")
        }
        let rgb = image.channels == 4 ? image.rgb() : image   // drop alpha
        let cropped = try crop(FacePlanes(rgb), r, file: file)
        var p: FacePlanes
        if degradeCrop, let probeSize {
            guard probeSize <= cropped.width && probeSize <= cropped.height else {
                throw DatasetError("\(file): probe size \(probeSize) px is larger than the \(cropped.width)×\(cropped.height) crop; choose a smaller probe size")
            }
            p = resizeBilinear(resizeArea(cropped, width: probeSize, height: probeSize), width: side, height: side)
        } else {
            p = resizeBilinear(cropped, width: side, height: side)
            if let probeSize { p = try degrade(p, to: probeSize, file: file) }
        }
        if transposed { p = transpose(p) }
        if flipped { p = flipHorizontally(p) }
        let plane = side * side
        if p.channels == 1 { return p.values + p.values + p.values }
        // RGB → BGR (the network was trained on OpenCV's channel order).
        return Array(p.values[(2 * plane)..<(3 * plane)]) + Array(p.values[plane..<(2 * plane)]) + Array(p.values[0..<plane])
    }

    /// Mirror image (left ↔ right): the training augmentation of face recognition.
    public static func flipHorizontally(_ p: FacePlanes) -> FacePlanes {
        var v = p.values
        for row in 0..<(p.channels * p.height) {
            let base = row * p.width
            for x in 0..<(p.width / 2) { v.swapAt(base + x, base + p.width - 1 - x) }
        }
        return FacePlanes(width: p.width, height: p.height, channels: p.channels, values: v)
    }

    static func transpose(_ p: FacePlanes) -> FacePlanes {
        var v = [Float](repeating: 0, count: p.values.count)
        for k in 0..<p.channels {
            for y in 0..<p.height { for x in 0..<p.width { v[(k * p.width + x) * p.height + y] = p.values[(k * p.height + y) * p.width + x] } }
        }
        return FacePlanes(width: p.height, height: p.width, channels: p.channels, values: v)
    }
}

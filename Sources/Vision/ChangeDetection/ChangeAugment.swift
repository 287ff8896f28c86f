import Core
import Foundation

/// Both dates of a pair as float RGB planes (`[3][H][W]`, values 0…1) and its 0/1 mask, the form
/// augmentation and batching work on.
public struct PairPlanes: Sendable {
    public var before: [Float]
    public var after: [Float]
    public var mask: [UInt8]
    public var width: Int
    public var height: Int

    /// Planes of a loaded pair (a missing mask becomes all zeros).
    public init(_ p: LoadedChangePair) {
        width = p.before.width
        height = p.before.height
        before = Self.planes(p.before)
        after = Self.planes(p.after)
        mask = p.mask ?? [UInt8](repeating: 0, count: width * height)
    }

    init(before: [Float], after: [Float], mask: [UInt8], width: Int, height: Int) {
        (self.before, self.after, self.mask, self.width, self.height) = (before, after, mask, width, height)
    }

    static func planes(_ img: Image) -> [Float] {
        let rgb = img.rgb(), n = img.width * img.height
        var out = [Float](repeating: 0, count: 3 * n)
        for p in 0..<n { for c in 0..<3 { out[c * n + p] = Float(rgb.pixels[p * 3 + c]) / 255 } }
        return out
    }

    /// Moves every pixel: output (x, y) reads input `source(x, y)` (nearest pixel for the mask,
    /// bilinear for the images; outside the tile the images repeat their border and the mask is 0).
    func remapped(width w: Int, height h: Int, _ source: (Int, Int) -> (Float, Float)) -> PairPlanes {
        let (iw, ih) = (width, height)
        var a = [Float](repeating: 0, count: 3 * w * h), b = a
        var m = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                let (sx, sy) = source(x, y)
                let nx = Int(sx.rounded()), ny = Int(sy.rounded())
                if (0..<iw).contains(nx) && (0..<ih).contains(ny) { m[y * w + x] = mask[ny * iw + nx] }
                let fx = min(max(sx, 0), Float(iw - 1)), fy = min(max(sy, 0), Float(ih - 1))
                let x0 = Int(fx), y0 = Int(fy), x1 = min(x0 + 1, iw - 1), y1 = min(y0 + 1, ih - 1)
                let wx = fx - Float(x0), wy = fy - Float(y0)
                for c in 0..<3 {
                    let base = c * iw * ih
                    func sample(_ p: [Float]) -> Float {
                        let top = p[base + y0 * iw + x0] * (1 - wx) + p[base + y0 * iw + x1] * wx
                        let bottom = p[base + y1 * iw + x0] * (1 - wx) + p[base + y1 * iw + x1] * wx
                        return top * (1 - wy) + bottom * wy
                    }
                    a[c * w * h + y * w + x] = sample(before)
                    b[c * w * h + y * w + x] = sample(after)
                }
            }
        }
        return PairPlanes(before: a, after: b, mask: m, width: w, height: h)
    }

    /// The `size`×`size` window at (`left`, `top`).
    public func cropped(left: Int, top: Int, size: Int) -> PairPlanes {
        remapped(width: size, height: size) { (Float($0 + left), Float($1 + top)) }
    }

    /// One of the 8 symmetries of the square (`k % 4` quarter turns, then a mirror when `k ≥ 4`).
    public func dihedral(_ k: Int) -> PairPlanes {
        let (w, h) = (width, height)
        let turns = k % 4
        let (ow, oh) = turns % 2 == 0 ? (w, h) : (h, w)
        return remapped(width: ow, height: oh) { x, y in
            let mx = k >= 4 ? ow - 1 - x : x
            switch turns {
            case 1: return (Float(y), Float(h - 1 - mx))
            case 2: return (Float(w - 1 - mx), Float(h - 1 - y))
            case 3: return (Float(w - 1 - y), Float(mx))
            default: return (Float(mx), Float(y))
            }
        }
    }

    /// Rotation by `degrees` about the centre.
    public func rotated(degrees: Float) -> PairPlanes {
        let r = degrees * .pi / 180, (c, s) = (Foundation.cos(r), Foundation.sin(r))
        let cx = Float(width - 1) / 2, cy = Float(height - 1) / 2
        return remapped(width: width, height: height) { x, y in
            let dx = Float(x) - cx, dy = Float(y) - cy
            return (cx + c * dx + s * dy, cy - s * dx + c * dy)
        }
    }
}

/// Joint augmentation of PeftCD (applied identically to both dates and the mask): a random
/// dihedral transform (D4) and, with probability 0.5, a rotation of up to ±`maxRotation`°.
/// (PeftCD also uses GridDistortion; it is left out here.)
public struct ChangeAugmentation: Codable, Sendable, Equatable {
    public var dihedral = true
    public var maxRotation: Float = 30

    public init() {}

    public func apply(_ p: PairPlanes, using rng: inout SplitMix64) -> PairPlanes {
        var out = p
        if dihedral { out = out.dihedral(Int(rng.next() % 8)) }
        if maxRotation > 0 && rng.nextUnitFloat() < 0.5 {
            out = out.rotated(degrees: (rng.nextUnitFloat() * 2 - 1) * maxRotation)
        }
        return out
    }
}

extension PairPlanes {
    /// Stacks pairs into normalised `[N, 3, H, W]` tensors and the flat mask (row-major `[N, H, W]`).
    public static func batch(_ items: [PairPlanes], normalization: Normalization) -> (before: Tensor, after: Tensor, labels: [Int]) {
        let (w, h) = (items[0].width, items[0].height)
        let n = w * h
        func norm(_ planes: [Float]) -> [Float] {
            var out = planes
            for c in 0..<3 {
                let (m, s) = (normalization.mean[c], normalization.std[c])
                for p in 0..<n { out[c * n + p] = (planes[c * n + p] - m) / s }
            }
            return out
        }
        let a = items.flatMap { norm($0.before) }, b = items.flatMap { norm($0.after) }
        return (Tensor(a, shape: [items.count, 3, h, w]), Tensor(b, shape: [items.count, 3, h, w]), items.flatMap { $0.mask.map(Int.init) })
    }
}

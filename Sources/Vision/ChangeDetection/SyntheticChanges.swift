import Core
import Foundation

/// Settings of the synthetic-change generator.
public struct SyntheticChangeOptions: Codable, Sendable, Equatable {
    /// Side of the square tiles cut from the scene.
    public var tile = 256
    /// Fractions of tile locations for validation and test (the rest trains).
    public var validationFraction = 0.2
    public var testFraction = 0.2
    /// Pasted patches per tile (a tile may also get none: unchanged pairs exist in real data).
    public var maxPatches = 3
    public var minPatch = 20
    public var maxPatch = 72
    /// Share of tiles without any change.
    public var unchangedFraction = 0.15
    /// Random far-away sources drawn per patch; the one whose colour differs most from what it
    /// covers is pasted. 1 = a uniformly random source (changes of any contrast, including
    /// field-over-field ones that per-pixel differencing barely sees); larger values favour
    /// high-contrast changes, which favours per-pixel differencing.
    public var sourceCandidates = 12
    public var seed: UInt64 = 13

    public init() {}
}

/// "Synthetic changes on real imagery": tiles of a real scene are date A; date B is the same tile
/// with real patches copy-pasted from elsewhere in the scene (fields, built-up blocks, water: any
/// land cover the scene has) — the pasted area is the change mask — plus differences that are
/// *not* change: a global gain and bias, haze, a per-channel (seasonal) colour shift and a
/// sub-pixel misregistration of up to one pixel. Tile locations are split into train/val/test
/// (seeded), so no location is in two splits.
public enum SyntheticChanges {
    /// Writes `out/{train,val,test}/{A,B,label}/<tile>.png` and returns the pair counts per split.
    @discardableResult
    public static func generate(scene: Image, options o: SyntheticChangeOptions, out: URL) throws -> [String: Int] {
        let rgb = scene.rgb()
        guard o.tile >= 8, o.maxPatches >= 0 else { throw DatasetError("--tile must be at least 8 pixels") }
        guard rgb.width >= 2 * o.tile, rgb.height >= 2 * o.tile else {
            throw DatasetError("the scene is \(rgb.width)×\(rgb.height); synthetic changes need at least 2×2 tiles of \(o.tile) pixels")
        }
        var rng = SplitMix64(seed: o.seed)
        var cells: [(Int, Int)] = []
        for r in 0..<(rgb.height / o.tile) { for c in 0..<(rgb.width / o.tile) { cells.append((r, c)) } }
        // Seeded Fisher–Yates shuffle of the locations, then contiguous split.
        for i in stride(from: cells.count - 1, to: 0, by: -1) { cells.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let nVal = max(1, Int(Double(cells.count) * o.validationFraction)), nTest = max(1, Int(Double(cells.count) * o.testFraction))
        var counts: [String: Int] = [:]
        for (k, cell) in cells.enumerated() {
            let split = k < nTest ? "test" : (k < nTest + nVal ? "val" : "train")
            let (a, b, mask) = makePair(scene: rgb, top: cell.0 * o.tile, left: cell.1 * o.tile, options: o, rng: &rng)
            let name = "r\(cell.0)_c\(cell.1)"
            for (sub, img) in [("A", a), ("B", b), ("label", Image(width: o.tile, height: o.tile, channels: 1, pixels: mask.map { $0 * 255 }))] {
                let dir = out.appendingPathComponent(split).appendingPathComponent(sub)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try AtomicFile.write(try PNGCodec.encode(img), to: dir.appendingPathComponent(name + ".png"))
            }
            counts[split, default: 0] += 1
        }
        return counts
    }

    /// One pair cut at (`left`, `top`): date A, date B, and the 0/1 change mask.
    public static func makePair(scene: Image, top: Int, left: Int, options o: SyntheticChangeOptions,
                                rng: inout SplitMix64) -> (Image, Image, [UInt8]) {
        let t = o.tile
        let a = scene.cropped(top: top, left: left, height: t, width: t)
        // Misregistration and radiometric nuisances first: they touch every pixel of date B.
        let dx = rng.nextUnitFloat() * 2 - 1, dy = rng.nextUnitFloat() * 2 - 1
        let gain = 0.9 + 0.2 * rng.nextUnitFloat(), bias = (rng.nextUnitFloat() * 2 - 1) * 8
        let season = (0..<3).map { _ in 0.95 + 0.1 * rng.nextUnitFloat() }
        let haze = 0.15 * rng.nextUnitFloat()
        var b = [Float](repeating: 0, count: t * t * 3)
        for y in 0..<t {
            for x in 0..<t {
                // Bilinear read at (x + dx, y + dy) in scene coordinates (clamped to the scene).
                let sx = min(max(Float(left + x) + dx, 0), Float(scene.width - 1)), sy = min(max(Float(top + y) + dy, 0), Float(scene.height - 1))
                let x0 = Int(sx), y0 = Int(sy), x1 = min(x0 + 1, scene.width - 1), y1 = min(y0 + 1, scene.height - 1)
                let wx = sx - Float(x0), wy = sy - Float(y0)
                for c in 0..<3 {
                    let v = (Float(scene[y0, x0, c]) * (1 - wx) + Float(scene[y0, x1, c]) * wx) * (1 - wy)
                        + (Float(scene[y1, x0, c]) * (1 - wx) + Float(scene[y1, x1, c]) * wx) * wy
                    b[(y * t + x) * 3 + c] = v
                }
            }
        }
        var mask = [UInt8](repeating: 0, count: t * t)
        let patches = rng.nextUnitFloat() < Float(o.unchangedFraction) ? 0 : 1 + Int(rng.next() % UInt64(max(1, o.maxPatches)))
        // Patches stay below half a tile, so small tiles still get whole patches.
        let maxSide = max(2, min(o.maxPatch, t / 2)), minSide = max(1, min(o.minPatch, maxSide))
        for _ in 0..<patches {
            let pw = minSide + Int(rng.next() % UInt64(maxSide - minSide + 1))
            let ph = minSide + Int(rng.next() % UInt64(maxSide - minSide + 1))
            let px = Int(rng.next() % UInt64(t - pw)), py = Int(rng.next() % UInt64(t - ph))
            // A source far from this tile whose mean colour differs visibly from what it covers.
            var best: (Int, Int, Float) = (0, 0, -1)
            for _ in 0..<max(1, o.sourceCandidates) {
                let sx = Int(rng.next() % UInt64(scene.width - pw)), sy = Int(rng.next() % UInt64(scene.height - ph))
                if abs(sx - (left + px)) < t && abs(sy - (top + py)) < t { continue }
                var diff: Float = 0
                for y in stride(from: 0, to: ph, by: 4) {
                    for x in stride(from: 0, to: pw, by: 4) {
                        for c in 0..<3 { diff += abs(Float(scene[sy + y, sx + x, c]) - Float(a[py + y, px + x, c])) }
                    }
                }
                if diff > best.2 { best = (sx, sy, diff) }
            }
            guard best.2 >= 0 else { continue }
            // Elliptic (fields, water) or rectangular (built-up blocks) footprints.
            let ellipse = rng.next() % 2 == 0
            for y in 0..<ph {
                for x in 0..<pw {
                    if ellipse {
                        let u = (Float(x) + 0.5) / Float(pw) * 2 - 1, v = (Float(y) + 0.5) / Float(ph) * 2 - 1
                        if u * u + v * v > 1 { continue }
                    }
                    mask[(py + y) * t + px + x] = 1
                    for c in 0..<3 { b[((py + y) * t + px + x) * 3 + c] = Float(scene[best.1 + y, best.0 + x, c]) }
                }
            }
        }
        var pixels = [UInt8](repeating: 0, count: t * t * 3)
        for i in 0..<(t * t) {
            for c in 0..<3 {
                var v = b[i * 3 + c] * gain * season[c] + bias
                v = v * (1 - haze) + 235 * haze
                pixels[i * 3 + c] = UInt8(min(255, max(0, v.rounded())))
            }
        }
        return (a, Image(width: t, height: t, channels: 3, pixels: pixels), mask)
    }
}

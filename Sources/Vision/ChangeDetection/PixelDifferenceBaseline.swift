import Core
import Foundation

/// The honest bar a learned change detector has to clear: call a pixel changed when its colour
/// difference `d = mean_c |B_c − A_c|` (RGB planes in 0…1) reaches a threshold, the threshold
/// being the one that maximises change F1 on the *training* split. No learning beyond that one
/// number, so anything a network adds over it comes from looking at more than one pixel (and
/// from ignoring the nuisance differences that are not change).
public struct PixelDifferenceBaseline: Codable, Sendable, Equatable {
    /// Pixels with `difference ≥ threshold` are predicted as change.
    public var threshold: Float
    /// Change F1 of that threshold on the split it was chosen on.
    public var fitF1: Double
    /// Relative radiometric normalisation first: each channel of B is brought to A's mean and
    /// standard deviation over the tile (the usual pre-processing of differencing methods; it
    /// removes global gain, bias, haze and colour shifts, which makes the bar higher).
    public var normalized = false

    public init(threshold: Float, fitF1: Double = 0, normalized: Bool = false) {
        self.threshold = threshold
        self.fitF1 = fitF1
        self.normalized = normalized
    }

    /// B with each channel linearly mapped to A's tile mean and standard deviation.
    public static func matched(_ p: PairPlanes) -> PairPlanes {
        let n = p.width * p.height
        var out = p
        for c in 0..<3 {
            func stats(_ v: [Float]) -> (Double, Double) {
                var s = 0.0, s2 = 0.0
                for i in (c * n)..<((c + 1) * n) { s += Double(v[i]); s2 += Double(v[i]) * Double(v[i]) }
                let m = s / Double(n)
                return (m, max(0, s2 / Double(n) - m * m).squareRoot())
            }
            let (ma, sa) = stats(p.before), (mb, sb) = stats(p.after)
            let g = sb > 1e-6 ? sa / sb : 1
            for i in (c * n)..<((c + 1) * n) { out.after[i] = Float((Double(p.after[i]) - mb) * g + ma) }
        }
        return out
    }

    /// Histograms (over `levels`) of the difference at changed and at unchanged pixels.
    public static func histograms(_ pairs: ChangePairSource, normalized: Bool = false) throws -> (changed: [Int], unchanged: [Int]) {
        var changed = [Int](repeating: 0, count: levels), unchanged = changed
        for i in 0..<pairs.count {
            let p = try pairs.planes(i)
            for (d, m) in zip(difference(normalized ? matched(p) : p), p.mask) {
                if m != 0 { changed[level(d)] += 1 } else { unchanged[level(d)] += 1 }
            }
        }
        return (changed, unchanged)
    }

    /// The difference at quantile `q` (0…1) of a histogram.
    public static func quantile(_ histogram: [Int], _ q: Double) -> Float {
        let total = histogram.reduce(0, +)
        guard total > 0 else { return 0 }
        var seen = 0
        for (l, c) in histogram.enumerated() {
            seen += c
            if Double(seen) >= q * Double(total) { return Float(l) / Float(levels - 1) }
        }
        return 1
    }

    /// Histogram resolution: 8-bit inputs give differences that are multiples of 1/765
    /// (three channels of 1/255), so 766 levels hold every value exactly.
    public static let levels = 766

    /// Per-pixel mean absolute colour difference (row-major `[H·W]`).
    public static func difference(_ p: PairPlanes) -> [Float] {
        let n = p.width * p.height
        var d = [Float](repeating: 0, count: n)
        for c in 0..<3 {
            for i in 0..<n { d[i] += abs(p.after[c * n + i] - p.before[c * n + i]) }
        }
        return d.map { $0 / 3 }
    }

    static func level(_ d: Float) -> Int { min(levels - 1, max(0, Int((d * Float(levels - 1)).rounded()))) }

    /// Chooses the threshold with the best change F1 over every pixel of `pairs` (one
    /// confusion matrix for the whole split, as the evaluation). Ties keep the lower threshold.
    public static func fit(_ pairs: ChangePairSource, normalized: Bool = false) throws -> PixelDifferenceBaseline {
        let (changed, unchanged) = try histograms(pairs, normalized: normalized)
        var fitted = fit(changed: changed, unchanged: unchanged)
        fitted.normalized = normalized
        return fitted
    }

    /// The same choice from histograms of the difference level of changed and unchanged pixels.
    public static func fit(changed: [Int], unchanged: [Int]) -> PixelDifferenceBaseline {
        let positives = changed.reduce(0, +)
        // Sweep the threshold down from the top level: predicted change = levels ≥ t.
        var tp = 0, fp = 0
        var best = PixelDifferenceBaseline(threshold: 1.01, fitF1: 0)
        for t in stride(from: changed.count - 1, through: 0, by: -1) {
            tp += changed[t]
            fp += unchanged[t]
            let f1 = tp == 0 ? 0 : 2 * Double(tp) / Double(2 * tp + fp + (positives - tp))
            // Without any change F1 is 0 everywhere: then nothing is ever predicted as change.
            if f1 > best.fitF1 || (f1 == best.fitF1 && f1 > 0) { best = PixelDifferenceBaseline(threshold: Float(t) / Float(changed.count - 1), fitF1: f1) }
        }
        return best
    }

    /// 0/1 prediction of one pair.
    public func predict(_ p: PairPlanes) -> [UInt8] {
        // Compare on the histogram levels so fitting and prediction round the same way.
        let t = Self.level(threshold)
        return Self.difference(normalized ? Self.matched(p) : p).map { Self.level($0) >= t && threshold <= 1 ? 1 : 0 }
    }

    /// One confusion matrix over every pixel of `pairs`.
    public func evaluate(_ pairs: ChangePairSource) throws -> BinaryConfusionMatrix {
        var cm = BinaryConfusionMatrix()
        for i in 0..<pairs.count {
            let p = try pairs.planes(i)
            cm.add(predicted: predict(p), truth: p.mask)
        }
        return cm
    }

    /// The trivial "everything changed" prediction (recall 1, precision = share of change).
    public static func allChange(_ pairs: ChangePairSource) throws -> BinaryConfusionMatrix {
        var cm = BinaryConfusionMatrix()
        for i in 0..<pairs.count {
            let p = try pairs.planes(i)
            cm.add(predicted: [UInt8](repeating: 1, count: p.mask.count), truth: p.mask)
        }
        return cm
    }
}

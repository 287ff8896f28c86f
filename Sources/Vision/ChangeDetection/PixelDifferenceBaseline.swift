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

    public init(threshold: Float, fitF1: Double = 0) {
        self.threshold = threshold
        self.fitF1 = fitF1
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
    public static func fit(_ pairs: ChangePairSource) throws -> PixelDifferenceBaseline {
        var changed = [Int](repeating: 0, count: levels), unchanged = changed
        for i in 0..<pairs.count {
            let p = try pairs.planes(i)
            for (d, m) in zip(difference(p), p.mask) {
                if m != 0 { changed[level(d)] += 1 } else { unchanged[level(d)] += 1 }
            }
        }
        return fit(changed: changed, unchanged: unchanged)
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
        return Self.difference(p).map { Self.level($0) >= t && threshold <= 1 ? 1 : 0 }
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

/// Threshold-free metrics of a binary scorer (higher score = more positive): the ROC curve,
/// its area (AUROC), average precision, the equal error rate and TPR at a fixed FPR. Used by
/// manipulation detection (AUROC, AP, EER, TPR@FPR) and face verification (TAR@FAR).
///
/// Conventions (the same as scikit-learn's `roc_curve`, `roc_auc_score` and
/// `average_precision_score`, checked against `fixtures/metrics/roc_ap.json`):
/// - Items with equal scores form one threshold: they enter the positive side together, so a
///   tie between a positive and a negative counts half in the AUROC.
/// - AP = Σ over distinct thresholds, from high to low, of (Rₖ − Rₖ₋₁)·Pₖ (no interpolation).
/// - With one class missing AUROC is undefined (`nil`); AP is 0 without positives.
public struct BinaryROC: Sendable {
    /// One ROC point: predicting positive for every score ≥ `threshold`.
    public struct Point: Sendable, Equatable {
        public let threshold: Double
        public let falsePositiveRate: Double
        public let truePositiveRate: Double
        /// Cumulative counts at this threshold (for precision).
        public let truePositives: Int
        public let falsePositives: Int
    }

    public let positives: Int
    public let negatives: Int
    /// ROC points from the highest threshold down, starting at (0, 0) with threshold +∞ and
    /// ending at (1, 1) when both classes are present.
    public let points: [Point]

    /// Builds the curve. `labels[i]` true = positive. Scores must be finite and the arrays the
    /// same length; a NaN score is a precondition failure because no ordering is defined.
    public init(labels: [Bool], scores: [Double]) {
        precondition(labels.count == scores.count, "BinaryROC: \(labels.count) labels but \(scores.count) scores")
        precondition(scores.allSatisfy { !$0.isNaN }, "BinaryROC: scores contain NaN")
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        let p = labels.filter { $0 }.count
        let n = labels.count - p
        var pts = [Point(threshold: .infinity, falsePositiveRate: 0, truePositiveRate: 0, truePositives: 0, falsePositives: 0)]
        var tp = 0, fp = 0
        var k = 0
        while k < order.count {
            let t = scores[order[k]]
            // Every item tied at t enters at once.
            while k < order.count && scores[order[k]] == t {
                if labels[order[k]] { tp += 1 } else { fp += 1 }
                k += 1
            }
            pts.append(Point(threshold: t,
                             falsePositiveRate: n > 0 ? Double(fp) / Double(n) : 0,
                             truePositiveRate: p > 0 ? Double(tp) / Double(p) : 0,
                             truePositives: tp, falsePositives: fp))
        }
        positives = p
        negatives = n
        points = pts
    }

    /// Float scores (e.g. cosine similarities).
    public init(labels: [Bool], scores: [Float]) { self.init(labels: labels, scores: scores.map(Double.init)) }

    /// Trapezoidal area under the ROC curve = P(s₊ > s₋) + ½·P(s₊ = s₋); nil with one class.
    public var auroc: Double? {
        guard positives > 0 && negatives > 0 else { return nil }
        var area = 0.0
        for i in 1..<points.count {
            let a = points[i - 1], b = points[i]
            area += (b.falsePositiveRate - a.falsePositiveRate) * (a.truePositiveRate + b.truePositiveRate) / 2
        }
        return area
    }

    /// Average precision, Σ (Rₖ − Rₖ₋₁)·Pₖ over distinct thresholds; 0 without positives.
    public var averagePrecision: Double {
        guard positives > 0 else { return 0 }
        var ap = 0.0
        for i in 1..<points.count {
            let a = points[i - 1], b = points[i]
            let recallStep = b.truePositiveRate - a.truePositiveRate
            if recallStep > 0 { ap += recallStep * Double(b.truePositives) / Double(b.truePositives + b.falsePositives) }
        }
        return ap
    }

    /// Equal error rate: the FPR where FPR = FNR (= 1 − TPR), found by linear interpolation
    /// between the two consecutive ROC points where FNR − FPR changes sign (the usual
    /// `brentq(1 − x − interp(fpr, tpr)(x))` definition). nil with one class.
    public var equalErrorRate: Double? {
        guard positives > 0 && negatives > 0 else { return nil }
        for i in 1..<points.count {
            let a = points[i - 1], b = points[i]
            let da = (1 - a.truePositiveRate) - a.falsePositiveRate   // ≥ 0 at the start
            let db = (1 - b.truePositiveRate) - b.falsePositiveRate
            if db <= 0 {
                // Along the segment FPR = fa + u·(fb − fa), FNR = (1 − ta) − u·(tb − ta).
                let u = da == db ? 0 : da / (da - db)
                return a.falsePositiveRate + u * (b.falsePositiveRate - a.falsePositiveRate)
            }
        }
        return nil   // unreachable: the last point (1, 1) has FNR − FPR = −1
    }

    /// The highest TPR among operating points whose FPR does not exceed `fpr` (no interpolation:
    /// an attainable threshold, which is the conservative reading of "TPR at FPR x"). nil with
    /// one class.
    public func truePositiveRate(atFalsePositiveRate fpr: Double) -> Double? {
        guard positives > 0 && negatives > 0 else { return nil }
        // Rounding slack so that e.g. 1 of 100 negatives counts as FPR 0.01 exactly.
        return points.filter { $0.falsePositiveRate <= fpr + 1e-12 }.map(\.truePositiveRate).max()
    }
}

/// A 2×2 confusion matrix for a binary (change / no-change, foreground / background) labelling,
/// accumulated over a whole evaluation set and read out as the usual segmentation scores of the
/// positive class.
///
/// Counts are integers, so accumulating millions of pixels loses nothing; scores are computed
/// from them in `Double`. A zero denominator gives 0 (scikit-learn's `zero_division=0`), so a set
/// with no positive pixel and no positive prediction has IoU = F1 = 0, not 1. (PeftCD's
/// `CM2Metric` adds 1e-4 to every cell instead; the difference is below 1e-4 on real sets.)
///
/// ```swift
/// var cm = BinaryConfusionMatrix()
/// cm.add(predicted: [1, 0, 1], truth: [1, 1, 0])
/// cm.iou          // TP / (TP + FP + FN) = 1/3
/// ```
public struct BinaryConfusionMatrix: Sendable, Equatable, Codable {
    /// Predicted positive, truly positive.
    public var truePositives: Int
    /// Predicted positive, truly negative.
    public var falsePositives: Int
    /// Predicted negative, truly positive.
    public var falseNegatives: Int
    /// Predicted negative, truly negative.
    public var trueNegatives: Int

    public init(truePositives: Int = 0, falsePositives: Int = 0, falseNegatives: Int = 0, trueNegatives: Int = 0) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.falseNegatives = falseNegatives
        self.trueNegatives = trueNegatives
    }

    /// Adds one prediction/truth pair per element; any non-zero value means positive.
    public mutating func add(predicted: [UInt8], truth: [UInt8]) {
        precondition(predicted.count == truth.count, "BinaryConfusionMatrix: \(predicted.count) predictions for \(truth.count) labels")
        var tp = 0, fp = 0, fn = 0, tn = 0
        for i in predicted.indices {
            switch (predicted[i] != 0, truth[i] != 0) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            case (false, false): tn += 1
            }
        }
        truePositives += tp
        falsePositives += fp
        falseNegatives += fn
        trueNegatives += tn
    }

    /// Adds another matrix (e.g. one image's counts).
    public mutating func add(_ other: BinaryConfusionMatrix) {
        truePositives += other.truePositives
        falsePositives += other.falsePositives
        falseNegatives += other.falseNegatives
        trueNegatives += other.trueNegatives
    }

    /// Number of elements counted.
    public var total: Int { truePositives + falsePositives + falseNegatives + trueNegatives }

    private static func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }

    /// TP / (TP + FP).
    public var precision: Double { Self.ratio(truePositives, truePositives + falsePositives) }
    /// TP / (TP + FN).
    public var recall: Double { Self.ratio(truePositives, truePositives + falseNegatives) }
    /// 2TP / (2TP + FP + FN), equal to the harmonic mean of precision and recall.
    public var f1: Double { Self.ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }
    /// Intersection over union of the positive class: TP / (TP + FP + FN).
    public var iou: Double { Self.ratio(truePositives, truePositives + falsePositives + falseNegatives) }
    /// Overall accuracy: (TP + TN) / total.
    public var accuracy: Double { Self.ratio(truePositives + trueNegatives, total) }
    /// IoU of the negative class: TN / (TN + FP + FN).
    public var negativeIoU: Double { Self.ratio(trueNegatives, trueNegatives + falsePositives + falseNegatives) }

    /// Cohen's kappa: (p_o − p_e) / (1 − p_e) with p_o the accuracy and p_e the agreement
    /// expected from the row and column totals alone (`sklearn.metrics.cohen_kappa_score`).
    /// When p_e = 1 (both labellings constant and equal) kappa is undefined; 0 is returned.
    public var kappa: Double {
        let n = Double(total)
        guard n > 0 else { return 0 }
        let predictedPositive = Double(truePositives + falsePositives), truePositive = Double(truePositives + falseNegatives)
        let expected = (predictedPositive * truePositive + (n - predictedPositive) * (n - truePositive)) / (n * n)
        guard expected < 1 else { return 0 }
        return (accuracy - expected) / (1 - expected)
    }

    /// The scores by name (for JSON reports).
    public var scores: [String: Double] {
        ["iou": iou, "f1": f1, "precision": precision, "recall": recall, "accuracy": accuracy, "kappa": kappa]
    }
}

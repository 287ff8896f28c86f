import Core
import Foundation

/// Threshold-free detection metrics of one test set (fake = positive): AUROC, average
/// precision, EER and TPR at FPR 1 % / 5 %, all from Core's `BinaryROC` (scikit-learn's
/// conventions, checked against `fixtures/metrics/roc_ap.json`).
public struct DetectionMetrics: Codable, Sendable, Equatable {
    /// Scored units after grouping (images, or groups with `--group-by`).
    public var reals: Int
    public var fakes: Int
    public var auroc: Double?
    public var averagePrecision: Double
    public var equalErrorRate: Double?
    public var tprAtFPR1: Double?
    public var tprAtFPR5: Double?

    public init(labels: [Bool], scores: [Double]) {
        let roc = BinaryROC(labels: labels, scores: scores)
        reals = roc.negatives
        fakes = roc.positives
        auroc = roc.auroc
        averagePrecision = roc.averagePrecision
        equalErrorRate = roc.equalErrorRate
        tprAtFPR1 = roc.truePositiveRate(atFalsePositiveRate: 0.01)
        tprAtFPR5 = roc.truePositiveRate(atFalsePositiveRate: 0.05)
    }
}

/// The evaluation report: every fake family against the same reals (one "test set" per
/// family, as GenD's per-benchmark AUROC), all fakes together, and the macro average of the
/// per-family AUROCs (GenD's headline cross-dataset number).
public struct DeepfakeReport: Codable, Sendable {
    public var perFamily: [String: DetectionMetrics]
    public var allFakes: DetectionMetrics
    public var macroAUROC: Double?
    /// The `--group-by` pattern (nil: every image is its own unit).
    public var groupBy: String?
    public var images: Int
    /// Files whose name the pattern did not match (each scored on its own).
    public var ungroupedFiles: Int
}

/// Scoring aggregation and metrics.
public enum DeepfakeEvaluation {
    /// The unit an image's score is averaged into: its class side (real or the fake family) plus
    /// the first capture group of `pattern` on the file name (the whole match if the pattern
    /// has no group) — GenD averages frame probabilities per video; here a pattern such as
    /// `^(s[0-9]+)_` averages per identity. nil when the pattern does not match.
    public static func groupKey(_ sample: DeepfakeSample, pattern: Regex<AnyRegexOutput>) -> String? {
        let name = sample.url.lastPathComponent
        guard let m = name.firstMatch(of: pattern) else { return nil }
        let piece = m.output.count > 1 ? (m.output[1].substring.map(String.init) ?? String(name[m.range])) : String(name[m.range])
        return "\(sample.isFake ? "fake" : "real")/\(sample.family)/\(piece)"
    }

    /// Mean score per group (units in first-appearance order). Returns labels, scores, the
    /// unit's family and how many files fell outside the pattern.
    public static func aggregate(_ samples: [DeepfakeSample], scores: [Double], groupBy: String?) throws
        -> (labels: [Bool], scores: [Double], families: [String], ungrouped: Int)
    {
        precondition(samples.count == scores.count, "aggregate: \(samples.count) samples, \(scores.count) scores")
        guard let groupBy else { return (samples.map(\.isFake), scores, samples.map(\.family), 0) }
        let pattern: Regex<AnyRegexOutput>
        do { pattern = try Regex(groupBy) } catch {
            throw DatasetError("--group-by '\(groupBy)' is not a valid regular expression (\(error))")
        }
        var order: [String] = []
        var sums: [String: (sum: Double, n: Int, fake: Bool, family: String)] = [:]
        var ungrouped = 0
        for (s, score) in zip(samples, scores) {
            let k: String
            if let key = groupKey(s, pattern: pattern) { k = key } else {
                ungrouped += 1
                k = "file/\(s.isFake ? "fake" : "real")/\(s.family)/\(s.url.path)"
            }
            if let e = sums[k] { sums[k] = (e.sum + score, e.n + 1, e.fake, e.family) } else {
                sums[k] = (score, 1, s.isFake, s.family)
                order.append(k)
            }
        }
        let units = order.compactMap { sums[$0] }
        return (units.map(\.fake), units.map { $0.sum / Double($0.n) }, units.map(\.family), ungrouped)
    }

    /// The report for `samples` scored `scores` (P(fake)).
    public static func report(_ samples: [DeepfakeSample], scores: [Double], groupBy: String?) throws -> DeepfakeReport {
        let agg = try aggregate(samples, scores: scores, groupBy: groupBy)
        let realIdx = agg.labels.indices.filter { !agg.labels[$0] }
        guard !realIdx.isEmpty else { throw DatasetError("evaluation needs real images; none were given") }
        let families = Array(Set(zip(agg.labels, agg.families).filter { $0.0 }.map(\.1))).sorted()
        guard !families.isEmpty else { throw DatasetError("evaluation needs fake images; none were given") }
        var per: [String: DetectionMetrics] = [:]
        for f in families {
            let idx = realIdx + agg.labels.indices.filter { agg.labels[$0] && agg.families[$0] == f }
            per[f] = DetectionMetrics(labels: idx.map { agg.labels[$0] }, scores: idx.map { agg.scores[$0] })
        }
        let aurocs = per.values.compactMap(\.auroc)
        return DeepfakeReport(perFamily: per, allFakes: DetectionMetrics(labels: agg.labels, scores: agg.scores),
                              macroAUROC: aurocs.isEmpty ? nil : aurocs.reduce(0, +) / Double(aurocs.count),
                              groupBy: groupBy, images: samples.count, ungroupedFiles: agg.ungrouped)
    }

    /// Scores `data` with `model` and reports.
    public static func evaluate(_ model: GenDModel, data: DeepfakeData, groupBy: String?, log: (String) -> Void = { _ in }) throws -> DeepfakeReport {
        log("scoring \(data.samples.count) images (\(data.reals.count) real, \(data.fakes.count) fake: \(data.families.joined(separator: ", ")))")
        let scores = try GenDTrainer.scores(model, images: try GenDTrainer.decode(data.samples))
        return try report(data.samples, scores: scores, groupBy: groupBy)
    }
}

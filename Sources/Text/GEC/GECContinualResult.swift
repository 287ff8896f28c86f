import Core
import Foundation

/// The outcome of one continual run: the accuracy matrix, the metrics and the final per-domain
/// scores (written as `results.json`).
public struct GECContinualResult: Codable, Sendable, Equatable {
    public struct DomainScore: Codable, Sendable, Equatable {
        public var domain: String
        public var tp: Int, fp: Int, fn: Int
        public var precision: Double, recall: Double, f05: Double
        /// The M² scorer's counts and P / R / F0.5 on the same corrections.
        public var m2Correct: Int?, m2Proposed: Int?, m2Gold: Int?
        public var m2Precision: Double?, m2Recall: Double?, m2F05: Double?
        /// Recall and precision per injected error type (`GECErrorTypes`).
        public var types: GECErrorTypes.Report?
        public init(domain: String, counts c: EditCounts, maxMatch m: MaxMatchCounts? = nil, types: GECErrorTypes.Report? = nil) {
            self.types = types
            self.domain = domain
            tp = c.tp; fp = c.fp; fn = c.fn
            precision = c.precision; recall = c.recall; f05 = c.f05
            if let m {
                m2Correct = m.correct; m2Proposed = m.proposed; m2Gold = m.gold
                m2Precision = m.precision; m2Recall = m.recall; m2F05 = m.f05
            }
        }
        enum CodingKeys: String, CodingKey {
            case domain, tp, fp, fn, precision, recall, f05
            case m2Correct = "m2_correct", m2Proposed = "m2_proposed", m2Gold = "m2_gold"
            case m2Precision = "m2_precision", m2Recall = "m2_recall", m2F05 = "m2_f05"
            case types = "by_type"
        }
    }

    public var method: String
    public var domains: [String]
    /// `matrix[t][i]`: F0.5 on domain i after training through domain t.
    public var matrix: [[Double]]
    /// F0.5 of the untrained tagger per domain.
    public var baseline: [Double]
    public var averagePerformance: Double
    public var backwardTransfer: Double?
    public var forwardTransfer: Double?
    /// P / R / F0.5 per domain after the last domain.
    public var final: [DomainScore]
    public var trainableParameters: Int
    public var totalParameters: Int
    public var tags: Int
    public var trainSeconds: Double
    public var wallSeconds: Double
    public var seed: UInt64
    /// Steps whose gradient GEM / A-GEM had to project.
    public var gemProjections: Int
    /// Per domain in training order: the epoch whose weights were kept (dev selection) and its dev F0.5.
    public var keptEpochs: [Int] = []
    public var devF05: [Double?] = []

    enum CodingKeys: String, CodingKey {
        case method, domains, matrix, baseline, final, tags, seed
        case averagePerformance = "AP", backwardTransfer = "BWT", forwardTransfer = "FWT"
        case trainableParameters = "trainable_parameters", totalParameters = "total_parameters"
        case trainSeconds = "train_seconds", wallSeconds = "wall_seconds", gemProjections = "gem_projections"
        case keptEpochs = "kept_epochs", devF05 = "dev_f05"
    }

    static func fmt(_ x: Double?) -> String { x.map { String(format: "%+.4f", $0) } ?? "n/a" }

    public var summary: String {
        String(format: "%@: AP %.4f, BWT %@, FWT %@", method, averagePerformance, Self.fmt(backwardTransfer), Self.fmt(forwardTransfer))
    }

    /// The matrix as a text table (rows: after training on a domain; columns: test domain),
    /// then the untrained baseline row and the final P/R/F0.5 per domain.
    public var table: String {
        let width = max(8, (domains.map(\.count).max() ?? 0) + 1)
        func pad(_ s: String) -> String { s.count >= width ? s : String(repeating: " ", count: width - s.count) + s }
        var lines = ["F0.5 a[t][i] (\(method)); row = after training on, column = tested on"]
        lines.append(pad("") + domains.map(pad).joined())
        lines.append(pad("untrained") + baseline.map { pad(String(format: "%.4f", $0)) }.joined())
        for (t, row) in matrix.enumerated() {
            lines.append(pad(domains[t]) + row.map { pad(String(format: "%.4f", $0)) }.joined())
        }
        lines.append(String(format: "AP %.4f  BWT %@  FWT %@", averagePerformance, Self.fmt(backwardTransfer), Self.fmt(forwardTransfer)))
        lines.append("final per domain (ERRANT cs P / R / F0.5; M2 scorer P / R / F0.5):")
        for d in final {
            var line = String(format: "  %@ P %.4f R %.4f F0.5 %.4f (TP %d FP %d FN %d)", pad(d.domain), d.precision, d.recall, d.f05, d.tp, d.fp, d.fn)
            if let p = d.m2Precision, let r = d.m2Recall, let f = d.m2F05 { line += String(format: "; M2 P %.4f R %.4f F0.5 %.4f", p, r, f) }
            lines.append(line)
            if let t = d.types, !t.line.isEmpty { lines.append("    recalled by error type: " + t.line) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `results.json` and `matrix.txt` into `directory`, atomically.
    public func write(to directory: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(self), to: directory.appendingPathComponent("results.json"), createDirectories: true)
        try AtomicFile.write(table, to: directory.appendingPathComponent("matrix.txt"), createDirectories: true)
    }
}

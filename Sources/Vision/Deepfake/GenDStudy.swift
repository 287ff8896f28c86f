import Core
import Foundation

/// Several training seeds of the cross-family experiment summarised per method: mean ± sample
/// standard deviation (n − 1) of the unseen-family and seen-family macro AUROC and of each
/// family's AUROC. A single seed on a few hundred images swings by several points of AUROC, so
/// comparing GenD with its ablations needs this spread next to the means.
public enum GenDStudy {
    /// One method over every seed.
    public struct Row: Codable, Sendable, Equatable {
        public var method: String
        public var learningRate: Double
        public var trainable: Int
        public var trainablePercent: Double
        /// Per seed, in the order of `seeds`.
        public var unseen: [Double]
        public var seen: [Double]
        /// Family → per-seed AUROC.
        public var perFamily: [String: [Double]]
        public var meanTrainSeconds: Double
    }

    public struct Summary: Codable, Sendable {
        public var dataset = "synthetic face manipulations of real photos"
        public var seeds: [UInt64]
        public var trainFamilies: [String]
        public var unseenFamilies: [String]
        public var iterations: Int
        public var batchSize: Int
        public var imageSize: Int
        public var rows: [Row]
    }

    /// Gathers the rows of one `GenDExperiment.Result` per seed (same methods in the same order,
    /// same families). Methods whose metric was undefined for some seed keep only the defined ones.
    public static func summarize(_ results: [(seed: UInt64, result: GenDExperiment.Result)]) throws -> Summary {
        guard let first = results.first?.result else { throw DatasetError("a study needs at least one seed") }
        var rows: [Row] = []
        for (i, r0) in first.rows.enumerated() {
            var row = Row(method: r0.method, learningRate: r0.learningRate ?? first.options.learningRate, trainable: r0.trainable,
                          trainablePercent: r0.trainablePercent, unseen: [], seen: [], perFamily: [:], meanTrainSeconds: 0)
            for (_, r) in results {
                guard i < r.rows.count, r.rows[i].method == r0.method else {
                    throw DatasetError("study: the seeds ran different method lists")
                }
                let x = r.rows[i]
                if let u = x.unseenMacroAUROC { row.unseen.append(u) }
                if let s = x.seenMacroAUROC { row.seen.append(s) }
                for (f, m) in x.report.perFamily { if let a = m.auroc { row.perFamily[f, default: []].append(a) } }
                row.meanTrainSeconds += x.trainSeconds / Double(results.count)
            }
            rows.append(row)
        }
        return Summary(seeds: results.map(\.seed), trainFamilies: first.trainFamilies, unseenFamilies: first.unseenFamilies,
                       iterations: first.options.iterations, batchSize: first.options.batchSize, imageSize: first.options.imageSize, rows: rows)
    }

    public static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

    /// Sample standard deviation (n − 1); 0 for a single value.
    public static func std(_ v: [Double]) -> Double {
        guard v.count > 1 else { return 0 }
        let m = mean(v)
        return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
    }

    static func cell(_ v: [Double]) -> String {
        v.isEmpty ? "—" : String(format: "%.3f ± %.3f", mean(v), std(v))
    }

    /// The markdown table: one row per method, unseen and seen macro AUROC, then each family
    /// (unseen ones marked *), all as mean ± std over the seeds.
    public static func markdown(_ s: Summary) -> String {
        let families = Array(Set(s.rows.flatMap { $0.perFamily.keys })).sorted()
        var t = "\(s.dataset): \(s.iterations) iterations × batch \(s.batchSize) at \(s.imageSize) px, seeds "
            + s.seeds.map(String.init).joined(separator: ", ") + "; trained on " + s.trainFamilies.joined(separator: ", ")
            + ", unseen: " + s.unseenFamilies.joined(separator: ", ") + ". AUROC mean ± std (n − 1) over the seeds.\n\n"
        t += "| method | lr | trainable | share | unseen macro AUROC | seen macro AUROC |"
            + families.map { " \($0)\(s.unseenFamilies.contains($0) ? "*" : "") |" }.joined() + " train s |\n"
        t += "|---|---:|---:|---:|---:|---:|" + String(repeating: "---:|", count: families.count) + "---:|\n"
        for r in s.rows {
            t += String(format: "| %@ | %.0e | %d | %.3f%% | %@ | %@ |", r.method, r.learningRate, r.trainable, r.trainablePercent,
                        cell(r.unseen), cell(r.seen))
            t += families.map { " \(cell(r.perFamily[$0] ?? [])) |" }.joined()
            t += String(format: " %.0f |\n", r.meanTrainSeconds)
        }
        t += "\n* = family not seen in training. Each family's AUROC: its fakes against the same held-out reals.\n"
        return t
    }
}

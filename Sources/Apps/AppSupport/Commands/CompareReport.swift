import Foundation

/// The result table of `compare`, its Pareto front (metric against trainable parameters) and a
/// recommendation computed from the numbers (never a canned sentence).
public struct CompareReport: Sendable {
    public struct Row: Sendable, Equatable {
        public var method: String
        /// Rank (or coefficient count for LoCA / QWHA) the method ran at.
        public var size: Int
        public var trainable: Int
        public var total: Int
        public var mean: Double
        public var std: Double
        public var trainSeconds: Double
        /// Process peak RSS after the method's runs (monotone over the table: later rows
        /// include earlier peaks; a rise marks the method that raised it).
        public var peakRSSMiB: Double
        public var mergedInferenceSeconds: Double?
        /// Mean and standard deviation of each of the report's `extraMetricNames`.
        public var extraMeans: [Double] = []
        public var extraStds: [Double] = []
        public var share: Double { total == 0 ? 0 : Double(trainable) / Double(total) }
    }

    public var metricName: String
    public var seeds: [UInt64]
    public var steps: Int
    public var budget: Int?
    public var rows: [Row]
    /// Skipped methods and why.
    public var notes: [String]
    /// What `steps` counts ("steps", "epochs").
    public var stepsName = "steps"
    /// The wall-clock budget in minutes, when one was given.
    public var minutesBudget: Double?
    /// Further metric columns (the app's own, e.g. BWT), after the main one.
    public var extraMetricNames: [String] = []

    /// Methods no other method beats on both axes (higher metric with no more parameters).
    public var paretoFront: [String] {
        rows.filter { r in
            !rows.contains { o in o.method != r.method && o.trainable <= r.trainable && o.mean >= r.mean && (o.trainable < r.trainable || o.mean > r.mean) }
        }.sorted { $0.trainable < $1.trainable }.map(\.method)
    }

    /// Best mean metric; then the cheapest method whose mean lies within one standard deviation
    /// (of the best method's runs) of it.
    public var recommendation: String {
        let valid = rows.filter { $0.mean.isFinite }
        guard let best = valid.max(by: { $0.mean < $1.mean }) else { return "No method produced a result; nothing to recommend." }
        let within = valid.filter { $0.mean >= best.mean - best.std }
        let cheapest = within.min { $0.trainable < $1.trainable }!
        var s = String(format: "Best %@: %@ with %.4f ± %.4f over %d seed(s) at %d trainable parameters (%.3f%% of the model)",
                       metricName, best.method, best.mean, best.std, seeds.count, best.trainable, 100 * best.share)
        if let b = budget { s += " under the budget of \(b) trainable parameters" }
        if let m = minutesBudget { s += String(format: " under the budget of %g minutes", m) }
        if cheapest.method != best.method {
            s += String(format: ". The cheapest within one standard deviation of it is %@ (%.4f ± %.4f) with %d parameters, %.1f× fewer; prefer it when memory or storage matters",
                        cheapest.method, cheapest.mean, cheapest.std, cheapest.trainable, Double(best.trainable) / Double(Swift.max(cheapest.trainable, 1)))
        } else {
            s += ". No cheaper method comes within one standard deviation of it"
        }
        s += ". Pareto front (metric vs. trainable parameters): \(paretoFront.joined(separator: ", "))."
        let skipped = notes.filter { $0.contains(": skipped") }.count
        if skipped > 0 { s += " Skipped: \(skipped) method(s), see notes." }
        return s
    }

    public func markdown(title: String) -> String {
        var s = "# \(title)\n\n\(steps) \(stepsName) per run, seeds \(seeds.map(String.init).joined(separator: ", "))"
        if let b = budget { s += ", trainable-parameter budget \(b)" }
        if let m = minutesBudget { s += String(format: ", time budget %g minutes", m) }
        let extraHeads = extraMetricNames.map { " \($0) |" }.joined()
        s += "\n\n| method | size | trainable | share | \(metricName) (mean ± std) |\(extraHeads) train s | peak RSS MiB | merged eval s | Pareto |\n"
        s += "|---|---:|---:|---:|---:|" + String(repeating: "---:|", count: extraMetricNames.count) + "---:|---:|---:|:-:|\n"
        let front = Set(paretoFront)
        for r in rows {
            let extras = zip(r.extraMeans, r.extraStds).map { String(format: " %.4f ± %.4f |", $0, $1) }.joined()
            s += String(format: "| %@ | %@ | %d | %.3f%% | %.4f ± %.4f |%@ %.1f | %.0f | %@ | %@ |\n", r.method, r.size > 0 ? String(r.size) : "—",
                        r.trainable, 100 * r.share, r.mean, r.std, extras, r.trainSeconds, r.peakRSSMiB,
                        r.mergedInferenceSeconds.map { String(format: "%.2f", $0) } ?? (r.size > 0 ? "not mergeable" : "—"), front.contains(r.method) ? "●" : "")
        }
        for n in notes { s += "\nNote: \(n)" }
        s += "\n\nPlot `compare.png` (metric vs. log trainable parameters, ± std bars, Pareto front ringed): \(plotLegend)"

        s += "\n\n" + recommendation + "\n"
        return s
    }

    /// JSON has no NaN: a metric that could not be computed is null.
    static func finite(_ v: Double) -> Any { v.isFinite ? v : NSNull() }

    public func json() throws -> Data {
        let obj: [String: Any] = [
            "metric": metricName, "seeds": seeds.map { Int(truncatingIfNeeded: $0) }, "steps": steps,
            "budget": budget.map { $0 as Any } ?? NSNull(), "budget_minutes": minutesBudget.map { $0 as Any } ?? NSNull(),
            "steps_name": stepsName, "extra_metrics": extraMetricNames, "notes": notes, "pareto_front": paretoFront, "recommendation": recommendation,
            "rows": rows.map { r -> [String: Any] in
                ["method": r.method, "size": r.size, "trainable": r.trainable, "total": r.total, "share": r.share, "mean": Self.finite(r.mean), "std": Self.finite(r.std),
                 "train_seconds": r.trainSeconds, "peak_rss_mib": r.peakRSSMiB,
                 "merged_inference_seconds": r.mergedInferenceSeconds.map { $0 as Any } ?? NSNull(),
                 "extra_means": r.extraMeans.map(Self.finite), "extra_stds": r.extraStds.map(Self.finite)]
            },
        ]
        return try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
    }
}

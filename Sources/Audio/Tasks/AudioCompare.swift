import Core
import Foundation

/// One method's line in the comparison table.
public struct CompareRow: Codable, Sendable {
    public var method: String
    public var trainable: Int
    /// Trainable share of the backbone in percent.
    public var percent: Double
    /// Test accuracy of every run (folds × seeds).
    public var accuracies: [Double]
    /// Mean training seconds per run.
    public var trainSeconds: Double

    public var mean: Double { accuracies.reduce(0, +) / Double(max(accuracies.count, 1)) }
    /// Sample standard deviation (0 for a single run).
    public var std: Double {
        guard accuracies.count > 1 else { return 0 }
        let m = mean
        return (accuracies.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(accuracies.count - 1)).squareRoot()
    }
}

/// Loaded clips for one split of one run (a fold, or the only split).
public struct LoadedSplit {
    public var train: LoadedClips
    public var validation: LoadedClips
    public var test: LoadedClips
    public var note: String
    public init(train: LoadedClips, validation: LoadedClips, test: LoadedClips, note: String) {
        self.train = train; self.validation = validation; self.test = test; self.note = note
    }
}

/// The PETL-AST comparison: several methods on the same splits and seeds, one table of trainable
/// parameters (% of the backbone), test accuracy mean ± std and training time.
public enum AudioCompare {
    /// Trains every config on every split with every seed. `makeBackbone` must return a fresh
    /// backbone each call (methods modify it). `progress` gets one line per event.
    public static func run(_ configs: [PETLConfig], splits: [LoadedSplit], seeds: [UInt64], labels: [String],
                           options: AudioTrainOptions, makeBackbone: () throws -> any PETLBackbone,
                           progress: (String) -> Void = { _ in }) throws -> [CompareRow] {
        var rows: [CompareRow] = []
        for base in configs {
            var row: CompareRow?
            var seconds = 0.0
            for (s, split) in splits.enumerated() {
                for seed in seeds {
                    var config = base
                    config.seed = seed
                    var o = options
                    o.seed = seed
                    let model = try PETLClassifier(backbone: try makeBackbone(), labels: labels, config: config)
                    progress("[\(config.summary)] split \(s + 1)/\(splits.count) seed \(seed): \(model.trainableCount) trainable (\(String(format: "%.3f", model.trainablePercent))%)")
                    let report = try AudioClassificationTask.train(model, train: split.train, validation: split.validation, options: o) {
                        progress("  [\(config.method.rawValue)] " + $0)
                    }
                    let test = try AudioClassificationTask.evaluate(model, clips: split.test, batchSize: o.batchSize)
                    progress(String(format: "  [%@] test accuracy %.4f (best epoch %d, %.1fs)", config.method.rawValue, test.accuracy, report.bestEpoch, report.trainSeconds))
                    seconds += report.trainSeconds
                    if row == nil {
                        row = CompareRow(method: config.summary, trainable: model.trainableCount, percent: model.trainablePercent,
                                         accuracies: [], trainSeconds: 0)
                    }
                    row!.accuracies.append(test.accuracy)
                }
            }
            if var r = row {
                r.trainSeconds = seconds / Double(max(r.accuracies.count, 1))
                rows.append(r)
            }
        }
        return rows
    }

    /// The table as aligned text.
    public static func table(_ rows: [CompareRow]) -> String {
        let header = ["method", "trainable params", "% of model", "accuracy (mean ± std)", "runs", "train time"]
        let body = rows.map { r in
            [r.method, "\(r.trainable)", String(format: "%.3f%%", r.percent),
             String(format: "%.2f ± %.2f %%", 100 * r.mean, 100 * r.std), "\(r.accuracies.count)",
             String(format: "%.1f s", r.trainSeconds)]
        }
        let widths = header.indices.map { c in ([header[c]] + body.map { $0[c] }).map(\.count).max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + body.map(line)).joined(separator: "\n")
    }
}

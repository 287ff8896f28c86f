import Core
import Foundation
import Vision

extension ChangeDetectCommand {
    /// The bars a trained model has to clear on a data set's test split.
    struct BaselineSummary: Encodable {
        /// Threshold on the mean |B − A| (0…1) chosen on the training split, and its F1 there.
        var threshold: Float
        var trainF1: Double
        var pixelDifference: ChangeScores
        /// The same after matching B's per-channel tile mean and spread to A's.
        var normalizedThreshold: Float
        var normalizedDifference: ChangeScores
        var allChange: ChangeScores
        /// Quantiles of mean |B − A| (0…1) on the training split: how large the nuisance
        /// differences (unchanged pixels) are next to the changes.
        var unchangedQuantiles: [String: Float]
        var changedQuantiles: [String: Float]
    }

    /// Pixel-difference baseline (threshold fitted on `train`) and the all-change prediction,
    /// both scored on `split`.
    static func baselines(data: URL, split name: String = "test", reading: RasterReading = RasterReading(),
                          resize: Bool = false) throws -> BaselineSummary {
        let train = ChangePairSource(try ChangeDataset.pairs(root: data, split: "train"), reading: reading, resize: resize, cacheBytes: 0)
        let test = ChangePairSource(try ChangeDataset.pairs(root: data, split: name), reading: reading, resize: resize, cacheBytes: 0)
        let fitted = try PixelDifferenceBaseline.fit(train)
        let normalized = try PixelDifferenceBaseline.fit(train, normalized: true)
        let h = try PixelDifferenceBaseline.histograms(train)
        func quantiles(_ hist: [Int]) -> [String: Float] {
            Dictionary(uniqueKeysWithValues: [0.1, 0.5, 0.95, 0.99].map { (String(format: "p%02.0f", $0 * 100), PixelDifferenceBaseline.quantile(hist, $0)) })
        }
        return BaselineSummary(threshold: fitted.threshold, trainF1: fitted.fitF1,
                               pixelDifference: ChangeScores(split: name, pairs: test.count, try fitted.evaluate(test)),
                               normalizedThreshold: normalized.threshold,
                               normalizedDifference: ChangeScores(split: name, pairs: test.count, try normalized.evaluate(test)),
                               allChange: ChangeScores(split: name, pairs: test.count, try PixelDifferenceBaseline.allChange(test)),
                               unchangedQuantiles: quantiles(h.unchanged), changedQuantiles: quantiles(h.changed))
    }

    /// `change-detect baseline --data DIR [--split test]`.
    static func baseline(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["data", "split", "bands"], flags: ["resize"])
        let data = URL(fileURLWithPath: try required(a, "data"))
        let s = try baselines(data: data, split: a.string("split", default: "test"), reading: try reading(a), resize: a.has("resize"))
        log(String(format: "pixel difference: threshold %.4f (train F1 %.4f) -> %@ IoU %.4f  F1 %.4f;  all-change: IoU %.4f  F1 %.4f",
                   s.threshold, s.trainF1, s.pixelDifference.split, s.pixelDifference.iou, s.pixelDifference.f1, s.allChange.iou, s.allChange.f1))
        log(String(format: "pixel difference after per-tile mean/std matching: threshold %.4f -> IoU %.4f  F1 %.4f",
                   s.normalizedThreshold, s.normalizedDifference.iou, s.normalizedDifference.f1))
        log("mean |B−A| on train, unchanged pixels: \(s.unchangedQuantiles.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", "));"
            + " changed: \(s.changedQuantiles.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", "))")
        try printJSON(s)
        return 0
    }
}

import Core
import Foundation

/// A linear probe of per-frame visual features: how much of the mouth shape (the viseme class)
/// a linear read-out can recover from them. It answers "are the frozen visual features
/// informative?" before blaming the model that reads them: softmax regression on standardised
/// features (mean and deviation from the training frames), full-batch AdamW, accuracy on frames
/// of held-out speakers, next to the majority-class rate.
public enum VisemeProbe {
    public struct Result: Sendable {
        public var trainAccuracy: Double
        public var testAccuracy: Double
        /// Accuracy of always answering the training frames' most frequent class on the test frames.
        public var majorityAccuracy: Double
        public var trainFrames: Int
        public var testFrames: Int
    }

    /// Fits on `train` (`[N, D]` features, labels `0..<classes`) and scores `test`. At most
    /// `maxFrames` training frames are used (evenly spaced), `steps` AdamW steps at `learningRate`.
    public static func fit(train: Tensor, trainLabels: [Int], test: Tensor, testLabels: [Int], classes: Int,
                           steps: Int = 300, learningRate: Double = 0.05, maxFrames: Int = 6000, seed: UInt64 = 0) throws -> Result {
        guard train.rank == 2, test.rank == 2, train.shape[1] == test.shape[1], train.shape[0] == trainLabels.count,
              test.shape[0] == testLabels.count, !trainLabels.isEmpty, !testLabels.isEmpty else {
            throw SpeechManifestError("viseme probe: features \(train.shape) / \(test.shape) do not match \(trainLabels.count) / \(testLabels.count) labels")
        }
        guard (trainLabels + testLabels).allSatisfy({ (0..<classes).contains($0) }) else {
            throw SpeechManifestError("viseme probe: labels must be in 0..<\(classes)")
        }
        let d = train.shape[1]
        let n = min(train.shape[0], maxFrames)
        let keep = (0..<n).map { $0 * train.shape[0] / n }
        var xs = [Float](repeating: 0, count: n * d)
        for (r, i) in keep.enumerated() { xs.replaceSubrange((r * d)..<((r + 1) * d), with: train.storage[(i * d)..<((i + 1) * d)]) }
        let ys = keep.map { trainLabels[$0] }
        // Standardise with the training statistics (a constant feature gets deviation 1).
        var mean = [Float](repeating: 0, count: d), std = [Float](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { mean[j] += xs[r * d + j] / Float(n) } }
        for r in 0..<n { for j in 0..<d { let z = xs[r * d + j] - mean[j]; std[j] += z * z / Float(n) } }
        std = std.map { $0 > 1e-12 ? $0.squareRoot() : 1 }
        func standardised(_ v: [Float], rows: Int) -> Tensor {
            var out = v
            for r in 0..<rows { for j in 0..<d { out[r * d + j] = (v[r * d + j] - mean[j]) / std[j] } }
            return Tensor(out, shape: [rows, d])
        }
        let x = standardised(xs, rows: n), xt = standardised(test.storage, rows: test.shape[0])
        var rng = SplitMix64(seed: seed)
        let w = Tensor.normal([classes, d], std: 0.01, using: &rng, requiresGrad: true)
        let b = Tensor.zeros([classes], requiresGrad: true)
        let opt = AdamW(learningRate: learningRate, weightDecay: 1e-4)
        for _ in 0..<steps {
            let loss = x.linear(weight: w, bias: b).crossEntropy(targets: ys)
            loss.backward()
            opt.step([("w", w), ("b", b)])
            opt.zeroGrad([("w", w), ("b", b)])
        }
        func accuracy(_ x: Tensor, _ y: [Int]) -> Double {
            let p = withoutGrad { x.linear(weight: w, bias: b) }.argmaxLastAxis()
            return Double(zip(p, y).filter { $0 == $1 }.count) / Double(y.count)
        }
        var counts = [Int](repeating: 0, count: classes)
        for y in ys { counts[y] += 1 }
        let majority = counts.indices.max { counts[$0] < counts[$1] } ?? 0
        return Result(trainAccuracy: accuracy(x, ys), testAccuracy: accuracy(xt, testLabels),
                      majorityAccuracy: Double(testLabels.filter { $0 == majority }.count) / Double(testLabels.count),
                      trainFrames: n, testFrames: testLabels.count)
    }
}

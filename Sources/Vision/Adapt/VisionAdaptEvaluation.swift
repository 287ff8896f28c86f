import Core
import Foundation

/// Held-out results of one adapter: accuracy, per-class accuracy, the confusion matrix.
public struct EvaluationReport: Codable, Sendable, Equatable {
    public struct ClassResult: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int
        public var correct: Int
        /// nil when the split has no image of the class.
        public var accuracy: Double?
    }

    /// What was evaluated ("test split" or "held-out remainder").
    public var split: String
    public var count: Int
    public var correct: Int
    public var accuracy: Double
    public var perClass: [ClassResult]
    /// `confusion[true][predicted]`, classes in label order.
    public var confusion: [[Int]]
    public var classes: [String]
    /// Files that could not be decoded and were left out.
    public var skipped: [String]
    public var seconds: Double

    /// Tallies `predictions` against `labels`.
    public init(split: String, classes: [String], labels: [Int], predictions: [Int], skipped: [String] = [], seconds: Double = 0) {
        precondition(labels.count == predictions.count, "one prediction per label")
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
        for (t, p) in zip(labels, predictions) { confusion[t][p] += 1 }
        let correct = zip(labels, predictions).filter { $0 == $1 }.count
        self.split = split
        self.count = labels.count
        self.correct = correct
        accuracy = labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
        perClass = classes.indices.map { c in
            let n = confusion[c].reduce(0, +)
            return ClassResult(name: classes[c], count: n, correct: confusion[c][c], accuracy: n == 0 ? nil : Double(confusion[c][c]) / Double(n))
        }
        self.confusion = confusion
        self.classes = classes
        self.skipped = skipped
        self.seconds = seconds
    }

    /// The confusion matrix as an image: one `cell`-pixel square per (true row, predicted
    /// column), shaded from white (0) to dark blue (the whole row), with grey grid lines and
    /// the diagonal outlined in green. Counts are in the JSON; the picture shows the pattern.
    public func confusionImage(cell: Int = 24) -> Image {
        let c = classes.count, side = c * cell + 1
        var img = Image(width: side, height: side, channels: 3, fill: 200)
        for t in 0..<c {
            let rowTotal = max(1, confusion[t].reduce(0, +))
            for p in 0..<c {
                let v = Double(confusion[t][p]) / Double(rowTotal)
                let rgb = [255 - v * (255 - 8), 255 - v * (255 - 48), 255 - v * (255 - 107)].map { UInt8($0.rounded()) }
                for y in (t * cell + 1)..<((t + 1) * cell) {
                    for x in (p * cell + 1)..<((p + 1) * cell) {
                        let diagonalEdge = t == p && (y == t * cell + 1 || y == (t + 1) * cell - 1 || x == p * cell + 1 || x == (p + 1) * cell - 1)
                        for ch in 0..<3 { img[y, x, ch] = diagonalEdge ? [40, 170, 60][ch] : rgb[ch] }
                    }
                }
            }
        }
        return img
    }
}

/// Mean and standard deviation over seeds.
public struct SeedStatistics: Codable, Sendable, Equatable {
    public var seeds: [UInt64]
    public var accuracies: [Double]
    public var mean: Double
    /// Sample standard deviation (n − 1); 0 for a single seed.
    public var std: Double

    public init(seeds: [UInt64], accuracies: [Double]) {
        self.seeds = seeds
        self.accuracies = accuracies
        let n = Double(accuracies.count)
        let m = accuracies.reduce(0, +) / max(n, 1)
        mean = m
        let ss = accuracies.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        std = accuracies.count > 1 ? (ss / (n - 1)).squareRoot() : 0
    }
}

/// One image's top-k classes.
public struct Prediction: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var className: String
        public var probability: Double
    }
    public var image: String
    public var top: [Entry]
}

extension VisionAdaptModel {
    /// Logits `[N, C]` of decoded images (evaluation preprocessing), in batches, without gradients.
    public func predictLogits(_ images: [Image], batch: Int = 32, progress: (Int) -> Void = { _ in }) throws -> Tensor {
        var rows: [Float] = []
        rows.reserveCapacity(images.count * classes.count)
        try withoutGrad {
            for start in stride(from: 0, to: images.count, by: batch) {
                let part = Array(images[start..<min(start + batch, images.count)])
                let x = VisionAdaptTrainer.pixels(part, size: imageSize, backbone: backbone, augmentation: nil, seeds: part.map { _ in 0 })
                rows += try logits(x).storage
                progress(start + part.count)
            }
        }
        return Tensor(rows, shape: [images.count, classes.count])
    }

    /// Evaluates on `samples` (decoded in parallel; undecodable files skipped with a line in
    /// `skipped`, or thrown with `strict`).
    public func evaluate(_ samples: [ImageSample], split: String, strict: Bool = false, log: (String) -> Void) throws -> EvaluationReport {
        let start = Date()
        let loaded = try ImageFolder.loadImages(samples, strict: strict)
        for line in loaded.skipped { log("warning: " + line) }
        guard !loaded.images.isEmpty else { throw DatasetError("no evaluation image could be decoded (\(samples.count) files)") }
        var lastLog = Date()
        let logits = try predictLogits(loaded.images) { done in
            if Date().timeIntervalSince(lastLog) > 20 {
                lastLog = Date()
                log("  evaluated \(done)/\(loaded.images.count)")
            }
        }
        return EvaluationReport(split: split, classes: classes, labels: loaded.labels, predictions: logits.argmaxLastAxis(),
                                skipped: loaded.skipped, seconds: Date().timeIntervalSince(start))
    }

    /// Top-`k` classes with softmax probabilities for each image file. A file that cannot be
    /// decoded throws, naming it.
    public func predict(_ files: [URL], topK: Int) throws -> [Prediction] {
        let images = try files.map { try ImageDecoder.decode(contentsOf: $0).rgb() }
        let probs = try predictLogits(images).softmax()
        let c = classes.count, k = min(max(topK, 1), c)
        return files.indices.map { i in
            let row = Array(probs.storage[(i * c)..<((i + 1) * c)])
            let order = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
            return Prediction(image: files[i].path, top: order.prefix(k).map { Prediction.Entry(className: classes[$0], probability: Double(row[$0])) })
        }
    }
}

import Core
import Foundation

/// Trains a `VisemeFront` with cross-entropy on per-frame viseme labels (the synthetic set's
/// `visemes` tensors) of the training split only, and scores its frame accuracy.
///
/// Every epoch rebuilds the inputs with a fresh seeded whole-pixel shift per utterance (|dx|, |dy| ≤
/// `maxShift`; faces move their mouth centre by ±1.5 px and scale it by ±15 %) and visits the
/// frames in a seeded shuffled order in mini-batches; AdamW, learning rate decayed linearly to 0.
public enum VisemeFrontTrainer {
    /// One utterance's frames `[T, H, W]` and its T viseme ids.
    public struct Utterance: Sendable {
        public var frames: Tensor
        public var labels: [Int]
        public var name: String
        public init(frames: Tensor, labels: [Int], name: String) {
            self.frames = frames; self.labels = labels; self.name = name
        }
    }

    public struct Options: Sendable, Equatable {
        public var epochs = 40
        public var batchSize = 256
        public var learningRate = 2e-3
        public var weightDecay = 1e-4
        public var maxShift = 2
        public var seed: UInt64 = 11
        public init() {}
    }

    public struct Report: Codable, Sendable {
        public var trainFrames: Int
        public var valFrames: Int
        public var epochLosses: [Float]
        public var trainAccuracy: Double
        /// Frame accuracy on the validation utterances (nil without any).
        public var valAccuracy: Double?
        /// Accuracy of always answering the training set's most frequent viseme, on the validation frames.
        public var valMajorityAccuracy: Double?
        public var seconds: Double
    }

    /// The frames and viseme labels of manifest items (the synthetic set's `<id>.frames.safetensors`).
    /// A frames file without `visemes`, or with a label count that differs from its frame count, is
    /// an error naming the file: the front end can only be trained on labelled frames.
    public static func utterances(_ items: [SpeechManifest.Item]) throws -> [Utterance] {
        try items.map { item in
            let url = SyntheticAVSet.framesURL(forAudio: item.audio)
            guard let frames = try SyntheticAVSet.frames(forAudio: item.audio) else {
                throw SpeechManifestError("\(url.path): no frames for this utterance; build the set with avsr-tune make-av-data")
            }
            guard let labels = try SyntheticAVSet.visemes(forAudio: item.audio) else {
                throw SpeechManifestError("\(url.path): no tensor 'visemes' (per-frame viseme labels); the viseme front end trains only on labelled frames — rebuild the set with avsr-tune make-av-data")
            }
            guard labels.count == frames.shape[0] else {
                throw SpeechManifestError("\(url.path): \(labels.count) viseme labels for \(frames.shape[0]) frames; they must match one to one")
            }
            return Utterance(frames: frames, labels: labels, name: url.path)
        }
    }

    /// Trains `front` in place on `train`; scores `val` at the end. Returns the report.
    @discardableResult
    public static func train(_ front: VisemeFront, train: [Utterance], val: [Utterance] = [], options o: Options = Options(),
                             log: (String) -> Void = { _ in }) throws -> Report {
        guard !train.isEmpty else { throw SpeechManifestError("viseme front: no training utterances") }
        guard o.epochs >= 0, o.batchSize >= 1, o.maxShift >= 0 else {
            throw SpeechManifestError("viseme front: epochs ≥ 0, batch ≥ 1 and max shift ≥ 0 required, got \(o)")
        }
        let classes = front.config.classes
        if let bad = train.first(where: { $0.labels.contains { $0 < 0 || $0 >= classes } }) {
            throw SpeechManifestError("\(bad.name): viseme ids must lie in 0..<\(classes)")
        }
        let started = Date()
        front.train()
        let params = front.trainableParameters()
        let opt = AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay)
        let labels = train.flatMap(\.labels), n = labels.count, width = front.config.inputWidth
        let batches = (n + o.batchSize - 1) / o.batchSize, total = max(1, o.epochs * batches)
        let root = SplitMix64(seed: o.seed)
        var losses: [Float] = []
        var step = 0
        for epoch in 0..<o.epochs {
            var rng = root.fork(UInt64(epoch + 1))
            var xs: [Float] = []
            xs.reserveCapacity(n * width)
            for u in train {
                let span = 2 * o.maxShift + 1
                let dx = Int(rng.next() % UInt64(span)) - o.maxShift, dy = Int(rng.next() % UInt64(span)) - o.maxShift
                xs += try VisemeFront.inputs(frames: u.frames, config: front.config, shift: (dx, dy), name: u.name).storage
            }
            let order = Array(0..<n).shuffledSeeded(&rng)
            var sum: Float = 0
            for b in 0..<batches {
                let rows = Array(order[(b * o.batchSize)..<min(n, (b + 1) * o.batchSize)])
                var bx = [Float](repeating: 0, count: rows.count * width)
                for (r, i) in rows.enumerated() { bx.replaceSubrange((r * width)..<((r + 1) * width), with: xs[(i * width)..<((i + 1) * width)]) }
                opt.learningRate = o.learningRate * (1 - Double(step) / Double(total))
                let loss = front.forward(Tensor(bx, shape: [rows.count, width])).logits.crossEntropy(targets: rows.map { labels[$0] })
                loss.backward()
                opt.step(params)
                opt.zeroGrad(params)
                sum += loss.item * Float(rows.count)
                step += 1
            }
            losses.append(sum / Float(n))
            log(String(format: "  viseme front epoch %d/%d: loss %.4f (%.1f s)", epoch + 1, o.epochs, sum / Float(n), Date().timeIntervalSince(started)))
        }
        front.eval()
        var counts = [Int](repeating: 0, count: classes)
        for y in labels { counts[y] += 1 }
        let majority = counts.indices.max { counts[$0] < counts[$1] } ?? 0
        let valLabels = val.flatMap(\.labels)
        return Report(trainFrames: n, valFrames: valLabels.count, epochLosses: losses, trainAccuracy: try accuracy(front, train),
                      valAccuracy: val.isEmpty ? nil : try accuracy(front, val),
                      valMajorityAccuracy: val.isEmpty ? nil : Double(valLabels.filter { $0 == majority }.count) / Double(max(1, valLabels.count)),
                      seconds: Date().timeIntervalSince(started))
    }

    /// Fraction of frames whose most likely viseme is the label.
    public static func accuracy(_ front: VisemeFront, _ us: [Utterance]) throws -> Double {
        var right = 0, all = 0
        for u in us {
            let p = try front.predict(frames: u.frames)
            right += zip(p, u.labels).filter { $0 == $1 }.count
            all += u.labels.count
        }
        return Double(right) / Double(max(1, all))
    }
}

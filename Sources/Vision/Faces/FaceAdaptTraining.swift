import Core
import Foundation

/// Training settings of `face-adapt`, defaults from PETALface's released script where they
/// transfer (methods.md section 4): rank 8, LoRA scale 1, dropout 0.1 after `up`, AdamW lr 5e-4
/// with weight decay 0.1, linear warmup then polynomial (power 1) decay, gradient-norm clip 5,
/// CosFace (s 64, m 0.4), random horizontal flip, seed 19.
///
/// Deviations, because ORL is 400 grey 92×112 photos rather than TinyFace: batch 16 instead of
/// 64 (30 training identities × 10 images); BatchNorm running statistics stay frozen for every
/// method (the reference's Swin has no BatchNorm in its blocks; re-estimating SFace's 28
/// BatchNorms from batches of 16 would shift the pretrained network); and the low-resolution
/// training data is simulated — each training image is drawn at a random probe size from
/// `trainSizes` every epoch (area-average down, bilinear back up), so the two experts see both
/// high- and low-quality inputs.
///
/// The classifier over the training identities starts from the frozen network's class means
/// (`classifierInit`, see `FaceClassifierInit`) instead of insightface's N(0, 0.01): with 30
/// identities and s = 64 a random head makes the first steps pull every embedding towards a
/// random direction, which wrecks the pretrained geometry before the head has learnt anything.
public struct FaceAdaptOptions: Codable, Sendable, Equatable {
    public var method: FaceAdaptMethod = .petal
    public var rank = 8
    public var loraScale: Float = 1
    public var dropout: Float = 0.1
    public var loss: FaceLossKind = .cosFace
    public var learningRate = 5e-4
    public var weightDecay = 0.1
    public var epochs = 10
    public var warmupEpochs = 1
    public var batchSize = 16
    public var clipNorm: Float = 5
    public var seed: UInt64 = 19
    /// Probe sizes drawn for training images (0 = full resolution).
    public var trainSizes = [0, 32, 24, 16, 12, 8]
    public var flip = true
    /// α = 0.5 + (q − τ) without clamping (the reference code), instead of the clamped spec.
    public var referenceAlpha = false
    /// The quality measure behind α. nil only in manifests written before BRISQUE was ported,
    /// which were trained with the effective-resolution measure (see `qualityMeasure`).
    public var quality: FaceQualityMeasure? = .brisque
    /// The measure in force: `quality`, or `sharpness` for a manifest that does not name one.
    public var qualityMeasure: FaceQualityMeasure { quality ?? .sharpness }
    /// How the margin classifier starts. nil only in manifests written before the option
    /// existed, which were trained with a random head (see `classifierStart`).
    public var classifierInit: FaceClassifierInit? = .classMeans
    /// The initialisation in force: `classifierInit`, or `random` for an older manifest.
    public var classifierStart: FaceClassifierInit { classifierInit ?? .random }

    public init(method: FaceAdaptMethod = .petal) { self.method = method }

    public func validate() throws {
        func bad(_ what: String) -> DatasetError { DatasetError("face-adapt options: \(what)") }
        guard method != .frozen else { throw bad("method 'frozen' has nothing to train; use eval --method frozen") }
        guard rank >= 1 else { throw bad("rank \(rank) must be at least 1") }
        guard dropout >= 0 && dropout < 1 else { throw bad("dropout \(dropout) must be in [0, 1)") }
        guard learningRate > 0, weightDecay >= 0 else { throw bad("lr must be positive and weight decay non-negative") }
        guard epochs >= 1, warmupEpochs >= 0, batchSize >= 2 else { throw bad("epochs ≥ 1, warmup ≥ 0 and batch ≥ 2 are needed") }
        guard !trainSizes.isEmpty, trainSizes.allSatisfy({ $0 >= 0 }) else { throw bad("train sizes must be 0 (full) or positive pixel counts") }
    }
}

/// The margin loss of training (`MarginLoss` with PETALface's constants).
public enum FaceLossKind: String, Codable, Sendable, CaseIterable {
    case cosFace = "cosface"
    case arcFace = "arcface"

    /// CosFace (s 64, m 0.4), or ArcFace (s 64, m 0.5) with insightface's straight-through margin.
    public var loss: MarginLoss {
        switch self {
        case .cosFace: return .cosFace(scale: 64, margin: 0.4)
        case .arcFace: return .arcFace(scale: 64, margin: 0.5, straightThrough: true)
        }
    }
}

/// The start of the margin classifier's class weights.
public enum FaceClassifierInit: String, Codable, Sendable, CaseIterable {
    /// Each identity's mean L2-normalised embedding of its training faces at full resolution,
    /// through the network as it starts (adapters are zero at first, so the frozen one). The
    /// margin loss then starts near its pretrained optimum and its gradient pulls the
    /// low-resolution copies towards their identity's high-resolution centre — the alignment
    /// PETALface is after — instead of towards random directions (weight imprinting; the same
    /// reason linear-probing before fine-tuning protects pretrained features, Kumar et al. 2022).
    case classMeans = "means"
    /// insightface Partial-FC: N(0, 0.01) (the reference code, which trains thousands of identities).
    case random
}

/// One decoded training face with its identity index.
public struct FaceSample: Sendable {
    public let image: Image
    public let label: Int
    public let file: String

    public init(image: Image, label: Int, file: String) {
        self.image = image
        self.label = label
        self.file = file
    }

    /// The network input at a probe size (nil or 0 = full resolution), optionally mirrored.
    public func input(side: Int, probeSize: Int?, flipped: Bool = false) throws -> [Float] {
        let size = probeSize == 0 ? nil : probeSize
        return try FacePreprocessing.sfaceInput(image, crop: .centeredSquare(width: image.width, height: image.height), side: side,
                                                probeSize: size, flipped: flipped, file: file)
    }
}

/// What one training run did.
public struct FaceTrainingLog: Codable, Sendable {
    public var steps = 0
    public var samplesSeen = 0
    /// Mean loss of each epoch.
    public var epochLoss: [Double] = []
    /// τ: mean quality of the training inputs over all training sizes.
    public var qualityThreshold: Float = 0
    public var trainableParameters = 0
    public var totalParameters = 0
    public var seconds = 0.0
    public var imagesPerSecond: Double { seconds > 0 ? Double(samplesSeen) / seconds : 0 }
}

/// The training loop of `face-adapt`: margin loss on a classifier over the training identities
/// (L2-normalised weights, N(0, 0.01) init as insightface's Partial-FC), AdamW on the
/// adapter's trainable tensors and the classifier, warmup + linear decay per step.
public enum FaceAdaptTraining {
    /// τ = mean q̃ of every training image at every training size (deterministic, before training).
    public static func qualityThreshold(_ samples: [FaceSample], sizes: [Int], side: Int, quality: FaceQualityScorer) throws -> Float {
        var total = 0.0, n = 0
        for s in samples {
            for size in sizes {
                total += Double(quality.score(sfaceInput: try s.input(side: side, probeSize: size), side: side))
                n += 1
            }
        }
        return n == 0 ? 0.5 : Float(total / Double(n))
    }

    /// `[classes, D]`: each identity's mean L2-normalised embedding of its full-resolution
    /// training faces under `adapter` as it is now (the `classMeans` classifier start).
    public static func classMeans(_ adapter: FaceAdapter, samples: [FaceSample], classes: Int) throws -> Tensor {
        let side = adapter.model.inputSize, d = adapter.model.embeddingSize
        let e = adapter.embed(try samples.map { try $0.input(side: side, probeSize: nil) })
        var sums = [Float](repeating: 0, count: classes * d), counts = [Int](repeating: 0, count: classes)
        for (i, s) in samples.enumerated() {
            guard s.label >= 0 && s.label < classes else { throw DatasetError("\(s.file): label \(s.label) outside 0..<\(classes)") }
            let row = e[(i * d)..<((i + 1) * d)]
            let norm = max(row.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            for (k, v) in row.enumerated() { sums[s.label * d + k] += v / norm }
            counts[s.label] += 1
        }
        for c in 0..<classes where counts[c] == 0 {
            throw DatasetError("face-adapt train: identity \(c) has no training image, so it has no class mean; use --classifier-init random")
        }
        for c in 0..<classes { for k in 0..<d { sums[c * d + k] /= Float(counts[c]) } }
        return Tensor(sums, shape: [classes, d])
    }

    /// Trains `adapter` on `samples` (labels 0..<classes). `log` gets one line per epoch.
    ///
    /// `run` checkpoints every `checkpointEvery` steps and at the end into `checkpointFolder`
    /// and continues a killed run from `resumeFrom` to bit-identical weights: the trainable
    /// tensors (adapter, selected weights, classifier), AdamW, the sampling generator, the
    /// epoch's order and the LoRA dropout generators are saved; the BatchNorm running
    /// statistics too, although every method keeps them frozen (so a change there is caught).
    public static func train(_ adapter: FaceAdapter, samples: [FaceSample], classes: Int, options o: FaceAdaptOptions,
                             run: TrainingRun = TrainingRun(), log: (String) -> Void = { _ in }) throws -> FaceTrainingLog {
        try o.validate()
        guard samples.count >= 2, classes >= 2 else {
            throw DatasetError("face-adapt train: needs at least 2 identities and 2 images, got \(classes) identities and \(samples.count) images")
        }
        let side = adapter.model.inputSize
        var result = FaceTrainingLog()
        let start = Date()
        adapter.referenceAlpha = o.referenceAlpha
        if adapter.quality.measure != o.qualityMeasure { adapter.quality = try FaceQualityScorer.load(o.qualityMeasure) }
        adapter.qualityThreshold = try qualityThreshold(samples, sizes: o.trainSizes, side: side, quality: adapter.quality)
        result.qualityThreshold = adapter.qualityThreshold
        let counts = adapter.parameterCounts
        result.trainableParameters = counts.trainable
        result.totalParameters = counts.total
        log(String(format: "%@: %d trainable of %d parameters (%.3f%%), τ = %.4f (%@), %d images of %d identities",
                   o.method.rawValue, counts.trainable, counts.total, 100 * Double(counts.trainable) / Double(max(counts.total, 1)),
                   adapter.qualityThreshold, o.qualityMeasure.rawValue, samples.count, classes))

        var rng = SplitMix64(seed: o.seed)
        let classifier: Tensor
        switch o.classifierStart {
        case .random: classifier = Tensor.normal([classes, adapter.model.embeddingSize], mean: 0, std: 0.01, using: &rng)
        case .classMeans: classifier = try classMeans(adapter, samples: samples, classes: classes)
        }
        classifier.requiresGrad = true
        let parameters = adapter.trainableParameters + [("classifier.weight", classifier)]
        let optimizer = AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay)
        let stepsPerEpoch = (samples.count + o.batchSize - 1) / o.batchSize
        let schedule = LRSchedule.linear(warmup: o.warmupEpochs * stepsPerEpoch, total: o.epochs * stepsPerEpoch)
        let loss = o.loss.loss

        let buffers = adapter.model.namedParameters().filter { $0.0.contains("running_") }
        let config = try ResumableRunConfig.config(options: o, extra: [
            "classes": "\(classes)", "train-images": "\(samples.count)",
            "data": ResumableRunConfig.fingerprint(images: samples.map(\.image), labels: samples.map(\.label)),
        ])
        let session = try TrainingSession(command: "face-adapt train", model: adapter.model, parameters: parameters, optimizer: optimizer,
                                          config: config, folder: run.checkpointFolder, every: run.checkpointEvery)
        var startEpoch = 0, startBatch = 0
        var order = Array(samples.indices), epochLoss = 0.0, batches = 0
        if let dir = run.resumeFrom {
            let file = TrainingCheckpoint.file(in: dir).path
            let checkpoint = try session.resume(from: dir, within: TrainingExtent(epochs: o.epochs, batchesPerEpoch: stepsPerEpoch, steps: o.epochs * stepsPerEpoch))
            let p = try FaceTrainingProgress.decode(checkpoint.progress, file: file, samples: samples.count)
            for (name, t) in buffers {
                guard let v = checkpoint.extraTensors["buffer/" + name], v.count == t.count else {
                    throw DatasetError("\(file): the checkpoint lacks BatchNorm statistics '\(name)'; train into a new --out folder")
                }
                t.storage = v.storage
            }
            rng.state = UInt64(p.rng, radix: 16) ?? 0
            order = p.order
            epochLoss = Double(bitPattern: p.epochLossSum)
            batches = p.batches
            result.steps = p.steps
            result.samplesSeen = p.samplesSeen
            result.epochLoss = p.epochLoss.map(Double.init(bitPattern:))
            startEpoch = checkpoint.position.epoch - 1
            startBatch = checkpoint.position.batchInEpoch
            log("resumed from \(file) at step \(result.steps) (epoch \(checkpoint.position.epoch), batch \(startBatch))")
        }
        func progress() throws -> String {
            try FaceTrainingProgress(rng: String(format: "%016llx", rng.state), order: order, epochLossSum: epochLoss.bitPattern, batches: batches,
                                     steps: result.steps, samplesSeen: result.samplesSeen, epochLoss: result.epochLoss.map(\.bitPattern)).json()
        }
        func tensors() -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: buffers.map { ("buffer/" + $0.0, Tensor($0.1.storage, shape: $0.1.shape)) })
        }

        for epoch in startEpoch..<max(startEpoch, o.epochs) {
            if epoch != startEpoch || startBatch == 0 {
                // A fresh epoch: new order and loss sums (a resumed epoch keeps its saved ones).
                order = Array(samples.indices)
                order.shuffle(using: &rng)
                epochLoss = 0
                batches = 0
            }
            var batch = epoch == startEpoch ? startBatch : 0
            var first = batch * o.batchSize
            while first < order.count {
                let idx = Array(order[first..<min(first + o.batchSize, order.count)])
                first += o.batchSize
                var values: [Float] = [], qualities: [Float] = [], targets: [Int] = []
                for i in idx {
                    let size = o.trainSizes[Int(rng.next() % UInt64(o.trainSizes.count))]
                    let flipped = o.flip && rng.next() & 1 == 1
                    let x = try samples[i].input(side: side, probeSize: size, flipped: flipped)
                    values += x
                    qualities.append(adapter.quality.score(sfaceInput: x, side: side))
                    targets.append(samples[i].label)
                }
                adapter.setTraining(true)
                let x = Tensor(values, shape: [idx.count, 3, side, side])
                let l = loss.loss(embeddings: adapter.forward(x, qualities: qualities), classWeights: classifier, targets: targets)
                guard l.item.isFinite else {
                    throw DatasetError("face-adapt train: loss became \(l.item) at epoch \(epoch + 1), step \(result.steps + 1); lower --lr")
                }
                for (_, p) in parameters { p.zeroGrad() }
                l.backward()
                _ = clipGradNorm(parameters, maxNorm: o.clipNorm)
                optimizer.learningRate = schedule.learningRate(at: result.steps, base: o.learningRate)
                optimizer.step(parameters)
                result.steps += 1
                result.samplesSeen += idx.count
                epochLoss += Double(l.item)
                batches += 1
                batch += 1
                try session.checkpointIfDue(TrainingPosition(step: result.steps, epoch: epoch + 1, batchInEpoch: batch),
                                            progress: try progress(), extraTensors: tensors())
            }
            result.epochLoss.append(epochLoss / Double(max(batches, 1)))
            log(String(format: "epoch %d/%d: loss %.4f (%.1f images/s)", epoch + 1, o.epochs, result.epochLoss.last!,
                       Double(result.samplesSeen) / Date().timeIntervalSince(start)))
        }
        // Epoch-end state: a resume from here trains nothing more.
        try session.checkpoint(TrainingPosition(step: result.steps, epoch: o.epochs + 1, finished: true), progress: try progress(), extraTensors: tensors())
        adapter.setTraining(false)
        result.seconds = Date().timeIntervalSince(start)
        return result
    }
}

import Core
import Foundation

/// How a CrossTune training run checkpoints, resumes and splits its batches over ranks (see
/// docs/distributed.md). The default is what `CrossTuneTrainer.fit` did before: one process,
/// no checkpoint, no resume.
public typealias CrossTuneRun = TrainingRun

extension TrainingRun {
    /// The settings a resume must share: every option (one key each, so a refusal names it)
    /// and hashes of the training, dev and label features with their labels.
    static func config(options o: CrossTuneOptions, train: [TokenFeatures], trainLabels: [Int], dev: [TokenFeatures], devLabels: [Int],
                       labelFeatures: Tensor?) -> [String: String] {
        [
            "option.epochs": "\(o.epochs)", "option.lr": "\(o.learningRate)", "option.weight-decay": "\(o.weightDecay)",
            "option.batch": "\(o.batchSize)", "option.hidden": "\(o.hiddenDim)", "option.heads": "\(o.heads)",
            "option.dropout": "\(o.dropout)", "option.descriptions": "\(o.useDescriptions)", "option.seed": "\(o.seed)",
            "train-data": hash(train, trainLabels), "dev-data": hash(dev, devLabels),
            "label-features": labelFeatures.map { hash([TokenFeatures(tokens: $0.shape[0], dim: $0.count / max($0.shape[0], 1), values: $0.storage)], []) } ?? "none",
        ]
    }

    /// FNV-1a-64 of every item's shape, Float bits and label, in order.
    static func hash(_ items: [TokenFeatures], _ labels: [Int]) -> String {
        var h = FNV1a64()
        for (i, item) in items.enumerated() {
            h.mix(UInt64(item.tokens)); h.mix(UInt64(item.dim))
            if i < labels.count { h.mix(UInt64(labels[i])) }
            h.mix(item.values)
        }
        return h.hex
    }
}

/// The loop's state beside weights, AdamW and dropout generators: the shuffling generator as
/// the current epoch began (the epoch's order is rebuilt from it), the epoch's loss sum, and
/// the best dev epoch so far (its weights travel as checkpoint tensors `best/<name>`).
struct CrossTuneProgress: Codable {
    var epochRNG: String
    var lossSum: UInt64
    var bestAccuracy: UInt64?
    var bestLoss: UInt64?
    var bestEpoch: Int

    init(epochRNG: UInt64, lossSum: Double, best: (acc: Double, loss: Double)?, bestEpoch: Int) {
        self.epochRNG = String(format: "%016llx", epochRNG)
        self.lossSum = lossSum.bitPattern
        bestAccuracy = best?.acc.bitPattern
        bestLoss = best?.loss.bitPattern
        self.bestEpoch = bestEpoch
    }

    func json() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }

    static func decode(_ text: String, file: String) throws -> CrossTuneProgress {
        guard let p = try? JSONDecoder().decode(CrossTuneProgress.self, from: Data(text.utf8)), UInt64(p.epochRNG, radix: 16) != nil else {
            throw CrossTuneError("\(file): the checkpoint's progress record is not crosstune's; train into a new --out folder")
        }
        return p
    }
}

/// A feature source for data-parallel runs: rank 0 asks the black box first (and fills the
/// shared feature cache), the others wait at a barrier and then read the same features, mostly
/// from that cache, so N ranks do not send N copies of every request. Every rank must request
/// the same texts in the same order (they run the same experiment). One process: `inner` itself.
public final class LeaderFirstFeatureSource: TextFeatureSource {
    public let inner: any TextFeatureSource
    public let world: any Distributed
    public var endpointID: String { inner.endpointID }
    public var modelID: String { inner.modelID }
    public var apiCalls: Int { inner.apiCalls }

    public init(_ inner: any TextFeatureSource, world: any Distributed) {
        self.inner = inner
        self.world = world
    }

    public func features(_ texts: [String], kind: FeatureKind) throws -> [TokenFeatures] {
        guard world.size > 1 else { return try inner.features(texts, kind: kind) }
        if world.isLeader {
            let f = try inner.features(texts, kind: kind)
            try world.barrier()
            return f
        }
        try world.barrier()
        return try inner.features(texts, kind: kind)
    }
}

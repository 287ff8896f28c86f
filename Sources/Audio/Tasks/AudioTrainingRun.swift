import Core
import Foundation

/// How an `audio-adapt train` run checkpoints, resumes and splits its batches over ranks (see
/// docs/distributed.md). The default is what the trainer did before: one process, no
/// checkpoint, no resume.
public typealias AudioTrainingRun = TrainingRun

extension TrainingRun {
    /// The settings a resume must share with the checkpointed run: every training option and
    /// every PETL option (one key each, so a refusal names the one that differs), the labels,
    /// and hashes of the training and validation inputs (another data folder, `--frames`,
    /// `--augment` or shot selection changes them).
    static func config(options: AudioTrainOptions, petl: PETLConfig, labels: [String], train: LoadedClips, validation: LoadedClips) throws -> [String: String] {
        var config: [String: String] = [:]
        func add<T: Encodable>(_ value: T, prefix: String) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let fields = try JSONSerialization.jsonObject(with: try encoder.encode(value)) as? [String: Any] else { return }
            for (key, v) in fields {
                let text = (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? "\(v)"
                config[prefix + key] = text
            }
        }
        try add(options, prefix: "option.")
        try add(petl, prefix: "petl.")
        config["labels"] = labels.joined(separator: ",")
        config["train-data"] = inputHash(train)
        config["validation-data"] = inputHash(validation)
        return config
    }

    /// FNV-1a-64 over every input's shape and Float bits and its label, in order.
    static func inputHash(_ clips: LoadedClips) -> String {
        var h = FNV1a64()
        for (x, label) in zip(clips.features, clips.labels) {
            h.mix(UInt64(label))
            for d in x.shape { h.mix(UInt64(d)) }
            h.mix(x.storage)
        }
        return h.hex
    }
}

/// The loop's own state a resume needs beside weights and optimizer: the shuffling/SpecAugment
/// generator (its state when the current epoch began, to rebuild the epoch's order, and now),
/// the epoch's running loss sum, the epoch history and which epoch is best so far (its
/// weights travel as checkpoint tensors `best/<name>`). Exact bits throughout.
struct AudioTrainingProgress: Codable {
    var epochRNG: String
    var rng: String
    var lossSum: UInt64
    var history: [EpochRecord]
    var bestAccuracy: UInt64?
    var bestLoss: UInt64?
    var bestEpoch: Int?

    init(epochRNG: UInt64, rng: UInt64, lossSum: Double, history: [EpochRecord], best: (accuracy: Double, loss: Double, epoch: Int)?) {
        self.epochRNG = String(format: "%016llx", epochRNG)
        self.rng = String(format: "%016llx", rng)
        self.lossSum = lossSum.bitPattern
        self.history = history
        bestAccuracy = best?.accuracy.bitPattern
        bestLoss = best?.loss.bitPattern
        bestEpoch = best?.epoch
    }

    func json() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }

    static func decode(_ text: String, file: String) throws -> AudioTrainingProgress {
        guard let p = try? JSONDecoder().decode(AudioTrainingProgress.self, from: Data(text.utf8)),
              UInt64(p.epochRNG, radix: 16) != nil, UInt64(p.rng, radix: 16) != nil else {
            throw AudioDatasetError("\(file): the checkpoint's progress record is not audio-adapt's; train into a new --out folder")
        }
        return p
    }

    var epochRNGState: UInt64 { UInt64(epochRNG, radix: 16) ?? 0 }
    var rngState: UInt64 { UInt64(rng, radix: 16) ?? 0 }
    var best: (accuracy: Double, loss: Double, epoch: Int)? {
        guard let a = bestAccuracy, let l = bestLoss, let e = bestEpoch else { return nil }
        return (Double(bitPattern: a), Double(bitPattern: l), e)
    }
}

extension AudioClassificationTask {
    /// Encoder outputs of every input (as `encodeAll`), the batches shared out over the ranks:
    /// batch b is encoded by rank b mod N with exactly the single-process batching, and one
    /// all-reduce per batch (the other ranks contribute zeros) gives every rank the same,
    /// bit-identical outputs. One process: `encodeAll` itself.
    static func encodeAll(_ model: PETLClassifier, _ inputs: [Tensor], batchSize: Int, world: any Distributed) throws -> [Tensor] {
        guard world.size > 1 else { return try encodeAll(model, inputs, batchSize: batchSize) }
        var out: [Tensor] = []
        for (b, start) in stride(from: 0, to: inputs.count, by: batchSize).enumerated() {
            let range = start..<min(inputs.count, start + batchSize)
            let mine = b % world.size == world.rank
            let encoded = mine ? try encodeAll(model, Array(inputs[range]), batchSize: batchSize) : []
            // The owner announces the per-item shape (tokens, width), then the values.
            var shape: [Float] = mine ? encoded[0].shape.map(Float.init) : [0, 0]
            guard shape.count == 2 else { throw AudioDatasetError("encoder output of rank \(world.rank) has shape \(encoded[0].shape), expected [tokens, width]") }
            try world.allReduceSum(&shape)
            let itemShape = shape.map { Int($0) }, per = itemShape[0] * itemShape[1]
            var values = [Float](repeating: 0, count: range.count * per)
            if mine { for (i, t) in encoded.enumerated() { values.replaceSubrange((i * per)..<((i + 1) * per), with: t.storage) } }
            try world.allReduceSum(&values)
            for i in 0..<range.count { out.append(Tensor(Array(values[(i * per)..<((i + 1) * per)]), shape: itemShape)) }
        }
        return out
    }
}

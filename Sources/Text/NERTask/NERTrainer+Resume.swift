import Core
import Foundation

/// What `NERTrainer` keeps in a training checkpoint beyond weights, optimizer, position and
/// generators (which `TrainingSession` saves): the per-epoch history, the best dev score so
/// far (its weights go in the checkpoint's extra tensors as `best/<name>`), the patience
/// counter and the running sums of the epoch in progress.
struct NERResumeState: Codable, Equatable {
    var history: [NERRunResults.Epoch] = []
    var bestEpoch: Int?
    var bestF1: Double?
    var sinceBest = 0
    var stoppedEarly = false
    /// Sums of the epoch in progress (loss over steps, steps, window tokens).
    var lossSum = 0.0
    var lossCount = 0
    var windowTokens = 0
    var trainedTokens = 0
    var trainSeconds = 0.0

    func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    static func decode(_ json: String, file: String) throws -> NERResumeState {
        do {
            return try JSONDecoder().decode(NERResumeState.self, from: Data(json.utf8))
        } catch {
            throw TrainingCheckpointError.notACheckpoint(file: file, detail: "its ner-tune progress record is unreadable (\(error.localizedDescription))")
        }
    }
}

extension NERTrainer {
    /// The settings a resumed run must share with the checkpoint, under their command-line
    /// names, plus hashes of the training and dev data (their order and content decide every
    /// batch and every best-epoch choice). `--log-every`, `--checkpoint-every` and the number of
    /// ranks may change between the runs.
    static func checkpointConfig(_ o: NERTrainingOptions, labels: NERLabels, train: CoNLLFile, dev: CoNLLFile) -> [String: String] {
        func dataHash(_ f: CoNLLFile) -> String {
            ModelFingerprint.of(strings: f.sentences.flatMap { $0.tokens + ["\u{1}"] + $0.tags + ["\u{2}"] })
        }
        return [
            "method": o.method.rawValue, "r": "\(o.rank)", "alpha": "\(o.alpha)", "target": o.targets.joined(separator: ","),
            "epochs": "\(o.epochs)", "lr": "\(o.effectiveLearningRate)", "batch": "\(o.batchSize)", "max-length": "\(o.maxLength)",
            "window-overlap": "\(o.windowOverlap)", "warmup": "\(o.warmupRatio)", "weight-decay": "\(o.weightDecay)",
            "max-grad-norm": "\(o.maxGradNorm)", "patience": "\(o.patience)", "seed": "\(o.seed)",
            "labels": labels.labels.joined(separator: " "), "train-data": dataHash(train), "dev-data": dataHash(dev),
        ]
    }

    /// The best weights as checkpoint extras.
    static func bestTensors(_ params: [(String, Tensor)], _ weights: [[Float]]?) -> [String: Tensor] {
        guard let weights else { return [:] }
        var out: [String: Tensor] = [:]
        for ((name, p), w) in zip(params, weights) { out["best/" + name] = Tensor(w, shape: p.shape) }
        return out
    }

    /// The best weights back from checkpoint extras (nil when the checkpoint has none for some parameter).
    static func bestWeights(_ params: [(String, Tensor)], from ckpt: TrainingCheckpoint) -> [[Float]]? {
        var out: [[Float]] = []
        for (name, p) in params {
            guard let t = ckpt.extraTensors["best/" + name], t.count == p.count else { return nil }
            out.append(t.storage)
        }
        return out
    }
}

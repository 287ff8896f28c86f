import Audio
import Core
import Foundation

/// `avsr-tune train-visual`: the viseme front end (`VisemeFront`), and the choice of video features
/// for Omni-AVSR — frozen DINOv2 (`AVSRVisualCommand.visualFeatures`) or a trained viseme front end
/// (`train --video --visual-front FRONT`, whose copy travels in the adapter folder).
enum AVSRVisualFrontCommand {
    static func log(_ s: String) { AVSRTuneCommand.log(s) }

    /// The front end's copy inside an adapter folder, so `eval` reads the video exactly as training did.
    static let frontFileName = "visual_front.safetensors"
    /// `AVSRTrainingOptions.visualFeatures` of an adapter trained on a viseme front end's output.
    static let kindPrefix = "viseme-"

    // MARK: - train-visual

    /// Trains on `<data>/train.tsv` (labels of the training voices only), scores `<data>/val.tsv`
    /// (the held-out voice), writes FRONT and `FRONT` with extension `.json` (the report).
    static func trainVisual(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["data", "out", "epochs", "batch", "lr", "seed", "hidden", "context", "pool", "shift", "limit"], flags: [])
        guard let out = a.string("out") else { throw ArgumentError.missingRequired("out (the front end's .safetensors file)") }
        let folder = URL(fileURLWithPath: a.string("data", default: AVSRVisualCommand.defaultFolder))
        let limit = try a.int("limit", default: Int.max)
        func split(_ name: String) throws -> [VisemeFrontTrainer.Utterance] {
            let items = try SpeechManifest(contentsOf: folder.appendingPathComponent(name + ".tsv")).items
            return try VisemeFrontTrainer.utterances(AVSRTrainCommand.evenlySpaced(items, limit))
        }
        let train = try split("train"), val = try split("val")
        guard let size = train.first?.frames.shape[1] else { throw SpeechManifestError("\(folder.path)/train.tsv: no utterances") }
        let config = VisemeFront.Config(size: size, pool: try a.int("pool", default: 4), context: try a.int("context", default: 2),
                                        hidden: try a.int("hidden", default: 256))
        var o = VisemeFrontTrainer.Options()
        o.epochs = try a.int("epochs", default: o.epochs)
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.learningRate = Double(try a.float("lr", default: Float(o.learningRate)))
        o.seed = UInt64(try a.int("seed", default: Int(o.seed)))
        o.maxShift = try a.int("shift", default: o.maxShift)
        let front = try VisemeFront(config: config, seed: o.seed)
        log("viseme front end: \(train.count) training utterances, \(val.count) validation (held-out voice) of \(folder.path); input \(config.inputWidth), hidden \(config.hidden)")
        let cpu = AVSRTuneCommand.processCPUSeconds()
        let r = try VisemeFrontTrainer.train(front, train: train, val: val, options: o, log: log)
        let url = URL(fileURLWithPath: out)
        try front.save(to: url, metadata: ["train_data": folder.path, "val_accuracy": r.valAccuracy.map { String(format: "%.4f", $0) } ?? "none"])
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(Array(try e.encode(r)), to: url.deletingPathExtension().appendingPathExtension("json"))
        print(String(format: "viseme front end → %@: train frame accuracy %.3f (%d frames), held-out voice (val) %.3f (%d frames; majority class %.3f); %.1f s, %.1f CPU s",
                     url.path, r.trainAccuracy, r.trainFrames, r.valAccuracy ?? .nan, r.valFrames, r.valMajorityAccuracy ?? .nan, r.seconds,
                     AVSRTuneCommand.processCPUSeconds() - cpu))
        return 0
    }

    // MARK: - video features

    /// The front end's per-frame output for every item, `[T, D]` each.
    static func features(_ items: [SpeechManifest.Item], front: VisemeFront, output: VisemeFront.Output) throws -> [Tensor] {
        try items.map { item in
            try front.features(frames: try AVSRVisualCommand.requiredFrames(item), output: output,
                               name: SyntheticAVSet.framesURL(forAudio: item.audio).path)
        }
    }

    /// The output kind named by `--visual-features` next to `--visual-front` (default posteriors).
    static func output(_ name: String) throws -> VisemeFront.Output {
        guard let o = VisemeFront.Output(rawValue: name) else {
            throw ArgumentError.badValue("visual-features", name, expected: "with --visual-front: " + VisemeFront.Output.allCases.map(\.rawValue).joined(separator: " or "))
        }
        return o
    }

    /// Video features for training: with `--visual-front FRONT` the front end's output (and the
    /// options' kind becomes `viseme-<output>`), otherwise frozen DINOv2's. Returns the front end's
    /// file too, for the adapter folder.
    /// An utterance without frames gets nil (it trains the ASR task only, with a warning), or with
    /// `--strict` stops the run naming its file.
    static func trainingFeatures(_ a: Arguments, items: [SpeechManifest.Item], options o: inout AVSRTrainingOptions) throws -> ([Tensor?], URL?) {
        let consequence = "they train the ASR task only"
        guard let path = a.string("visual-front") else {
            let kind = o.visualFeatures ?? "cls"
            return (try AVSRVisualCommand.featuresWhereFramesExist(items, strict: a.has("strict"), consequence: consequence) {
                try AVSRVisualCommand.visualFeatures($0, kind: kind)
            }, nil)
        }
        let out = try output(a.string("visual-features", default: VisemeFront.Output.posteriors.rawValue))
        let front = try VisemeFront.load(URL(fileURLWithPath: path))
        o.visualFeatures = kindPrefix + out.rawValue
        log("video features: viseme front end \(path) (\(out.rawValue), width \(out == .hidden ? front.config.hidden : front.config.classes))")
        return (try AVSRVisualCommand.featuresWhereFramesExist(items, strict: a.has("strict"), consequence: consequence) {
            try features($0, front: front, output: out)
        }, URL(fileURLWithPath: path))
    }

    /// Copies the front end's file byte for byte (its provenance metadata included) into the
    /// adapter folder, atomically.
    static func copyFront(_ source: URL, into adapter: URL) throws {
        try AtomicFile.write(Array(try Data(contentsOf: source)), to: adapter.appendingPathComponent(frontFileName))
    }

    /// Video features for evaluating the adapter in `adapter`, read as it was trained.
    static func evaluationFeatures(_ items: [SpeechManifest.Item], kind: String?, adapter: URL) throws -> [Tensor] {
        guard let kind, kind.hasPrefix(kindPrefix) else { return try AVSRVisualCommand.visualFeatures(items, kind: kind ?? "cls") }
        let front = try VisemeFront.load(adapter.appendingPathComponent(frontFileName))
        return try features(items, front: front, output: try output(String(kind.dropFirst(kindPrefix.count))))
    }
}

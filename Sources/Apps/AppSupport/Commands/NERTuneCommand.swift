import Core
import Foundation
import Text

/// `ner-tune`: named-entity recognition by parameter-efficient fine-tuning of a BERT-family
/// encoder on CoNLL files (train / eval / predict), and the builder of the embedded WordNet
/// silver-standard data. The work is done by `Text`'s NER task; this file only parses arguments.
public enum NERTuneCommand: Command {
    public static let name = "ner-tune"
    /// `train` and `dapt` split each batch over MPI ranks; the other subcommands do not train.
    public static let supportsDistributed = true
    public static let usage = """
        usage: ner-tune <command> [options]

        commands:
          train          fine-tune a token classifier and save it as a PEFT adapter folder
            --train F      training CoNLL file          (default data/text/train.conll)
            --dev F        dev CoNLL file, scored every epoch (default data/text/dev.conll)
            --test F       test CoNLL file, scored once with the best checkpoint
                           (default data/text/test.conll when --train is not given)
            --model DIR    Hugging Face BERT-family folder (default: the installed all-MiniLM-L6-v2)
            --method M     lora (default) | dora | full | head
            --r N --alpha X --target LIST   LoRA/DoRA rank (8), alpha (16), modules (query,value)
            --epochs N (\(NERTrainingOptions().epochs))  --lr X (lora/dora 2e-3, head 5e-3, full 5e-5)  --batch B (\(NERTrainingOptions().batchSize))
            --max-length N (\(NERTrainingOptions().maxLength))  --warmup R (\(NERTrainingOptions().warmupRatio))  --weight-decay X (\(NERTrainingOptions().weightDecay))
            --patience N (\(NERTrainingOptions().patience), 0 = never stop early)  --seed S (\(NERTrainingOptions().seed))
            --out DIR      output folder (default runs/ner-<method>): adapter_config.json,
                           adapter_model.safetensors, label_map.json, results.json,
                           training_checkpoint.safetensors
            --checkpoint-every N  training checkpoint every N steps and at the end (200; 0 = end only)
            --resume DIR   continue the run whose --out folder (checkpoint) is DIR; same options
                           required. Under `mpirun -np N` the ranks split each --batch (see README)
            --threads N    threads per process (each MPI rank), our loops and OpenBLAS
                           (default: PEFTKIT_THREADS, else the CPUs the process may run on)
          eval           score an adapter on a CoNLL file (seqeval default and strict IOB2)
            --adapter DIR --data F [--model DIR] [--json F]
          predict        tag a CoNLL file (first column = tokens; other columns kept as gold
                         when the file has tags), writing `token [gold] predicted` lines
            --adapter DIR --input F --output F [--model DIR]
          build-wordnet  rebuild the embedded silver-standard data from WordNet 3.0
            --out DIR (data/text) --wordnet DIR (/usr/share/wordnet)
            --train-size N (2000) --dev-size N (400) --test-size N (400) --seed S (2003)
          dapt           domain-adaptive pre-training: masked-LM with LoRA on unlabelled text,
                         perplexity on a fixed held-out split before/after, verified merge, and
                         a plain Hugging Face BERT folder (config.json, model.safetensors,
                         vocab.txt) for `train --model`
            --text FILES…  .txt (one document per line) or .jsonl ("text" field); required
            --out DIR      output model folder (required)   --model DIR (default all-MiniLM-L6-v2)
            --r N (16) --alpha X (32) --dropout P (0.05) --target LIST (query,key,value,attention.output.dense)
            --max-len N (128) --batch B (16) --epochs N (1) --max-steps N --lr X (5e-4) --warmup R (0.06)
            --weight-decay X (0.01) --mlm-probability P (0.15) --whole-word --held-out R (0.05)
            --seed S (42) --encoding utf8|latin1  --head-warmup N (0: steps fitting a new MLM head alone first)
            --checkpoint-every N (200; 0 = end only)  --resume DIR (continue from DIR's training_checkpoint.safetensors)
            --threads N (per process / MPI rank)
          build-dapt-text  WordNet glosses disjoint from the NER data, one per line (< 1 MB)
            --out F (data/text/dapt.txt) --wordnet DIR --ner-data DIR (data/text) --max-bytes N (900000) --seed S (2024)
        \(NERCompareTask.usage)
        """

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first else {
            print(usage)
            return 2
        }
        let rest = Array(args.dropFirst())
        switch sub {
        case "build-wordnet": return try buildWordNet(rest)
        case "train": return try train(rest)
        case "eval": return try evaluate(rest)
        case "predict": return try predict(rest)
        case "dapt": return try dapt(rest)
        case "build-dapt-text": return try buildDAPTText(rest)
        case "compare": return try NERCompareTask.command(rest)
        default:
            throw ArgumentError.badValue("command", sub, expected: "one of train, eval, predict, build-wordnet, dapt, build-dapt-text, compare")
        }
    }

    /// Positional words after the subcommand are mistakes (`ner-tune train data.conll`).
    static func noPositional(_ parsed: Arguments, _ sub: String) throws {
        if let extra = parsed.positional.first {
            throw NERTuneError("unexpected argument '\(extra)' after '\(sub)'; options are written --name value (see ner-tune --help)")
        }
    }

    // MARK: - build-wordnet

    static func buildWordNet(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: ["out", "wordnet", "train-size", "dev-size", "test-size", "seed"], flags: [])
        try noPositional(p, "build-wordnet")
        var b = WordNetNERBuilder()
        b.wordnetDirectory = p.string("wordnet", default: WordNetReader.defaultDirectory)
        b.trainCount = try p.int("train-size", default: b.trainCount)
        b.devCount = try p.int("dev-size", default: b.devCount)
        b.testCount = try p.int("test-size", default: b.testCount)
        b.seed = try p.uint64("seed", default: b.seed)
        let out = p.string("out", default: "data/text")
        let corpus = try b.build()
        try corpus.write(to: URL(fileURLWithPath: out))
        print("wrote \(WordNetNERCorpus.fileNames.joined(separator: ", ")) to \(out) (\(corpus.nameCount) entity names; \(corpus.candidateCounts.withEntities) candidate sentences with entities, \(corpus.candidateCounts.without) without)")
        print(corpus.summary())
        return 0
    }

    // MARK: - train / eval / predict

    static let trainOptions: Set<String> = [
        "train", "dev", "test", "model", "method", "r", "alpha", "target", "epochs", "lr", "batch", "max-length",
        "warmup", "weight-decay", "patience", "seed", "out", "log-every", "checkpoint-every", "resume", ThreadsOption.key,
    ]

    /// Parses `train` options into settings (separate from running, so tests can check it).
    static func trainingOptions(_ p: Arguments) throws -> NERTrainingOptions {
        var o = NERTrainingOptions()
        if let m = p.string("method") {
            guard let method = NERMethod(rawValue: m) else {
                throw ArgumentError.badValue("method", m, expected: "one of \(NERMethod.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            o.method = method
        }
        o.rank = try p.int("r", default: o.rank)
        o.alpha = try p.float("alpha", default: o.alpha)
        o.targets = p.list("target", default: o.targets)
        o.epochs = try p.int("epochs", default: o.epochs)
        if p.string("lr") != nil { o.learningRate = try double(p, "lr", default: 0) }
        o.batchSize = try p.int("batch", default: o.batchSize)
        o.maxLength = try p.int("max-length", default: o.maxLength)
        o.warmupRatio = try double(p, "warmup", default: o.warmupRatio)
        o.weightDecay = try double(p, "weight-decay", default: o.weightDecay)
        o.patience = try p.int("patience", default: o.patience)
        o.seed = try p.uint64("seed", default: o.seed)
        o.logEvery = try p.int("log-every", default: o.logEvery)
        try o.validate()
        return o
    }

    /// A Double option (`Arguments.float` would round 2e-3 to 0.0020000000949949026).
    static func double(_ p: Arguments, _ key: String, default d: Double) throws -> Double {
        guard let s = p.string(key) else { return d }
        guard let v = Double(s), v.isFinite else { throw ArgumentError.badValue(key, s, expected: "a number") }
        return v
    }

    static func train(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: trainOptions, flags: [])
        try noPositional(p, "train")
        let o = try trainingOptions(p)
        try ThreadsOption.apply(p)
        // The embedded data is the default as a whole: its test split is used only when the
        // training file is also the default one.
        let trainPath = p.string("train", default: "data/text/train.conll")
        let devPath = p.string("dev", default: "data/text/dev.conll")
        let testPath = p.string("test") ?? (p.string("train") == nil ? "data/text/test.conll" : nil)
        let out = p.string("out", default: "runs/ner-\(o.method.rawValue)")
        // Data first: a bad file is reported before seconds go into loading the model.
        let reader = CoNLLReader()
        let train = try reader.read(path: trainPath)
        let dev = try reader.read(path: devPath)
        let test = try testPath.map { try reader.read(path: $0) }
        let model = try p.string("model") ?? DefaultModels.miniLM()
        let trainer = NERTrainer(options: o, log: printError)
        trainer.checkpointEvery = try p.int("checkpoint-every", default: trainer.checkpointEvery)
        guard trainer.checkpointEvery >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(trainer.checkpointEvery)", expected: "a number of steps ≥ 0") }
        trainer.resumeFrom = p.string("resume").map { URL(fileURLWithPath: $0) }
        trainer.world = try DistributedWorld.current()
        let (_, results) = try trainer.run(modelFolder: model, train: train, dev: dev, test: test, output: URL(fileURLWithPath: out))
        guard trainer.world.isLeader else { return 0 }
        let best = results.dev.seqevalDefault.micro
        print(String(format: "dev F1 %.4f (best epoch %d)", best.f1, results.bestEpoch))
        if let t = results.test {
            print(String(format: "test F1 %.4f (P %.4f R %.4f), strict IOB2 F1 %.4f", t.seqevalDefault.micro.f1,
                         t.seqevalDefault.micro.precision, t.seqevalDefault.micro.recall, t.seqevalStrictIOB2.micro.f1))
        }
        print(String(format: "trained in %.1f s (%.0f tokens/s), wall %.1f s; adapter and results.json in ", results.trainSeconds,
                     results.trainTokensPerSecond, results.wallSeconds) + out)
        return 0
    }

    static func evaluate(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: ["adapter", "data", "model", "json", "batch"], flags: [])
        try noPositional(p, "eval")
        guard let adapter = p.string("adapter") else { throw ArgumentError.missingRequired("adapter") }
        guard let data = p.string("data") else { throw ArgumentError.missingRequired("data") }
        let tagger = try NERTagger.load(adapter: adapter, model: p.string("model"))
        tagger.batchSize = try p.int("batch", default: tagger.batchSize)
        let file = try CoNLLReader().read(path: data)
        let (e, _) = try tagger.evaluate(file, labelSource: (adapter as NSString).appendingPathComponent(NERTagger.labelMapFile))
        print("\(data): \(e.sentences) sentences, \(e.tokens) tokens")
        print("seqeval default mode:")
        print(e.lenient.text(), terminator: "")
        print("seqeval strict IOB2 mode:")
        print(e.strict.text(), terminator: "")
        print(e.summary)
        if let json = p.string("json") {
            try AtomicFile.write(try NERJSON.encode(e.json), to: URL(fileURLWithPath: json))
        }
        return 0
    }

    static func predict(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: ["adapter", "input", "output", "model", "batch"], flags: [])
        try noPositional(p, "predict")
        guard let adapter = p.string("adapter") else { throw ArgumentError.missingRequired("adapter") }
        guard let input = p.string("input") else { throw ArgumentError.missingRequired("input") }
        guard let output = p.string("output") else { throw ArgumentError.missingRequired("output") }
        let (file, hasGold) = try NERInputFile.read(path: input)
        let tagger = try NERTagger.load(adapter: adapter, model: p.string("model"))
        tagger.batchSize = try p.int("batch", default: tagger.batchSize)
        let predicted = try tagger.predict(file.sentences.map(\.tokens))
        let rows = zip(file.sentences, predicted).map { s, tags in
            PredictedSentence(tokens: s.tokens, gold: hasGold ? s.tags : nil, predicted: tags)
        }
        try CoNLLWriter.write(rows, to: output)
        var line = "wrote \(output): \(rows.count) sentences"
        if hasGold {
            let known = file.sentences.allSatisfy { labelsKnown($0.tags, tagger.labels) }
            if known {
                let e = try NEREvaluation(gold: file.sentences.map(\.tags), predicted: predicted)
                line += "; against the input's tags: " + e.summary
            } else {
                line += "; the input's tags include types the adapter does not know, so no score"
            }
        }
        print(line)
        return 0
    }

    // MARK: - dapt / build-dapt-text

    static let daptOptions: Set<String> = [
        "text", "model", "out", "r", "alpha", "dropout", "target", "max-len", "batch", "epochs", "max-steps", "lr", "warmup",
        "weight-decay", "mlm-probability", "held-out", "seed", "encoding", "log-every", "head-warmup", "checkpoint-every", "resume",
        ThreadsOption.key,
    ]

    /// Parses `dapt` options (separate from running, so tests can check it).
    static func daptSettings(_ p: Arguments) throws -> DAPTOptions {
        var o = DAPTOptions()
        o.rank = try p.int("r", default: o.rank)
        o.alpha = try p.float("alpha", default: o.alpha)
        o.dropout = try p.float("dropout", default: o.dropout)
        o.targets = p.list("target", default: o.targets)
        o.maxLength = try p.int("max-len", default: o.maxLength)
        o.batchSize = try p.int("batch", default: o.batchSize)
        o.epochs = try p.int("epochs", default: o.epochs)
        if p.string("max-steps") != nil { o.maxSteps = try p.int("max-steps", default: 0) }
        o.headWarmupSteps = try p.int("head-warmup", default: o.headWarmupSteps)
        o.learningRate = try double(p, "lr", default: o.learningRate)
        o.warmupRatio = try double(p, "warmup", default: o.warmupRatio)
        o.weightDecay = try double(p, "weight-decay", default: o.weightDecay)
        o.mlmProbability = try double(p, "mlm-probability", default: o.mlmProbability)
        o.heldOutFraction = try double(p, "held-out", default: o.heldOutFraction)
        o.wholeWordMask = p.has("whole-word")
        o.seed = try p.uint64("seed", default: o.seed)
        o.logEvery = try p.int("log-every", default: o.logEvery)
        try o.validate()
        return o
    }

    /// `--text a.txt b.jsonl …`: the option's value (comma-separated allowed) plus the words
    /// that follow it.
    static func daptTextFiles(_ p: Arguments) throws -> [String] {
        guard p.string("text") != nil else { throw ArgumentError.missingRequired("text") }
        return p.list("text", default: []) + p.positional
    }

    static func dapt(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: daptOptions, flags: ["whole-word"])
        let files = try daptTextFiles(p)
        guard let out = p.string("out") else { throw ArgumentError.missingRequired("out") }
        let o = try daptSettings(p)
        try ThreadsOption.apply(p)
        let encodingName = p.string("encoding", default: "utf8")
        guard let encoding = DAPTTextEncoding(rawValue: encodingName) else {
            throw ArgumentError.badValue("encoding", encodingName, expected: "utf8 or latin1")
        }
        // Text first: a bad file is reported before seconds go into loading the model.
        let lines = try DAPTTextReader.read(files, encoding: encoding)
        let model = try p.string("model") ?? DefaultModels.miniLM()
        let trainer = DAPTTrainer(options: o, log: printError)
        trainer.checkpointEvery = try p.int("checkpoint-every", default: trainer.checkpointEvery)
        guard trainer.checkpointEvery >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(trainer.checkpointEvery)", expected: "a number of steps ≥ 0") }
        trainer.resumeFrom = p.string("resume").map { URL(fileURLWithPath: $0) }
        trainer.world = try DistributedWorld.current()
        let r = try trainer.run(modelFolder: model, lines: lines, output: URL(fileURLWithPath: out))
        guard trainer.world.isLeader else { return 0 }
        print(String(format: "held-out masked-LM perplexity: before %.3f, after %.3f (%.1f%% lower; %d masked positions)",
                     r.perplexityBefore, r.perplexityAfter, 100 * r.perplexityReduction, r.heldOutPositions))
        if r.splitLines > 0 { print("\(r.splitLines) line(s) longer than --max-len \(o.maxLength) were split across sequences (not truncated)") }
        print(String(format: "%d steps over %d sequences in %.1f s (%.0f tokens/s); ", r.steps, r.trainSequences, r.trainSeconds,
                     r.tokensPerSecond) + r.merge.description)
        print("wrote the merged encoder to \(out) (config.json, model.safetensors, vocab.txt); use it with: ner-tune train --model \(out)")
        return 0
    }

    static func buildDAPTText(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: ["out", "wordnet", "ner-data", "max-bytes", "seed"], flags: [])
        try noPositional(p, "build-dapt-text")
        var b = WordNetDAPTText()
        b.wordnetDirectory = p.string("wordnet", default: WordNetReader.defaultDirectory)
        let ner = p.string("ner-data", default: "data/text")
        b.nerFiles = WordNetNERCorpus.fileNames.map { (ner as NSString).appendingPathComponent($0) }
        b.maxBytes = try p.int("max-bytes", default: b.maxBytes)
        b.seed = try p.uint64("seed", default: b.seed)
        let out = p.string("out", default: "data/text/dapt.txt")
        let r = try b.build()
        let text = r.lines.joined(separator: "\n") + "\n"
        try AtomicFile.write(text, to: URL(fileURLWithPath: out), createDirectories: true)
        print("wrote \(out): \(r.lines.count) WordNet gloss sentences, \(text.utf8.count) bytes (of \(r.candidates) candidates; \(r.excludedSynsets) synsets left out because they give one of the \(r.nerSentences) NER sentences)")
        return 0
    }

    static func labelsKnown(_ tags: [String], _ labels: NERLabels) -> Bool { tags.allSatisfy { labels.id(of: $0) != nil } }

    /// Progress goes to stderr so stdout carries only results.
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// A one-line `ner-tune` usage error.
public struct NERTuneError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

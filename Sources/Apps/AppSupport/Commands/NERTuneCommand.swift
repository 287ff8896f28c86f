import Core
import Foundation
import Text

/// `ner-tune`: named-entity recognition by parameter-efficient fine-tuning of a BERT-family
/// encoder on CoNLL files (train / eval / predict), and the builder of the embedded WordNet
/// silver-standard data. The work is done by `Text`'s NER task; this file only parses arguments.
public enum NERTuneCommand: Command {
    public static let name = "ner-tune"
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
                           adapter_model.safetensors, label_map.json, results.json
          eval           score an adapter on a CoNLL file (seqeval default and strict IOB2)
            --adapter DIR --data F [--model DIR] [--json F]
          predict        tag a CoNLL file (first column = tokens; other columns kept as gold
                         when the file has tags), writing `token [gold] predicted` lines
            --adapter DIR --input F --output F [--model DIR]
          build-wordnet  rebuild the embedded silver-standard data from WordNet 3.0
            --out DIR (data/text) --wordnet DIR (/usr/share/wordnet)
            --train-size N (2000) --dev-size N (400) --test-size N (400) --seed S (2003)
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
        default:
            throw ArgumentError.badValue("command", sub, expected: "one of train, eval, predict, build-wordnet")
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
        "warmup", "weight-decay", "patience", "seed", "out", "log-every",
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
        let (_, results) = try NERTrainer(options: o, log: printError).run(
            modelFolder: model, train: train, dev: dev, test: test, output: URL(fileURLWithPath: out))
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

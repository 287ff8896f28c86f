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
            --epochs N (\(NERTrainingOptions().epochs))  --lr X (lora/dora/head 5e-4 … full 5e-5)  --batch B (\(NERTrainingOptions().batchSize))
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

    static func train(_ args: [String]) throws -> Int32 {
        throw NERTuneError("train is not available yet")
    }

    static func evaluate(_ args: [String]) throws -> Int32 {
        throw NERTuneError("eval is not available yet")
    }

    static func predict(_ args: [String]) throws -> Int32 {
        throw NERTuneError("predict is not available yet")
    }
}

/// A one-line `ner-tune` usage error.
public struct NERTuneError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

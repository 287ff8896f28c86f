import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// The NER task end to end on the real all-MiniLM-L6-v2 (installed by `make models`) and a
/// tiny hand-written CoNLL corpus: a few LoRA steps lower the loss, the adapter folder is
/// HF PEFT's layout and reloads to identical outputs, and every reported score equals
/// `EntityReport` (itself checked against seqeval in EntityMetricsTests) on the same tags.
@Suite(.serialized) struct NERTaskTests {
    static let trainText = """
        Einstein B-PER\nwas O\nborn O\nin O\nUlm B-LOC\n. O\n
        Paris B-LOC\nis O\nthe O\ncapital O\nof O\nFrance B-LOC\n. O\n
        Marie B-PER\nCurie I-PER\nworked O\nin O\nParis B-LOC\n. O\n
        Isaac B-PER\nNewton I-PER\nlived O\nin O\nLondon B-LOC\n. O\n
        Berlin B-LOC\nis O\na O\ncity O\nin O\nGermany B-LOC\n. O\n
        Goethe B-PER\nwrote O\nin O\nWeimar B-LOC\n. O\n
        Charles B-PER\nDarwin I-PER\nsailed O\nto O\nChile B-LOC\n. O\n
        Rome B-LOC\nis O\nin O\nItaly B-LOC\n. O\n
        Mozart B-PER\nwas O\nborn O\nin O\nSalzburg B-LOC\n. O\n
        Tokyo B-LOC\nis O\nthe O\ncapital O\nof O\nJapan B-LOC\n. O\n
        William B-PER\nShakespeare I-PER\nlived O\nin O\nStratford B-LOC\n. O\n
        Madrid B-LOC\nis O\nin O\nSpain B-LOC\n. O\n
        """
    static let devText = """
        Dante B-PER\nwas O\nborn O\nin O\nFlorence B-LOC\n. O\n
        Vienna B-LOC\nis O\nin O\nAustria B-LOC\n. O\n
        """
    /// The second sentence is longer than the 32-position windows used here.
    static let testText = """
        Galileo B-PER\nlived O\nin O\nPisa B-LOC\n. O\n
        Lisbon B-LOC\nis O\nthe O\ncapital O\nof O\nPortugal B-LOC\n, O\nand O\nMarco B-PER\nPolo I-PER\nsailed O\nfrom O\n\
        Venice B-LOC\nto O\nChina B-LOC\nwhile O\nNapoleon B-PER\nmarched O\nfrom O\nCorsica B-LOC\nto O\nMoscow B-LOC\n\
        and O\nback O\nto O\nParis B-LOC\nwith O\nhis O\narmy O\nbefore O\nreturning O\nhome O\nto O\nFrance B-LOC\n. O\n
        """

    static func options() -> NERTrainingOptions {
        var o = NERTrainingOptions()
        o.epochs = 4
        o.batchSize = 4
        o.learningRate = 5e-3
        o.maxLength = 32
        o.windowOverlap = 8
        o.patience = 0
        o.seed = 3
        o.logEvery = 1000
        return o
    }

    static func write(_ text: String, _ name: String, in dir: URL) throws -> CoNLLFile {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return try CoNLLReader().read(path: url.path)
    }

    /// Mean cross-entropy over the labelled tokens of `file`, dropout off.
    static func meanLoss(_ tagger: NERTagger, _ file: CoNLLFile) throws -> Float {
        tagger.model.eval()
        let ids = file.sentences.map { tagger.labels.ids(of: $0.tags) ?? [] }
        let windows = NERFeatures.windows(file.sentences.map(\.tokens), labels: ids, tokenizer: tagger.tokenizer, maxLength: 32, overlap: 8)
        let (input, labels, _) = try NERFeatures.batch(windows, Array(windows.indices), tokenizer: tagger.tokenizer)
        return try withoutGrad { try tagger.model.loss(logits: try tagger.model.logits(input), labels: labels).item }
    }

    @Test func trainsSavesReloadsAndScores() throws {
        let folder = try Fixtures.miniLMFolder()
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = try Self.write(Self.trainText, "train.conll", in: dir)
        let dev = try Self.write(Self.devText, "dev.conll", in: dir)
        let test = try Self.write(Self.testText, "test.conll", in: dir)
        let out = dir.appendingPathComponent("run")

        // The same seed gives the trainer's starting point: seeded head, LoRA B = 0.
        let labels = NERLabels(inferredFrom: train)
        let before = try Self.meanLoss(try NERTagger(modelFolder: folder, labels: labels, options: Self.options()), train)
        let (tagger, results) = try NERTrainer(options: Self.options()).run(modelFolder: folder, train: train, dev: dev, test: test, output: out)
        let after = try Self.meanLoss(tagger, train)
        #expect(after < 0.75 * before, "training loss \(before) → \(after)")
        #expect(results.epochs.count == 4)
        let bestF1 = results.epochs.map(\.devF1).max() ?? -1
        #expect(results.bestEpoch == (results.epochs.firstIndex { $0.devF1 == bestF1 } ?? -1) + 1)
        // LoRA r=8 on query,value of 6 layers + head: 6·2·8·(384+384) + 5·384 + 5.
        #expect(results.trainableParameters == 6 * 2 * 8 * 768 + 5 * 384 + 5)

        // PEFT layout.
        for f in ["adapter_config.json", "adapter_model.safetensors", NERTagger.labelMapFile, "results.json"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), "\(f) missing")
        }
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        #expect(config["peft_type"] as? String == "LORA")
        #expect((config["r"] as? NSNumber)?.intValue == 8 && (config["lora_alpha"] as? NSNumber)?.doubleValue == 16)
        #expect(config["target_modules"] as? [String] == ["query", "value"])
        #expect(config["modules_to_save"] as? [String] == ["classifier"])
        let tensors = try SafeTensors.read(out.appendingPathComponent("adapter_model.safetensors"))
        #expect(tensors.count == 6 * 2 * 2 + 2)
        #expect(tensors["base_model.model.classifier.weight"]?.shape == [5, 384])
        #expect(tensors["base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight"]?.shape == [8, 384])
        #expect(tensors["base_model.model.bert.encoder.layer.5.attention.self.value.lora_B.weight"]?.shape == [384, 8])

        // Reload: identical predictions (and logits) on every test word, long sentence included.
        let reloaded = try NERTagger.load(adapter: out.path, model: folder)
        #expect(reloaded.labels == tagger.labels && reloaded.maxLength == 32 && !reloaded.model.isTraining)
        let words = test.sentences.map(\.tokens)
        let predicted = try tagger.predict(words)
        #expect(try reloaded.predict(words) == predicted)
        #expect(predicted.map(\.count) == words.map(\.count))
        let input = try NERFeatures.batch(NERFeatures.windows(words, labels: nil, tokenizer: tagger.tokenizer, maxLength: 32, overlap: 8), [0, 1, 2], tokenizer: tagger.tokenizer).input
        let a = try withoutGrad { try tagger.model.logits(input) }, b = try withoutGrad { try reloaded.model.logits(input) }
        #expect(maxAbsDifference(a, b) == 0)

        // Scores equal EntityReport on the same predictions, in both modes.
        let gold = test.sentences.map(\.tags)
        let lenient = try EntityReport(gold: gold, predicted: predicted)
        let strict = try EntityReport(gold: gold, predicted: predicted, mode: .strict(.iob2))
        let testJSON = try #require(results.test)
        #expect(testJSON.seqevalDefault == NEREvaluationJSON.Report(lenient))
        #expect(testJSON.seqevalStrictIOB2 == NEREvaluationJSON.Report(strict))
        let (evaluation, _) = try reloaded.evaluate(test)
        #expect(evaluation.lenient == lenient && evaluation.strict == strict)
        #expect(evaluation.json == testJSON)
        // results.json holds the same numbers.
        let saved = try JSONDecoder().decode(NERRunResults.self, from: Data(contentsOf: out.appendingPathComponent("results.json")))
        #expect(saved.test == testJSON && saved.dev == results.dev && saved.bestEpoch == results.bestEpoch)
    }

    /// DoRA trains LoRA plus one magnitude per output row; `head` only the classifier. Both
    /// save in the PEFT layout and reload to the same predictions.
    @Test(arguments: [NERMethod.dora, .head])
    func otherMethodsSaveAndReload(_ method: NERMethod) throws {
        let folder = try Fixtures.miniLMFolder()
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = try Self.write(Self.trainText, "train.conll", in: dir)
        let dev = try Self.write(Self.devText, "dev.conll", in: dir)
        var o = Self.options()
        o.method = method
        o.epochs = 1
        let out = dir.appendingPathComponent("run")
        let (tagger, results) = try NERTrainer(options: o).run(modelFolder: folder, train: train, dev: dev, test: nil, output: out)
        let head = 5 * 384 + 5
        // DoRA: LoRA's 6·2·8·768 plus a 384-long magnitude for each of the 12 adapted Linears.
        #expect(results.trainableParameters == (method == .dora ? 6 * 2 * 8 * 768 + 12 * 384 + head : head))
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        #expect(config["peft_type"] as? String == (method == .dora ? "LORA" : "PEFTKIT_PARAMETER_SELECTION"))
        #expect(config["modules_to_save"] as? [String] == ["classifier"])
        if method == .dora { #expect(config["use_dora"] as? Bool == true) }
        let tensors = try SafeTensors.read(out.appendingPathComponent("adapter_model.safetensors"))
        #expect(tensors.count == (method == .dora ? 6 * 2 * 3 + 2 : 2))
        let reloaded = try NERTagger.load(adapter: out.path, model: folder)
        #expect(reloaded.method == method)
        let words = dev.sentences.map(\.tokens) + train.sentences.map(\.tokens)
        #expect(try reloaded.predictIDs(words) == (try tagger.predictIDs(words)))
    }

    /// With a learning rate too small to change any prediction, dev F1 never improves after
    /// epoch 1, so patience 1 stops after epoch 2 and epoch 1's weights are the ones kept.
    @Test func earlyStoppingKeepsTheBestEpoch() throws {
        let folder = try Fixtures.miniLMFolder()
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = try Self.write(Self.trainText, "train.conll", in: dir)
        let dev = try Self.write(Self.devText, "dev.conll", in: dir)
        var o = Self.options()
        o.learningRate = 1e-9
        o.patience = 1
        let out = dir.appendingPathComponent("run")
        let (tagger, results) = try NERTrainer(options: o).run(modelFolder: folder, train: train, dev: dev, test: nil, output: out)
        #expect(results.epochs.count == 2 && results.stoppedEarly && results.bestEpoch == 1)
        #expect(results.epochs[0].devF1 == results.epochs[1].devF1)
        let words = dev.sentences.map(\.tokens)
        #expect(try NERTagger.load(adapter: out.path, model: folder).predictIDs(words) == (try tagger.predictIDs(words)))
        #expect(throws: NERTaskError.self) { try NERTagger.baseModel(recorded: "/nowhere/other-bert", adapter: out.path) }
    }

    @Test func windowsOwnEveryWordOnce() throws {
        let tokenizer = try WordPieceTokenizer(folder: try Fixtures.miniLMFolder())
        let file = try CoNLLReader().parse(Self.testText, path: "test")
        let labels = NERLabels(inferredFrom: file)
        let ids = file.sentences.map { labels.ids(of: $0.tags) ?? [] }
        let windows = NERFeatures.windows(file.sentences.map(\.tokens), labels: ids, tokenizer: tokenizer, maxLength: 16, overlap: 4)
        for (s, sentence) in file.sentences.enumerated() {
            let mine = windows.filter { $0.sentence == s }
            #expect(mine.allSatisfy { $0.length <= 16 })
            // Owned ranges partition the sentence; each word is labelled once, on its first piece.
            #expect(mine.map(\.ownedWords.lowerBound).first == 0 && mine.map(\.ownedWords.upperBound).last == sentence.tokens.count)
            #expect(zip(mine.dropLast(), mine.dropFirst()).allSatisfy { $0.ownedWords.upperBound == $1.ownedWords.lowerBound })
            var labelled: [Int] = []
            for w in mine {
                for (i, l) in w.labels.enumerated() where l != LabelAlignment.ignoreIndex {
                    let word = try #require(w.encoding.wordIDs[i])
                    #expect(l == ids[s][word])
                    labelled.append(word)
                }
            }
            #expect(labelled == Array(0..<sentence.tokens.count))
        }
        #expect(windows.filter { $0.sentence == 1 }.count > 1)
        // Evaluation batches keep every window once, longest first.
        let batches = NERFeatures.evaluationBatches(windows, batchSize: 3)
        #expect(batches.flatMap { $0 }.sorted() == Array(windows.indices))
        var rng = SplitMix64(seed: 1), rng2 = SplitMix64(seed: 1)
        let t1 = NERFeatures.trainingBatches(windows, batchSize: 2, rng: &rng)
        #expect(t1 == NERFeatures.trainingBatches(windows, batchSize: 2, rng: &rng2))
        #expect(t1.flatMap { $0 }.sorted() == Array(windows.indices))
    }

    @Test func tokenWithSpacesIsOneWord() throws {
        let tokenizer = try WordPieceTokenizer(folder: try Fixtures.miniLMFolder())
        let file = try CoNLLReader().parse("New York\tB-LOC\nis\tO\nbig\tO\n", path: "t")
        #expect(file.sentences[0].tokens == ["New York", "is", "big"])
        let labels = NERLabels(inferredFrom: file)  // O, B-LOC, I-LOC
        let w = NERFeatures.windows(file.sentences.map(\.tokens), labels: [[1, 0, 0]], tokenizer: tokenizer, maxLength: 16)
        // "new" and "york" both belong to word 0; only the first carries its label.
        #expect(w.count == 1 && w[0].encoding.wordIDs == [nil, 0, 0, 1, 2, nil])
        #expect(w[0].labels == [-100, 1, -100, 0, 0, -100] && labels.count == 3)
    }

    @Test func badInputsGiveOneLineErrors() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = try Self.write(Self.trainText, "train.conll", in: dir)
        let dev = try Self.write("Paris B-LOC\nsigned O\nwith O\nACME B-ORG\n", "dev.conll", in: dir)
        let trainer = NERTrainer(options: Self.options())
        // Checked before any model is loaded (the folder does not even exist).
        do {
            try trainer.run(modelFolder: "/nonexistent", train: train, dev: dev, test: nil, output: dir)
            Issue.record("an unknown dev label must be rejected")
        } catch let e as CoNLLError {
            guard case let .unknownLabel(_, line, label, _, _) = e else { Issue.record("unexpected \(e)"); return }
            #expect(line == 4 && label == "B-ORG" && !e.description.contains("\n"))
        }
        let onlyO = try Self.write("hello O\nworld O\n", "o.conll", in: dir)
        #expect(throws: CoNLLError.self) { try trainer.run(modelFolder: "/nonexistent", train: onlyO, dev: onlyO, test: nil, output: dir) }

        // A vocabulary bigger than the embedding table: a folder with MiniLM's weights and config
        // and a vocab.txt with 10 more tokens.
        let folder = try Fixtures.miniLMFolder()
        let bad = dir.appendingPathComponent("mismatch")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.createSymbolicLink(at: bad.appendingPathComponent(f), withDestinationURL: URL(fileURLWithPath: folder).appendingPathComponent(f))
        }
        let vocab = try String(contentsOfFile: folder + "/vocab.txt", encoding: .utf8)
        try (vocab + (0..<10).map { "[extra\($0)]\n" }.joined()).write(to: bad.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        do {
            _ = try NERTagger(modelFolder: bad.path, labels: NERLabels(inferredFrom: train), options: Self.options())
            Issue.record("a vocabulary that does not fit the embedding must be rejected")
        } catch let e as BertError {
            guard case let .vocabularyMismatch(_, tokenizerSize, rows) = e else { Issue.record("unexpected \(e)"); return }
            #expect(tokenizerSize == 30532 && rows == 30522)
            #expect(!e.description.contains("\n"))
        }
        var o = Self.options()
        o.maxLength = 1024
        #expect(throws: NERTaskError.tooLong(maxLength: 1024, modelMaximum: 512)) {
            try NERTagger(modelFolder: folder, labels: NERLabels(inferredFrom: train), options: o)
        }
        #expect(throws: NERTaskError.self) { try NERTagger.load(adapter: dir.path) }
    }

    @Test func predictInputMayBeTokensOnly() throws {
        // BOM, Windows line endings and a -DOCSTART- line, tokens only.
        let (file, hasGold) = try NERInputFile.parse("\u{FEFF}-DOCSTART-\r\n\r\nEinstein\r\nwas\r\nhere\r\n\r\nUlm\r\n", path: "in.txt")
        #expect(!hasGold)
        #expect(file.sentences.map(\.tokens) == [["Einstein", "was", "here"], ["Ulm"]])
        #expect(file.sentences[1].lines == [7])
        let (tagged, gold) = try NERInputFile.parse("Ulm B-LOC\n", path: "in.conll")
        #expect(gold && tagged.sentences[0].tags == ["B-LOC"])
        #expect(throws: CoNLLError.self) { try NERInputFile.parse("\n\n", path: "empty") }
    }
}

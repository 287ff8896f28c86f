import Foundation
import Testing
import TestSupport
import Text
@testable import AppSupport

/// `ner-tune` argument handling: every mistake is one line that says what to type instead, and
/// it is reported before any model is loaded.
@Suite struct NERTuneCommandTests {
    @Test func argumentMistakes() {
        expectNERTuneFailure(["tarin"], contains: "one of train, eval, predict, build-wordnet")
        expectNERTuneFailure(["train", "--bogus", "1"], contains: "unknown option --bogus")
        expectNERTuneFailure(["train", "--method", "lorax"], contains: "option --method: 'lorax' is not one of lora, dora, full, head")
        expectNERTuneFailure(["train", "--epochs", "0"], contains: "--epochs must be at least 1")
        expectNERTuneFailure(["train", "--epochs", "two"], contains: "option --epochs: 'two' is not an integer")
        expectNERTuneFailure(["train", "--lr", "fast"], contains: "option --lr: 'fast' is not a number")
        expectNERTuneFailure(["train", "--lr", "2"], contains: "--lr must be in (0, 1)")
        expectNERTuneFailure(["train", "--max-length", "4"], contains: "--max-length must be at least 8")
        expectNERTuneFailure(["train", "data.conll"], contains: "unexpected argument 'data.conll' after 'train'")
        expectNERTuneFailure(["train", "--r"], contains: "option --r needs a value")
        expectNERTuneFailure(["eval", "--data", "x.conll"], contains: "option --adapter is required")
        expectNERTuneFailure(["predict", "--adapter", "a", "--input", "b"], contains: "option --output is required")
        expectNERTuneFailure(["build-wordnet", "--seed", "-1"], contains: "not a non-negative integer")
    }

    @Test func badFilesAreReportedBeforeTheModelLoads() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.conll").path
        try "\n\n".write(toFile: empty, atomically: true, encoding: .utf8)
        expectNERTuneFailure(["train", "--train", dir.appendingPathComponent("missing.conll").path], contains: "missing.conll: cannot read")
        expectNERTuneFailure(["train", "--train", empty, "--dev", empty], contains: "empty.conll: no token lines found")
        let noTags = dir.appendingPathComponent("tokens.conll").path
        try "Ulm\n".write(toFile: noTags, atomically: true, encoding: .utf8)
        expectNERTuneFailure(["train", "--train", noTags], contains: "tokens.conll:1: only one column")
        expectNERTuneFailure(["eval", "--adapter", dir.path, "--data", empty], contains: "no label_map.json")
        expectNERTuneFailure(["build-wordnet", "--wordnet", dir.path, "--out", dir.path], contains: "data.noun: cannot read the WordNet data file")
    }

    @Test func trainOptionsAreParsed() throws {
        let p = try Arguments(
            ["--method", "dora", "--r", "4", "--alpha", "8", "--target", "query,key, value", "--lr", "2e-3", "--epochs", "2",
             "--batch", "8", "--max-length", "64", "--patience", "0", "--seed", "9", "--warmup", "0.2"],
            options: NERTuneCommand.trainOptions, flags: [])
        let o = try NERTuneCommand.trainingOptions(p)
        #expect(o.method == .dora && o.rank == 4 && o.alpha == 8 && o.targets == ["query", "key", "value"])
        #expect(o.learningRate == 2e-3 && o.epochs == 2 && o.batchSize == 8 && o.maxLength == 64)
        #expect(o.patience == 0 && o.seed == 9 && o.warmupRatio == 0.2)
        let d = try NERTuneCommand.trainingOptions(try Arguments([], options: NERTuneCommand.trainOptions, flags: []))
        #expect(d == NERTrainingOptions())
        #expect(d.method == .lora && d.rank == 8 && d.alpha == 16 && d.targets == ["query", "value"])
    }
}

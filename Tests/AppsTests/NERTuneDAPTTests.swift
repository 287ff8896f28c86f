import Foundation
import Testing
import TestSupport
import Text
@testable import AppSupport

/// `ner-tune dapt` and `ner-tune build-dapt-text`: argument handling and bad input (one-line
/// errors, reported before the model loads), and a real run on the tiny test model.
@Suite struct NERTuneDAPTTests {
    @Test func argumentMistakesAndBadText() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.txt").path
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let bad = dir.appendingPathComponent("bad.txt").path
        try Data([0x61, 0x62, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: bad))
        let out = dir.appendingPathComponent("out").path
        expectNERTuneFailure(["dapt", "--out", out], contains: "option --text is required")
        expectNERTuneFailure(["dapt", "--text", empty], contains: "option --out is required")
        expectNERTuneFailure(["dapt", "--text", empty, "--out", out], contains: "empty.txt: the file has no text")
        expectNERTuneFailure(["dapt", "--text", bad, "--out", out], contains: "bad.txt: byte offset 2 (0xFF) is not valid UTF-8")
        expectNERTuneFailure(["dapt", "--text", bad, "--out", out, "--encoding", "cp1252"], contains: "'cp1252' is not utf8 or latin1")
        expectNERTuneFailure(["dapt", "--text", bad, "--out", out, "--mlm-probability", "1.5"], contains: "--mlm-probability must be in (0, 1)")
        expectNERTuneFailure(["dapt", "--text", bad, "--out", out, "--max-len", "4"], contains: "--max-len must be at least 8")
        expectNERTuneFailure(["dapt", "--text", bad, "--out", out, "--bogus", "1"], contains: "unknown option --bogus")
        expectNERTuneFailure(["build-dapt-text", "--wordnet", dir.path, "--out", out], contains: "data.noun: cannot read the WordNet data file")
        expectNERTuneFailure(["build-dapt-text", "extra"], contains: "unexpected argument 'extra'")
    }

    @Test func defaultsAndTextList() throws {
        let p = try Arguments(["--text", "a.txt,b.jsonl", "c.txt", "--out", "o"], options: NERTuneCommand.daptOptions, flags: ["whole-word"])
        #expect(try NERTuneCommand.daptTextFiles(p) == ["a.txt", "b.jsonl", "c.txt"])
        let o = try NERTuneCommand.daptSettings(p)
        #expect(o.rank == 16 && o.alpha == 32 && o.dropout == 0.05 && o.maxLength == 128)
        #expect(o.targets == ["query", "key", "value", "attention.output.dense"])
        let q = try Arguments(["--whole-word", "--max-steps", "7", "--r", "8"], options: NERTuneCommand.daptOptions, flags: ["whole-word"])
        let o2 = try NERTuneCommand.daptSettings(q)
        #expect(o2.wholeWordMask && o2.maxSteps == 7 && o2.rank == 8)
    }

    /// The full command on the tiny model; its output folder then trains an NER tagger.
    @Test func daptThenTrainOnTheTinyModel() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: TestPaths.fixture("tiny/bert_tokencls").appendingPathComponent(f), to: model.appendingPathComponent(f))
        }
        let words = ["the", "cat", "dog", "sat", "ran", "on", "mat", "hill", "paris", "rome", "in", "."]
        try (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words).joined(separator: "\n")
            .write(to: model.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let text = dir.appendingPathComponent("t.jsonl").path
        try (0..<40).map { "{\"text\": \"the \($0 % 2 == 0 ? "cat" : "dog") sat on the mat in \($0 % 3 == 0 ? "paris" : "rome") .\"}" }
            .joined(separator: "\n").write(toFile: text, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("dapt").path
        #expect(try NERTuneCommand.run(["dapt", "--text", text, "--model", model.path, "--out", out, "--max-len", "16",
                                        "--batch", "8", "--max-steps", "5", "--held-out", "0.2"]) == 0)
        let conll = dir.appendingPathComponent("d.conll").path
        try (0..<8).map { "the O\ncat O\nsat O\nin O\n\($0 % 2 == 0 ? "paris" : "rome") B-LOC\n" }.joined(separator: "\n")
            .write(toFile: conll, atomically: true, encoding: .utf8)
        #expect(try NERTuneCommand.run(["train", "--model", out, "--train", conll, "--dev", conll, "--epochs", "1", "--max-length", "16",
                                        "--out", dir.appendingPathComponent("ner").path]) == 0)
    }
}

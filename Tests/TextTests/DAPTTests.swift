import Core
import Foundation
import Testing
import TestSupport
@testable import Text

private func tempFile(_ name: String, _ bytes: [UInt8]) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dapt-\(UUID().uuidString)-\(name)")
    try Data(bytes).write(to: url)
    return url.path
}

private func tempFile(_ name: String, _ text: String) throws -> String { try tempFile(name, Array(text.utf8)) }

/// Reading and packing DAPT text, its bad-input errors, the held-out split.
@Suite struct DAPTTextTests {
    @Test func readsTxtAndJsonl() throws {
        let txt = try tempFile("a.txt", "First line.\n\n  Second line.  \r\nThird\n")
        #expect(try DAPTTextReader.read(txt) == ["First line.", "Second line.", "Third"])
        let jsonl = try tempFile("b.jsonl", "{\"text\": \"One doc.\", \"id\": 1}\n\n{\"text\": \"Two\\ndocs\"}\n")
        #expect(try DAPTTextReader.read(jsonl) == ["One doc.", "Two\ndocs"])
        #expect(try DAPTTextReader.read([txt, jsonl]).count == 5)
    }

    @Test func badInputIsAOneLineErrorNamingTheFile() throws {
        let empty = try tempFile("empty.txt", "\n  \n")
        #expect { try DAPTTextReader.read(empty) } throws: { "\($0)".contains(empty) && "\($0)".contains("no text") }
        // "ok é" (5 bytes) then a lone continuation byte at offset 5, then a truncated 3-byte sequence.
        let bad = try tempFile("bad.txt", Array("ok é".utf8) + [0x80, 0x41, 0xE2, 0x82])
        #expect { try DAPTTextReader.read(bad) } throws: { "\($0)".contains("\(bad): byte offset 5 (0x80)") && "\($0)".contains("--encoding latin1") }
        // The same bytes read as Latin-1 are accepted.
        #expect(try DAPTTextReader.read(bad, encoding: .latin1).first?.hasPrefix("ok Ã©") == true)
        let noText = try tempFile("c.jsonl", "{\"body\": \"x\"}\n")
        #expect { try DAPTTextReader.read(noText) } throws: { "\($0)".contains("\(noText):1: no string field \"text\"") }
        let notJSON = try tempFile("d.jsonl", "{\"text\": \"ok\"}\nplain text\n")
        #expect { try DAPTTextReader.read(notJSON) } throws: { "\($0)".contains("\(notJSON):2: not a JSON object") }
        #expect { try DAPTTextReader.read("/nonexistent/x.txt") } throws: { "\($0)".contains("/nonexistent/x.txt: cannot read") }
    }

    @Test func packingSplitsLongLinesAndLosesNothing() throws {
        let tok = try WordPieceTokenizer(folder: try DAPTTinyModel.folder().path)
        let long = Array(repeating: "the big dog ran", count: 10).joined(separator: " ")  // 40 tokens
        let lines = ["the cat sat .", long, "a bird flew ."]
        let packed = try PackedSequences(lines: lines, tokenizer: tok, maxLength: 16)
        #expect(packed.splitLines == 1)
        #expect(packed.tokenCount == 4 + 40 + 4 + 2)  // two [SEP] between three documents
        #expect(packed.sequences.allSatisfy { $0.count <= 16 && $0.first == tok.clsID && $0.last == tok.sepID })
        // Every text token appears, in order, once the wrappers are removed.
        let body = packed.sequences.flatMap { $0.dropFirst().dropLast() }.filter { $0 != tok.sepID }
        let expected = lines.flatMap { tok.wordPieces($0).joined() }
        #expect(body == expected)
        #expect(throws: DAPTError.self) { try PackedSequences(lines: lines, tokenizer: tok, maxLength: 4) }
    }

    @Test func heldOutSplitIsFixedAndDisjoint() throws {
        let lines = (0..<100).map { "line \($0)" }
        let a = try DAPTSplit(lines: lines, fraction: 0.1, maxLines: 500, seed: 3)
        let b = try DAPTSplit(lines: lines, fraction: 0.1, maxLines: 500, seed: 3)
        #expect(a.heldOut == b.heldOut && a.heldOut.count == 10 && a.train.count == 90)
        #expect(Set(a.heldOut).isDisjoint(with: a.train))
        #expect(try DAPTSplit(lines: lines, fraction: 0.5, maxLines: 7, seed: 3).heldOut.count == 7)
        #expect(throws: DAPTError.self) { try DAPTSplit(lines: ["only one"], fraction: 0.1, maxLines: 5, seed: 1) }
    }
}

/// The merged export: reloads in our loader with the adapted model's hidden states, and has the
/// key set, shapes, dtypes and config of the reference Hugging Face folder.
@Suite struct DAPTExportTests {
    @Test func tinyExportReloadsWithIdenticalHiddenStates() throws {
        let src = try DAPTTinyModel.folder()
        let (model, tok, ckpt) = try BertForMaskedLM.load(folder: src.path, seed: 1)
        model.eval()
        let peft = PeftModel(model)
        var cfg = AdapterConfig.lora(r: 4, alpha: 8, targets: ["query", "key", "value", "attention.output.dense"])
        cfg.modulesToSave = ["transform"]
        try peft.addAdapter(cfg)
        // Non-zero B so the adapter changes the encoder.
        var rng = SplitMix64(seed: 5)
        for (k, p) in peft.trainableParameters() where k.contains("lora_B") {
            p.storage = Tensor.normal(p.shape, std: 0.1, using: &rng).storage
        }
        let input = try BertInput(tok.encodeBatch(["the red cat sat on the mat .", "a dog ran"]))
        let adapted = try withoutGrad { try model.bert(input).lastHiddenState }
        let base = try withoutGrad { try peft.withAdaptersDisabled { try model.bert(input).lastHiddenState } }
        #expect((maxAbsDifference(adapted, base) ?? 0) > 1e-3, "the adapter must matter for this test to mean anything")
        try peft.mergeAndUnload()
        let out = src.appendingPathComponent("export")
        try BertFolderExport.write(model.bert, source: ckpt, tokenizer: tok, to: out)

        let (reloaded, tok2) = try BertModel.load(folder: out.path)
        reloaded.eval()
        #expect(tok2.vocabulary.tokens == tok.vocabulary.tokens)
        let h = try withoutGrad { try reloaded(input).lastHiddenState }
        #expect(allClose(h, adapted, atol: 1e-5, rtol: 0), "\(differenceReport(h, adapted))")
        // `ner-tune train --model` loads it as a token classifier.
        _ = try BertForTokenClassification.load(folder: out.path, labels: ["O", "B-X", "I-X"])
    }

    /// all-MiniLM-L6-v2 exported unchanged has exactly the original folder's tensors (keys,
    /// dtypes, shapes and bytes) and config fields — the layout transformers' `BertModel` reads.
    @Test func miniLMExportHasTheReferenceLayout() throws {
        let folder = try Fixtures.miniLMFolder()
        let (model, tok, ckpt) = try BertForMaskedLM.load(folder: folder, seed: 0)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dapt-minilm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        try BertFolderExport.write(model.bert, source: ckpt, tokenizer: tok, to: out)
        let ref = try FixtureTensors.header(URL(fileURLWithPath: folder).appendingPathComponent("model.safetensors"))
        let got = try FixtureTensors.header(out.appendingPathComponent("model.safetensors"))
        #expect(Set(got.keys) == Set(ref.keys), "keys differ: \(Set(got.keys).symmetricDifference(ref.keys).sorted().prefix(5))")
        for (k, r) in ref { #expect(got[k]?.dtype == r.dtype && got[k]?.shape == r.shape, "\(k)") }
        // Unchanged weights are written bit-for-bit.
        let a = try FixtureTensors.load(URL(fileURLWithPath: folder).appendingPathComponent("model.safetensors"))
        let b = try FixtureTensors.load(out.appendingPathComponent("model.safetensors"))
        for (k, t) in a { #expect(b[k]?.storage == t.storage, "\(k) changed") }
        let refConfig = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent("config.json"))) as? [String: Any])
        let gotConfig = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(Set(gotConfig.keys) == Set(refConfig.keys))
        #expect(try BertConfig(contentsOf: out.appendingPathComponent("config.json")) == ckpt.config)
        #expect(gotConfig["architectures"] as? [String] == ["BertModel"])
        let vocab = try String(contentsOf: out.appendingPathComponent("vocab.txt"), encoding: .utf8)
        #expect(vocab == (try String(contentsOfFile: folder + "/vocab.txt", encoding: .utf8)))
    }
}

/// The whole DAPT run on the tiny model: perplexity falls on held-out text of the same "domain",
/// the merge is verified and the export loads as an NER backbone.
@Suite struct DAPTTrainerTests {
    @Test func tinyRunLowersPerplexityAndExports() throws {
        let src = try DAPTTinyModel.folder()
        var o = DAPTOptions()
        o.maxLength = 24
        o.batchSize = 16
        o.epochs = 15
        o.learningRate = 1e-2
        o.heldOutFraction = 0.1
        o.seed = 3
        var logged: [String] = []
        let out = src.appendingPathComponent("dapt")
        let r = try DAPTTrainer(options: o, log: { logged.append($0) })
            .run(modelFolder: src.path, lines: DAPTTinyModel.sentences(300, seed: 9), output: out)
        // Deterministic run: 95.2 → 70.4 when written. Only LoRA on attention and the head's
        // transform train (the random tiny encoder's FFN, embeddings and output bias are frozen),
        // so the drop is moderate; the bound checks the mechanism, not a quality level.
        #expect(r.perplexityAfter < 0.8 * r.perplexityBefore, "perplexity \(r.perplexityBefore) → \(r.perplexityAfter)")
        #expect(r.merge.withinGoal)
        #expect(r.heldOutPositions > 20)
        #expect(logged.contains { $0.contains("perplexity before") } && logged.contains { $0.contains("merge check") })
        for f in ["config.json", "model.safetensors", "vocab.txt"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), "\(f) missing")
        }
        _ = try BertForTokenClassification.load(folder: out.path, labels: ["O", "B-X", "I-X"])
        // The exported encoder differs from the source (the LoRA was merged in).
        let before = try BertModel.load(folder: src.path).model, after = try BertModel.load(folder: out.path).model
        let q = "encoder.layer.0.attention.self.query.weight"
        let w0 = try #require(before.namedParameters().first { $0.0 == q }?.1), w1 = try #require(after.namedParameters().first { $0.0 == q }?.1)
        #expect((maxAbsDifference(w0, w1) ?? 0) > 1e-4)
    }

    /// Fitting a new head first: "before" is then measured with the fitted head, so it is lower
    /// than the random head's perplexity on the same held-out positions.
    @Test func headWarmupFitsTheHeadBeforeMeasuring() throws {
        let src = try DAPTTinyModel.folder()
        var o = DAPTOptions()
        o.maxLength = 24
        o.learningRate = 1e-2
        o.maxSteps = 2
        o.seed = 3
        let lines = DAPTTinyModel.sentences(200, seed: 4)
        let plain = try DAPTTrainer(options: o).run(modelFolder: src.path, lines: lines, output: src.appendingPathComponent("a"))
        o.headWarmupSteps = 30
        var logged: [String] = []
        let warmed = try DAPTTrainer(options: o, log: { logged.append($0) }).run(modelFolder: src.path, lines: lines, output: src.appendingPathComponent("b"))
        #expect(logged.contains { $0.contains("fitting the MLM head alone for 30 steps") })
        #expect(warmed.perplexityBefore < 0.9 * plain.perplexityBefore, "\(plain.perplexityBefore) → \(warmed.perplexityBefore)")
        #expect(warmed.heldOutPositions == plain.heldOutPositions)
    }

    @Test func vocabularyThatDoesNotMatchTheEmbeddingsIsAnError() throws {
        let src = try DAPTTinyModel.folder()
        // More tokens than the 100-row embedding table.
        let vocab = DAPTTinyModel.vocabulary + (0..<68).map { "extra\($0)" }
        try (vocab.joined(separator: "\n") + "\n").write(to: src.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        #expect { try DAPTTrainer(options: DAPTOptions()).run(modelFolder: src.path, lines: ["a", "b"], output: src.appendingPathComponent("o")) }
            throws: { "\($0)".contains("tokens but the word embedding has 100 rows") }
    }

    @Test func optionsAreValidated() {
        var o = DAPTOptions()
        o.mlmProbability = 0
        #expect(throws: DAPTError.self) { try o.validate() }
        o = DAPTOptions()
        o.maxSteps = 0
        #expect(throws: DAPTError.self) { try o.validate() }
        #expect(DAPTOptions().rank == 16 && DAPTOptions().alpha == 32 && DAPTOptions().dropout == 0.05)
        #expect(DAPTOptions().targets == ["query", "key", "value", "attention.output.dense"])
    }
}

import Core
import Foundation
import Testing
import TestSupport
import Text

/// The BERT-family model on the real all-MiniLM-L6-v2 against transformers' outputs for the same
/// padded batch (`fixtures/minilm/forward.safetensors`), plus config and loading errors.
@Suite struct BertModelTests {
    @Test func miniLMHiddenStatesMatchTransformers() throws {
        let (model, _) = try BertModel.load(folder: try BertFixtures.miniLMFolder())
        model.eval()
        #expect(model.pooler != nil, "MiniLM's checkpoint carries pooler.dense, so it is built")
        let (input, io) = try BertFixtures.forwardInput()
        let out = try withoutGrad { try model(input, outputHiddenStates: true) }
        #expect(out.hiddenStates.count == 7)
        BertFixtures.expectClose(out.hiddenStates[0], io["hidden_embeddings"], "embedding output")
        BertFixtures.expectClose(out.hiddenStates[1], io["hidden_layer0"], "layer 0 output")
        BertFixtures.expectClose(out.lastHiddenState, io["last_hidden_state"], "last_hidden_state")
        let embedding = withoutGrad { out.lastHiddenState.maskedMeanPooled(mask: input.attentionMask).l2Normalized() }
        BertFixtures.expectClose(embedding, io["sentence_embedding"], "sentence embedding")
    }

    @Test func tokenizerReproducesTheFixtureBatch() throws {
        // The fixture's ids came from BertTokenizerFast on forward.json's sentences.
        let (_, tokenizer) = try BertModel.load(folder: try BertFixtures.miniLMFolder(), addPooler: false)
        let sentences = strings((try Fixtures.json("minilm/forward.json") as? [String: Any])?["sentences"])
        let (input, _) = try BertFixtures.forwardInput()
        let encoded = try BertInput(tokenizer.encodeBatch(sentences))
        #expect(encoded == input)
    }

    @Test func unpaddedRowsDoNotDependOnPadding() throws {
        // Row 2 ("Hello!") is mostly padding; run alone without padding it must give the same
        // states for its real tokens (the mask hides the padding keys).
        let (model, tokenizer) = try BertModel.load(folder: try BertFixtures.miniLMFolder(), addPooler: false)
        model.eval()
        let (input, io) = try BertFixtures.forwardInput()
        let alone = try BertInput(tokenizer.encodeBatch(["Hello!"]))
        let h = try withoutGrad { try model(alone).lastHiddenState }
        let reference = try #require(io["last_hidden_state"]).slice(axis: 0, 2..<3).slice(axis: 1, 0..<alone.length)
        BertFixtures.expectClose(h, reference, "unpadded 'Hello!'")
        #expect(input.length > alone.length)
    }

    @Test func configRejectsWhatItCannotRun() throws {
        func parse(_ text: String) throws -> BertConfig { try BertConfig(json: try JSONConfig(parsing: text, file: "config.json")) }
        let ok = try parse(#"{"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "hidden_act": "gelu_new", "id2label": {"0": "O", "1": "B-PER"}}"#)
        #expect(ok.hiddenAct == .geluTanh && ok.layerNormEps == 1e-12 && ok.maxPositionEmbeddings == 512)
        #expect(ok.id2label == [0: "O", 1: "B-PER"])
        #expect(throws: BertError.self) { try parse(#"{"hidden_size": 30, "num_attention_heads": 4}"#) }
        #expect(throws: BertError.self) { try parse(#"{"hidden_act": "mish"}"#) }
        #expect(throws: BertError.self) { try parse(#"{"position_embedding_type": "relative_key"}"#) }
        #expect(throws: BertError.self) { try parse(#"{"model_type": "roberta"}"#) }
        #expect(throws: BertError.self) { try parse(#"{"num_hidden_layers": -1}"#) }
        do {
            _ = try parse(#"{"hidden_act": "mish"}"#)
        } catch {
            #expect("\(error)".contains("config.json") && "\(error)".contains("hidden_act"))
        }
    }

    @Test func badInputsAreErrorsNotCrashes() throws {
        let store = WeightStore.random(seed: 3)
        let cfg = BertConfig(vocabSize: 50, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32,
                             maxPositionEmbeddings: 8)
        let model = try BertModel(config: cfg, at: store.root)
        #expect(throws: BertError.self) { try BertInput(inputIDs: [1, 2, 3], batch: 2, length: 2) }
        #expect(throws: BertError.self) { try BertInput(inputIDs: [1, 2], batch: 1, length: 2, attentionMask: [1, 2]) }
        #expect(throws: EmbeddingError.self) { try model(try BertInput(inputIDs: [1, 50], batch: 1, length: 2)) }
        #expect(throws: EmbeddingError.self) { try model(try BertInput(inputIDs: [1, 2], batch: 1, length: 2, tokenTypeIDs: [0, 2])) }
        #expect(throws: BertError.self) { try model(try BertInput(inputIDs: [Int](repeating: 1, count: 9), batch: 1, length: 9)) }
    }

    @Test func vocabularyThatDoesNotFitTheEmbeddingIsRejected() throws {
        // A MiniLM-shaped folder whose vocab.txt has more tokens than the embedding rows.
        let source = URL(fileURLWithPath: try BertFixtures.miniLMFolder())
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        try fm.createSymbolicLink(at: dir.appendingPathComponent("model.safetensors"), withDestinationURL: source.appendingPathComponent("model.safetensors"))
        try fm.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        var vocab = try String(contentsOf: source.appendingPathComponent("vocab.txt"), encoding: .utf8)
        vocab += (0..<10).map { "extra\($0)\n" }.joined()
        try vocab.write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        #expect {
            _ = try BertModel.load(folder: dir.path)
        } throws: { error in
            guard case .vocabularyMismatch(_, let size, let rows) = error as? BertError else { return false }
            return size == 30532 && rows == 30522 && "\(error)".contains(dir.path)
        }
    }

    @Test func folderWithoutBertWeightsIsNamed() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: IOError.self) { _ = try BertCheckpoint(folder: dir.path) }
        // A safetensors file with unrelated keys.
        try #"{"model_type": "bert"}"#.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try SafeTensors.write(["decoder.weight": Tensor.zeros([2, 2])], to: dir.appendingPathComponent("model.safetensors"))
        #expect {
            _ = try BertCheckpoint(folder: dir.path)
        } throws: { error in
            guard case .notABertCheckpoint = error as? BertError else { return false }
            return "\(error)".contains("decoder.weight")
        }
    }
}

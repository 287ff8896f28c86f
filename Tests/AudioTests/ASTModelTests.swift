@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// AST against Hugging Face `ASTModel` (transformers 5.24, random init, eval) in
/// `fixtures/tiny/ast`: 2 layers, width 32, 16 mel bins × 48 frames → 1×4 patches + 2 tokens.
@Suite("AST model")
struct ASTModelTests {
    static let dir = TestPaths.fixture("tiny/ast")

    @Test("hidden states and pooler output equal transformers' ASTModel")
    func fixtureMatch() throws {
        let config = try ASTConfig(contentsOf: Self.dir.appendingPathComponent("config.json"))
        #expect(config.sequenceLength == 6)
        let store = try WeightStore.load(directory: Self.dir)
        let model = try ASTModel(config: config, at: store.root)
        try store.verifyAllUsed()
        model.eval()
        let io = try FixtureTensors.load(Self.dir.appendingPathComponent("io.safetensors"))
        let out = try withoutGrad { try model(io["input.input_values"]!) }
        let hidden = io["output.last_hidden_state"]!, pooled = io["output.pooler_output"]!
        #expect(out.lastHiddenState.shape == hidden.shape)
        // README tolerance: hidden states within 1e-4 absolute.
        #expect(allClose(out.lastHiddenState, hidden, atol: 1e-4, rtol: 0), "\(differenceReport(out.lastHiddenState, hidden))")
        #expect(allClose(out.poolerOutput, pooled, atol: 1e-4, rtol: 0), "\(differenceReport(out.poolerOutput, pooled))")
    }

    @Test("the encoder loader accepts the bare layout and keeps everything frozen")
    func loaderFreezes() throws {
        let model = try ASTCheckpoint.loadEncoder(directory: Self.dir)
        #expect(model.parameterCounts().trainable == 0)
        #expect(model.namedParameters().map(\.0).contains("encoder.layer.1.attention.attention.query.weight"))
    }

    @Test("bilinear position resize follows PyTorch's align_corners=False rule")
    func bilinearHandWorked() {
        // F.interpolate([[0, 4]], size=4, mode="linear") = [0, 1, 3, 4]: source coordinates
        // (i + 0.5)·0.5 − 0.5 = −0.25→0, 0.25, 0.75, 1.25→clamped to the last column.
        let out = ASTEmbeddings.bilinearResize([0, 4], channels: 1, from: (1, 2), to: (1, 4))
        #expect(out == [0, 1, 3, 4])
        // Two channels and two rows: each channel resized on its own; rows kept when equal.
        let grid: [Float] = [0, 10, 4, 50, /* row 1 */ 8, 0, 8, 0]
        let r = ASTEmbeddings.bilinearResize(grid, channels: 2, from: (2, 2), to: (2, 4))
        #expect(r == [0, 10, 1, 20, 3, 40, 4, 50, 8, 0, 8, 0, 8, 0, 8, 0])
    }

    @Test("other max_length: positions interpolated by default, zeros as the reference flag")
    func positionPolicies() throws {
        let store = try WeightStore.load(directory: Self.dir)
        var config = try ASTConfig(contentsOf: Self.dir.appendingPathComponent("config.json"))
        config.maxLength = 76  // (76 − 16)/10 + 1 = 7 time patches instead of 4
        let interpolated = try ASTModel(config: config, at: store.root)
        let table = interpolated.embeddings.positionEmbeddings
        #expect(table.shape == [1, 9, 32])
        let stored = store.tensors["embeddings.position_embeddings"]!
        // Class and distillation positions are copied; the first and last grid positions equal
        // the stored first/last ones (bilinear with clamping at the edges when upsampling 4→7).
        #expect(Array(table.storage[0..<64]) == Array(stored.storage[0..<64]))
        #expect(Array(table.storage[64..<96]) == Array(stored.storage[64..<96]))
        #expect(Array(table.storage[(8 * 32)..<(9 * 32)]) == Array(stored.storage[(5 * 32)..<(6 * 32)]))
        #expect(!table.requiresGrad)
        let zero = try ASTModel(config: config, positionPolicy: .zeros, at: try WeightStore.load(directory: Self.dir).root)
        #expect(zero.embeddings.positionEmbeddings.storage.allSatisfy { $0 == 0 })
        let x = randomTensor([1, 76, 16], seed: 3, requiresGrad: false)
        #expect(try interpolated(x).lastHiddenState.shape == [1, 9, 32])
    }

    @Test("wrong input size is one clear error")
    func badInput() throws {
        let model = try ASTCheckpoint.loadEncoder(directory: Self.dir)
        #expect(throws: ASTError.self) { try model(Tensor.zeros([1, 40, 16])) }
        do { _ = try model(Tensor.zeros([1, 48, 8])) } catch { #expect("\(error)".contains("max_length")) }
    }
}

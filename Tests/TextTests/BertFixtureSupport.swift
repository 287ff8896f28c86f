import Core
import Foundation
import Testing
import TestSupport
import Text

/// Shared inputs of the MiniLM fixture tests: the real all-MiniLM-L6-v2 (installed by
/// `make models`) and `fixtures/minilm/*` made by transformers 5.24 / peft 0.21 (see the
/// fixtures README, "Model fixtures"). Tolerance is the README's: 1e-4 absolute on hidden states.
enum BertFixtures {
    static let tolerance: Float = 1e-4

    /// The MiniLM folder, or an error saying to run `make models`.
    static func miniLMFolder() throws -> String { try Fixtures.miniLMFolder() }

    /// A fixture file's tensors (read by TestSupport's independent reader).
    static func tensors(_ relative: String) throws -> [String: Tensor] {
        try FixtureTensors.load(TestPaths.fixture("minilm/" + relative))
    }

    /// The padded batch of `forward.safetensors` as model input.
    static func forwardInput() throws -> (input: BertInput, io: [String: Tensor]) {
        let io = try tensors("forward.safetensors")
        let ids = try #require(io["input_ids"]), mask = try #require(io["attention_mask"]), types = try #require(io["token_type_ids"])
        let input = try BertInput(inputIDs: ids.storage.map { Int($0) }, batch: ids.shape[0], length: ids.shape[1],
                                  attentionMask: mask.storage.map { Int($0) }, tokenTypeIDs: types.storage.map { Int($0) })
        return (input, io)
    }

    /// Records a failure naming `what` when `got` and `expected` differ by more than `atol`.
    static func expectClose(_ got: Tensor, _ expected: Tensor?, atol: Float = tolerance, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = expected else { Issue.record("\(what): reference tensor missing", sourceLocation: sourceLocation); return }
        #expect(got.shape == e.shape, "\(what): shape \(got.shape) vs \(e.shape)", sourceLocation: sourceLocation)
        #expect(allClose(got, e, atol: atol, rtol: 0), "\(what): \(differenceReport(got, e))", sourceLocation: sourceLocation)
    }

    /// Largest |got − expected| relative to the reference tensor's largest magnitude (the
    /// fixtures README's gradient criterion).
    static func relativeError(_ got: Tensor, _ expected: Tensor) -> Float {
        let scale = expected.storage.reduce(0) { max($0, abs($1)) }
        return (maxAbsDifference(got, expected) ?? .infinity) / max(scale, 1e-30)
    }
}

import Core
import Foundation

/// Masked-LM perplexity on a fixed set of sequences with fixed masks: `exp` of the mean
/// cross-entropy over every picked position of every sequence (token-weighted, as
/// `run_mlm.py` reports `exp(eval_loss)` up to its per-batch averaging). Sequence `i` is always
/// masked with stream `i` of `masking`, so two evaluations (before and after training) score
/// exactly the same positions with exactly the same corruption.
///
/// ```swift
/// let eval = MLMPerplexity(sequences: heldOut.sequences, masking: fixedMasking)
/// let before = try eval.evaluate(model).perplexity
/// ```
public struct MLMPerplexity: Sendable {
    public let sequences: [[Int]]
    public let masking: MLMMasking
    public var batchSize = 32

    public init(sequences: [[Int]], masking: MLMMasking) {
        self.sequences = sequences
        self.masking = masking
    }

    /// Mean loss, perplexity and the number of scored positions. The model is put in eval mode
    /// for the pass and returned to its previous mode.
    public func evaluate(_ model: BertForMaskedLM) throws -> (loss: Double, perplexity: Double, positions: Int) {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        var sum = 0.0, count = 0
        var start = 0
        while start < sequences.count {
            let end = min(start + batchSize, sequences.count)
            let batch = try masking.batch(Array(sequences[start..<end]), streams: (start..<end).map { UInt64($0) })
            start = end
            guard !batch.positions.isEmpty else { continue }
            let loss = try withoutGrad { try model.loss(batch).loss }
            sum += Double(loss.item) * Double(batch.positions.count)
            count += batch.positions.count
        }
        guard count > 0 else {
            throw DAPTError("the held-out text gave no masked position to score; give more text or a larger held-out share")
        }
        let mean = sum / Double(count)
        return (mean, Foundation.exp(mean), count)
    }
}

import Core

/// The training loss of the two streams.
///
/// PeftCD trains with plain cross-entropy for 15 000 steps of 32 pairs. On CPU budgets of a few
/// hundred small steps, with change covering ~5 % of the pixels, cross-entropy spends those steps
/// learning the base rate ("nothing changed" is 95 % right) before it finds the change; a soft
/// Dice term on the change class weighs the few changed pixels as much as the rest and gets
/// there in far fewer steps (the usual CE + Dice of change-detection code bases).
public enum ChangeLoss: String, Codable, Sendable, CaseIterable {
    /// PeftCD: the mean of the two streams' pixel cross-entropies.
    case crossEntropy = "ce"
    /// Cross-entropy plus soft Dice of the change class, each averaged over the two streams.
    case diceCrossEntropy = "dice-ce"
}

extension ChangeDetectionNetwork {
    /// Soft Dice loss of the change class for logits `[B, 2, H, W]` and 0/1 labels (row-major
    /// `[B, H, W]`): `1 − (2·Σ p·y + 1) / (Σ p + Σ y + 1)` with `p = softmax(logits)[1]`
    /// `= σ(l₁ − l₀)`, summed over the whole batch; the +1 keeps batches without change finite
    /// (then the loss pushes every `p` to 0).
    public static func softDice(_ logits: Tensor, labels: [Int]) -> Tensor {
        let (b, h, w) = (logits.shape[0], logits.shape[2], logits.shape[3])
        precondition(logits.shape[1] == 2 && labels.count == b * h * w, "softDice: logits \(logits.shape) for \(labels.count) labels")
        let p = (logits.slice(axis: 1, 1..<2) - logits.slice(axis: 1, 0..<1)).sigmoid()
        let y = Tensor(labels.map { $0 != 0 ? Float(1) : 0 }, shape: [b, 1, h, w])
        let positives = Float(labels.reduce(0) { $0 + ($1 != 0 ? 1 : 0) })
        let overlap = (p * y).sum()
        return 1 - (overlap * 2 + 1) / (p.sum() + (positives + 1))
    }

    /// The loss `kind` of the two streams against the same label.
    public static func loss(_ a: Tensor, _ b: Tensor, labels: [Int], kind: ChangeLoss) -> Tensor {
        let ce = loss(a, b, labels: labels)
        switch kind {
        case .crossEntropy: return ce
        case .diceCrossEntropy: return ce + (softDice(a, labels: labels) + softDice(b, labels: labels)) * 0.5
        }
    }
}

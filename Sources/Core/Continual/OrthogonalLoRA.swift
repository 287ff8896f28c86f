/// O-LoRA's orthogonality loss (Wang et al. 2023): each task trains a fresh LoRA while earlier
/// tasks' LoRAs stay frozen, and the new down-projections A_t are pushed to be orthogonal to the
/// earlier ones, so each task's update lives in its own subspace:
///
///     L_orth = Σ_layers Σ_{s < t} ‖A_t A_sᵀ‖²_F       (A: [r, in])
///
/// The paper sums absolute values of A_t A_sᵀ's entries; the squared Frobenius form used here is
/// smooth at 0 and has the same minimisers (all products zero).
///
/// ```swift
/// let extra = OrthogonalLoRA.loss(peft: peft, current: "task2", previous: ["task0", "task1"])
/// let total = taskLoss + extra * lambda
/// ```
public enum OrthogonalLoRA {
    /// Σ over pairs of ‖A_current A_previousᵀ‖²_F (previous matrices are constants).
    public static func loss(current: [Tensor], previous: [[Tensor]]) -> Tensor? {
        var total: Tensor?
        for (i, a) in current.enumerated() {
            for prev in previous where i < prev.count {
                let p = prev[i].detached()
                guard p.shape.count == 2, a.shape.count == 2, p.shape[1] == a.shape[1] else { continue }
                let term = a.matmul(p.transposed()).square().sum()
                total = total.map { $0 + term } ?? term
            }
        }
        return total
    }

    /// The loss over the LoRA layers of adapter `current` against adapters `previous` of a
    /// PEFT model, matched by module key. Nil when nothing pairs up.
    public static func loss(peft: PeftModel, current: String, previous: [String]) -> Tensor? {
        let cur = peft.adapters(named: current).compactMap { e in (e.adapter as? LoRA).map { (e.key, $0.loraA) } }
        let keys = cur.map(\.0)
        let prev = previous.map { name -> [Tensor] in
            let byKey = Dictionary(peft.adapters(named: name).compactMap { e in (e.adapter as? LoRA).map { (e.key, $0.loraA) } },
                                   uniquingKeysWith: { a, _ in a })
            // Keep positions aligned with `cur`: a missing layer gets an empty placeholder that pairs with nothing.
            return keys.map { byKey[$0] ?? Tensor([], shape: [0]) }
        }
        return loss(current: cur.map(\.1), previous: prev)
    }
}

import Core

/// Fuzzy-logic connectives of CQD. Truth values live in [0, 1]; all operations broadcast and
/// are Core tensor ops, so gradients reach a score adapter (CQD-A) through them.
public enum TNorm: String, Sendable, CaseIterable {
    /// Product: ⊤(a, b) = a·b, ⊥(a, b) = a + b − a·b.
    case product = "prod"
    /// Gödel: ⊤(a, b) = min(a, b), ⊥(a, b) = max(a, b).
    case godel = "min"

    /// Conjunction ⊤(a, b).
    public func and(_ a: Tensor, _ b: Tensor) -> Tensor {
        switch self {
        case .product: return a * b
        case .godel: return -elementwiseMax(-a, -b)
        }
    }

    /// Disjunction ⊥(a, b).
    public func or(_ a: Tensor, _ b: Tensor) -> Tensor {
        switch self {
        case .product: return a + b - a * b
        case .godel: return elementwiseMax(a, b)
        }
    }

    /// Negation ¬a = 1 − a (the standard strong negation CQD-A uses).
    public func not(_ a: Tensor) -> Tensor { 1 - a }
}

/// max(a, b) elementwise with broadcasting, through `stack` + `max(axis:)` so the gradient
/// goes to the larger input (as torch.maximum's does, up to ties).
func elementwiseMax(_ a: Tensor, _ b: Tensor) -> Tensor {
    let shape = broadcastShape(a.shape, b.shape)
    return Tensor.stack([a.expand(to: shape), b.expand(to: shape)]).max(axis: 0)
}

func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let n = max(a.count, b.count)
    let pa = [Int](repeating: 1, count: n - a.count) + a, pb = [Int](repeating: 1, count: n - b.count) + b
    return zip(pa, pb).map { max($0, $1) }
}

/// How raw link-predictor scores become truth values in [0, 1].
public enum AtomNormalization: String, Sendable, CaseIterable {
    /// σ(φ): the CQD / CQD-A default.
    case sigmoid
    /// Per-row min-max to [0, 1], clamped below at 0.01 (KGReasoning's option; keeps products non-zero).
    case minMax = "minmax"

    public func apply(_ scores: Tensor) -> Tensor {
        switch self {
        case .sigmoid:
            return scores.sigmoid()
        case .minMax:
            let lo = -(-scores).max(axis: -1, keepDims: true)
            let shifted = scores - lo
            let hi = shifted.max(axis: -1, keepDims: true)
            return (shifted / (hi + 1e-12)).clamp(min: 1e-2)
        }
    }
}

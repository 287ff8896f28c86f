import Core

/// Largest absolute difference between two tensors of the same shape (nil when shapes differ).
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float? {
    guard a.shape == b.shape else { return nil }
    return zip(a.storage, b.storage).reduce(0) { Swift.max($0, Swift.abs($1.0 - $1.1)) }
}

/// Whether every element satisfies |a − b| ≤ atol + rtol·|b|, with equal shapes.
public func allClose(_ a: Tensor, _ b: Tensor, atol: Float = 1e-5, rtol: Float = 1e-5) -> Bool {
    guard a.shape == b.shape else { return false }
    return zip(a.storage, b.storage).allSatisfy { Swift.abs($0 - $1) <= atol + rtol * Swift.abs($1) }
}

/// A one-line explanation of how two tensors differ, for failure messages.
public func differenceReport(_ a: Tensor, _ b: Tensor) -> String {
    guard a.shape == b.shape else { return "shape \(a.shape) vs \(b.shape)" }
    var worst = 0, worstDiff: Float = 0
    for i in 0..<a.count where Swift.abs(a.storage[i] - b.storage[i]) > worstDiff {
        worstDiff = Swift.abs(a.storage[i] - b.storage[i])
        worst = i
    }
    return "max |diff| \(worstDiff) at \(worst): \(a.count > 0 ? a.storage[worst] : 0) vs \(b.count > 0 ? b.storage[worst] : 0); a=\(a) b=\(b)"
}

/// Seeded random tensor for tests (normal, optionally requiring grad).
public func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 1, requiresGrad: Bool = true) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor.normal(shape, std: std, using: &rng, requiresGrad: requiresGrad)
}

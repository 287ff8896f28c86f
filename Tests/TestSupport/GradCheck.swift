import Core

/// Result of comparing autograd gradients with central finite differences.
public struct GradCheckResult: CustomStringConvertible {
    /// Largest |analytic − numeric| / (atol + rtol·|numeric|) over all checked entries; ≤ 1 passes.
    public var worstRatio: Double
    public var worstInput: Int
    public var worstIndex: Int
    public var analytic: Double
    public var numeric: Double
    public var passed: Bool { worstRatio <= 1 }
    public var description: String {
        "gradCheck worst at input \(worstInput)[\(worstIndex)]: analytic \(analytic) vs numeric \(numeric) (ratio \(worstRatio))"
    }
}

/// Checks the gradients of `f` with respect to every input that requires grad, by central
/// differences. The output is reduced to a scalar with fixed pseudo-random weights (so every
/// output element matters and symmetric outputs cannot cancel); the scalar is accumulated in
/// Double. `eps` is the probe step in Float.
public func gradCheck(
    _ inputs: [Tensor], eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 2e-2, seed: UInt64 = 7,
    _ f: ([Tensor]) -> Tensor
) -> GradCheckResult {
    let probe = f(inputs)
    var rng = SplitMix64(seed: seed)
    let weights = (0..<probe.count).map { _ in Double(rng.nextUnitFloat()) * 2 - 1 }
    func scalar(_ out: Tensor) -> Double {
        zip(out.storage, weights).reduce(0.0) { $0 + Double($1.0) * $1.1 }
    }
    for x in inputs { x.zeroGrad() }
    let out = f(inputs)
    let w = Tensor(weights.map { Float($0) }, shape: out.shape)
    (out * w).sum().backward()

    var result = GradCheckResult(worstRatio: 0, worstInput: -1, worstIndex: -1, analytic: 0, numeric: 0)
    for (n, x) in inputs.enumerated() where x.requiresGrad {
        let analytic = x.gradStorage ?? [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let saved = x.storage[i]
            x.storage[i] = saved + eps
            let plus = withoutGrad { scalar(f(inputs)) }
            x.storage[i] = saved - eps
            let minus = withoutGrad { scalar(f(inputs)) }
            x.storage[i] = saved
            let numeric = (plus - minus) / (2 * Double(eps))
            let a = Double(analytic[i])
            let ratio = Swift.abs(a - numeric) / (atol + rtol * Swift.abs(numeric))
            if ratio > result.worstRatio {
                result = GradCheckResult(worstRatio: ratio, worstInput: n, worstIndex: i, analytic: a, numeric: numeric)
            }
        }
    }
    return result
}

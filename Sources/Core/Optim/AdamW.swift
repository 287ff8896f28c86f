import Foundation

/// AdamW with decoupled weight decay, the same update as `torch.optim.AdamW`
/// (amsgrad off, not maximising). For a parameter p with gradient g at step t (1-based):
///
///     p ← p − lr·λ·p                      (decay first, on the pre-update value)
///     m ← β₁·m + (1−β₁)·g
///     v ← β₂·v + (1−β₂)·g²
///     p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
///
/// The bias corrections are computed in Double and the per-element arithmetic in Float, in
/// the order PyTorch's single-tensor path uses, so values agree to Float rounding.
public final class AdamW: Optimizer {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double
    public var decayRule: WeightDecayRule

    /// Per-parameter state.
    struct Slot { var m: [Float]; var v: [Float]; var step: Int }
    private var slots: [String: Slot] = [:]

    /// Defaults are PyTorch's: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0.01, decayRule: WeightDecayRule = .all) {
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay
        self.decayRule = decayRule
    }

    /// Number of updates applied to parameter `name` so far.
    public func stepCount(_ name: String) -> Int { slots[name]?.step ?? 0 }

    public func step(_ parameters: [(String, Tensor)]) {
        for (name, p) in parameters {
            guard let g = p.gradStorage else { continue }
            update(name: name, parameter: p, gradient: g)
        }
        // After every update (numerics untouched): observers such as TriAdaptLoRA's growth.
        OptimizerStepHooks.notify(self, parameters: parameters)
    }

    /// The update of one tensor.
    func update(name: String, parameter p: Tensor, gradient g: [Float]) {
        var slot = slots[name] ?? Slot(m: [Float](repeating: 0, count: p.count), v: [Float](repeating: 0, count: p.count), step: 0)
        slot.step += 1
        // Scalar coefficients in Double, then rounded to Float once, as PyTorch does with Python floats.
        let lr = learningRate, t = Double(slot.step)
        let decay = Float(decayRule.applies(to: name) ? 1 - lr * weightDecay : 1)
        let w1 = Float(1 - beta1), b2 = Float(beta2), w2 = Float(1 - beta2), eps = Float(eps)
        let stepSize = Float(lr / (1 - Foundation.pow(beta1, t)))
        let bc2Sqrt = Float((1 - Foundation.pow(beta2, t)).squareRoot())
        p.storage.withUnsafeMutableBufferPointer { w in
            slot.m.withUnsafeMutableBufferPointer { m in
                slot.v.withUnsafeMutableBufferPointer { v in
                    g.withUnsafeBufferPointer { gr in
                        for i in 0..<w.count {
                            w[i] *= decay
                            m[i] += w1 * (gr[i] - m[i])               // torch: exp_avg.lerp_(grad, 1 − β₁)
                            v[i] = v[i] * b2 + w2 * gr[i] * gr[i]     // mul_(β₂).addcmul_(g, g, 1 − β₂)
                            let denom = v[i].squareRoot() / bc2Sqrt + eps
                            w[i] += -stepSize * (m[i] / denom)
                        }
                    }
                }
            }
        }
        slots[name] = slot
    }

    /// Zeroes both moments of `elements` of `name` (its step count is per tensor and stays).
    public func resetState(_ name: String, elements: [Int]) {
        guard var s = slots[name] else { return }
        for i in elements where i >= 0 && i < s.m.count { s.m[i] = 0; s.v[i] = 0 }
        slots[name] = s
    }

    public func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, s) in slots {
            out[name + ".exp_avg"] = Tensor(s.m, shape: [s.m.count])
            out[name + ".exp_avg_sq"] = Tensor(s.v, shape: [s.v.count])
            out[name + ".step"] = Tensor(scalar: Float(s.step))
        }
        return out
    }

    public func loadStateDict(_ state: [String: Tensor], for parameters: [(String, Tensor)]) throws {
        let entries = try OptimizerState.validate(state, parameters: parameters) { entry, shape in
            switch entry {
            case "exp_avg", "exp_avg_sq": return [shape.reduce(1, *)]
            case "step": return []
            default: return nil
            }
        }
        var restored: [String: Slot] = [:]
        for (key, (param, entry)) in entries {
            let n = parameters.first { $0.0 == param }!.1.count
            var s = restored[param] ?? Slot(m: [Float](repeating: 0, count: n), v: [Float](repeating: 0, count: n), step: 0)
            let t = state[key]!
            switch entry {
            case "exp_avg": s.m = t.storage
            case "exp_avg_sq": s.v = t.storage
            default:
                // A float from the file: Int(_:) traps on NaN, infinities and |x| >= 2^63.
                let v = t.item
                guard v.isFinite, v >= 0, v < 1e15, v == v.rounded() else {
                    throw OptimizerError.badStateValue(key: key, value: "\(v)")
                }
                s.step = Int(v)
            }
            restored[param] = s
        }
        slots = restored
    }
}

import Foundation

/// Learning-rate schedules as multipliers of a base rate, following Hugging Face's
/// `transformers.optimization` (which drive PyTorch's `LambdaLR`). Step `s` is the number of
/// optimizer steps already taken: the first update uses `s = 0`, so with warmup it has
/// learning rate 0, exactly as HF's schedulers do.
///
/// ```swift
/// let schedule = LRSchedule.cosine(warmup: 100, total: 1000)
/// opt.learningRate = schedule.learningRate(at: step, base: 1e-3)
/// ```
public enum LRSchedule: Sendable, Equatable {
    /// Always the base rate (`get_constant_schedule`), or after a linear warmup
    /// (`get_constant_schedule_with_warmup`).
    case constant(warmup: Int = 0)
    /// Linear warmup from 0, then linear decay to 0 at `total` (`get_linear_schedule_with_warmup`).
    case linear(warmup: Int, total: Int)
    /// Linear warmup, then half a cosine period down to `minLR` (absolute) at `total`
    /// (`get_cosine_schedule_with_warmup`; with `minLR > 0`, `get_cosine_with_min_lr_schedule_with_warmup`).
    case cosine(warmup: Int, total: Int, minLR: Double = 0)

    /// The multiplier of the base rate at `step` (HF's `lr_lambda`).
    public func factor(at step: Int, base: Double) -> Double {
        let s = Double(step)
        switch self {
        case let .constant(warmup):
            return step < warmup ? s / Double(max(1, warmup)) : 1
        case let .linear(warmup, total):
            if step < warmup { return s / Double(max(1, warmup)) }
            return max(0, Double(total - step) / Double(max(1, total - warmup)))
        case let .cosine(warmup, total, minLR):
            if step < warmup { return s / Double(max(1, warmup)) }
            let progress = Double(step - warmup) / Double(max(1, total - warmup))
            // HF: 0.5·(1 + cos(π·2·numCycles·progress)) with numCycles = 0.5.
            let cosine = 0.5 * (1 + Foundation.cos(Double.pi * 2 * 0.5 * progress))
            if minLR > 0 && base > 0 {
                let rate = minLR / base
                return max(0, cosine * (1 - rate) + rate)
            }
            return max(0, cosine)
        }
    }

    /// `base · factor(at: step)`.
    public func learningRate(at step: Int, base: Double) -> Double { base * factor(at: step, base: base) }
}

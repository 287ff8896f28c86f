/// Inverted dropout: in training mode each element is zeroed with probability `p` and the
/// survivors are scaled by `1/(1-p)`, so evaluation (identity) needs no rescaling.
///
/// Each instance owns its own `SplitMix64` stream derived from a seed, so masks do not depend
/// on what other layers drew: two runs with the same seeds produce bit-identical masks, and
/// `rngState` can be saved and restored to resume a run exactly.
///
/// ```swift
/// let drop = Dropout(p: 0.1, seed: 42)
/// let y = drop(x)        // identity after model.eval()
/// ```
public final class Dropout: Module {
    /// Probability of zeroing an element, in [0, 1].
    public let p: Float
    /// The generator's state (save it to resume with identical masks).
    public var rngState: SplitMix64

    public init(p: Float, seed: UInt64) {
        precondition(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got \(p)")
        self.p = p
        self.rngState = SplitMix64(seed: seed)
        super.init()
    }

    /// Applies dropout when this module is in training mode.
    public func callAsFunction(_ x: Tensor) -> Tensor { apply(x, training: isTraining) }

    /// Applies dropout when `training` (lets an owner pass its own mode).
    public func apply(_ x: Tensor, training: Bool) -> Tensor {
        guard training, p > 0 else { return x }
        if p >= 1 { return x * Tensor.zeros(x.shape) }
        let keepScale = 1 / (1 - p)
        var mask = [Float](repeating: 0, count: x.count)
        for i in 0..<mask.count where rngState.nextUnitFloat() >= p { mask[i] = keepScale }
        return x * Tensor(mask, shape: x.shape)
    }
}

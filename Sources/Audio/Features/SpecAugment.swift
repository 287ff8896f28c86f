import Core

/// SpecAugment's frequency and time masking (Park et al. 2019), as torchaudio's
/// `FrequencyMasking(F)` / `TimeMasking(T)` (`mask_along_axis`) draw them: a real width
/// w = u₁·P and a real start s = u₂·(size − w) with u₁, u₂ ∈ [0, 1), and the band
/// [⌊s⌋, ⌊s + w⌋) is filled with `fillValue` (so its length is ⌊w⌋ or ⌈w⌉, P/2 on average). AST trains ESC-50 and UrbanSound8K with
/// F = 24, T = 80 (methods.md §5), applied to the fbank before normalisation.
/// Features are `[frames, bins]` (time-major, like `KaldiFbank`'s output).
public struct SpecAugment: Sendable, Equatable {
    /// Maximum frequency-mask width (exclusive), in mel bins.
    public var frequencyMaskParameter: Int
    /// Maximum time-mask width (exclusive), in frames.
    public var timeMaskParameter: Int
    /// Number of frequency masks per example.
    public var frequencyMasks: Int
    /// Number of time masks per example.
    public var timeMasks: Int
    /// Value written into masked cells.
    public var fillValue: Float

    /// Defaults are AST's ESC-50 / UrbanSound8K settings (one mask of each kind, F 24, T 80).
    public init(frequencyMaskParameter: Int = 24, timeMaskParameter: Int = 80, frequencyMasks: Int = 1, timeMasks: Int = 1,
                fillValue: Float = 0) {
        self.frequencyMaskParameter = frequencyMaskParameter
        self.timeMaskParameter = timeMaskParameter
        self.frequencyMasks = frequencyMasks
        self.timeMasks = timeMasks
        self.fillValue = fillValue
    }

    /// One masked band on an axis: `range` of indices.
    public struct Mask: Sendable, Equatable {
        /// Which axis a mask covers.
        public enum Axis: Sendable { case time, frequency }
        /// The masked axis.
        public var axis: Axis
        /// Masked indices along that axis.
        public var range: Range<Int>
    }

    /// Draws the masks for a `[frames, bins]` spectrogram; frequency masks first, then time masks.
    public func drawMasks<G: RandomNumberGenerator>(frames: Int, bins: Int, using rng: inout G) -> [Mask] {
        var masks: [Mask] = []
        func draw(_ parameter: Int, _ size: Int, _ axis: Mask.Axis) {
            let width = Double(rng.nextUnitFloat()) * Double(parameter)
            let start = Double(rng.nextUnitFloat()) * max(0, Double(size) - width)
            let lo = Int(start), hi = min(size, Int(start + width))
            masks.append(Mask(axis: axis, range: lo..<max(lo, hi)))
        }
        for _ in 0..<frequencyMasks { draw(frequencyMaskParameter, bins, .frequency) }
        for _ in 0..<timeMasks { draw(timeMaskParameter, frames, .time) }
        return masks
    }

    /// A masked copy of `features` `[frames, bins]`; the masks come from `rng` (seed it).
    public func callAsFunction<G: RandomNumberGenerator>(_ features: Tensor, using rng: inout G) -> Tensor {
        precondition(features.rank == 2, "SpecAugment: expected [frames, bins], got \(features.shape)")
        let frames = features.shape[0], bins = features.shape[1]
        var values = features.storage
        for mask in drawMasks(frames: frames, bins: bins, using: &rng) {
            switch mask.axis {
            case .frequency:
                for t in 0..<frames { for b in mask.range { values[t * bins + b] = fillValue } }
            case .time:
                for t in mask.range { for b in 0..<bins { values[t * bins + b] = fillValue } }
            }
        }
        return Tensor(values, shape: features.shape)
    }
}

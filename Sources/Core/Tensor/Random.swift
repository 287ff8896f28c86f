import Foundation

/// SplitMix64: a small, fast, seedable generator. Every random choice in PEFTKit takes one
/// of these (or any `RandomNumberGenerator`), so two runs with one seed are bit-identical.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A derived generator for a named sub-stream (e.g. one per layer), independent of call order.
    public func fork(_ salt: UInt64) -> SplitMix64 {
        var g = SplitMix64(seed: state ^ (salt &* 0xD1B5_4A32_D192_ED03))
        _ = g.next()
        return g
    }
}

extension RandomNumberGenerator {
    /// Uniform Float in [0, 1) with 24 random bits.
    @inlinable
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Standard normal by Box–Muller (one value per call; the pair's sibling is discarded
    /// so the stream stays simple to reason about).
    @inlinable
    public mutating func nextNormal() -> Float {
        var u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}


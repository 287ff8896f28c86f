import Audio
import Core
import Foundation
import Testing
import TestSupport

@Suite struct SpecAugmentTests {
    static let features = randomTensor([300, 128], seed: 5, requiresGrad: false)

    /// The same seed gives the same masks; every cell is either untouched or the fill value, and
    /// the filled cells are exactly the drawn bands.
    @Test func seededMasksAreReproducibleAndExact() {
        let aug = SpecAugment(frequencyMaskParameter: 24, timeMaskParameter: 80, frequencyMasks: 2, timeMasks: 2, fillValue: -7)
        var r1 = SplitMix64(seed: 42), r2 = SplitMix64(seed: 42), r3 = SplitMix64(seed: 42)
        let a = aug(Self.features, using: &r1)
        let b = aug(Self.features, using: &r2)
        #expect(a.storage == b.storage)
        let masks = aug.drawMasks(frames: 300, bins: 128, using: &r3)
        #expect(masks.count == 4)
        for t in 0..<300 {
            for f in 0..<128 {
                let masked = masks.contains { m in m.axis == .time ? m.range.contains(t) : m.range.contains(f) }
                let v = a.storage[t * 128 + f]
                #expect(masked ? v == -7 : v == Self.features.storage[t * 128 + f])
            }
        }
        var other = SplitMix64(seed: 43)
        #expect(aug(Self.features, using: &other).storage != a.storage)
    }

    /// torchaudio's draw: real width w = u·P, band [⌊s⌋, ⌊s + w⌋), so the length is ⌊w⌋ plus a
    /// Bernoulli(frac w) carry: mean P/2, variance P²/12 + at most 1/4, never more than P.
    /// Checked over 4000 seeded draws: the mean is within 4 standard errors.
    @Test func widthsFollowTorchaudioDistribution() {
        let aug = SpecAugment(frequencyMaskParameter: 24, timeMaskParameter: 80)
        var rng = SplitMix64(seed: 9)
        var freqWidths: [Int] = [], timeWidths: [Int] = []
        for _ in 0..<4000 {
            for m in aug.drawMasks(frames: 300, bins: 128, using: &rng) {
                let size = m.axis == .time ? 300 : 128
                #expect(m.range.lowerBound >= 0 && m.range.upperBound <= size)
                if m.axis == .time { timeWidths.append(m.range.count) } else { freqWidths.append(m.range.count) }
            }
        }
        #expect(freqWidths.max()! <= 24 && freqWidths.max()! >= 23 && freqWidths.min() == 0)
        #expect(timeWidths.max()! <= 80 && timeWidths.max()! >= 78 && timeWidths.min() == 0)
        func mean(_ x: [Int]) -> Double { Double(x.reduce(0, +)) / Double(x.count) }
        #expect(abs(mean(freqWidths) - 12) < 4 * (576.0 / 12 + 0.25).squareRoot() / 4000.0.squareRoot())
        #expect(abs(mean(timeWidths) - 40) < 4 * (6400.0 / 12 + 0.25).squareRoot() / 4000.0.squareRoot())
    }

    /// A time-mask parameter longer than the clip (GSC clips are 100 frames) stays inside it.
    @Test func maskWiderThanAxisIsClamped() {
        let aug = SpecAugment(frequencyMaskParameter: 200, timeMaskParameter: 80)
        var rng = SplitMix64(seed: 1)
        for _ in 0..<200 {
            for m in aug.drawMasks(frames: 10, bins: 8, using: &rng) {
                #expect(m.range.lowerBound >= 0 && m.range.upperBound <= (m.axis == .time ? 10 : 8))
            }
        }
    }
}

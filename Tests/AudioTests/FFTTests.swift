import Audio
import Core
import Foundation
import Testing

/// The FFTs against a naive O(n²) DFT evaluated in Double with exactly reduced angles.
@Suite struct FFTTests {
    /// X[k] = Σ_j x[j]·exp(−2πi·jk/n); jk is reduced mod n before the angle is formed so the
    /// reference itself stays accurate for large n.
    static func naiveDFT(_ x: [Complex]) -> [Complex] {
        let n = x.count
        return (0..<n).map { k in
            var re = 0.0, im = 0.0
            for j in 0..<n {
                let angle = -2 * Double.pi * Double((j * k) % n) / Double(n)
                re += x[j].re * cos(angle) - x[j].im * sin(angle)
                im += x[j].re * sin(angle) + x[j].im * cos(angle)
            }
            return Complex(re, im)
        }
    }

    static func randomComplex(_ n: Int, seed: UInt64) -> [Complex] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Complex(Double(rng.nextUnitFloat()) * 2 - 1, Double(rng.nextUnitFloat()) * 2 - 1) }
    }

    static func maxError(_ a: [Complex], _ b: [Complex]) -> Double {
        zip(a, b).map { (($0.re - $1.re) * ($0.re - $1.re) + ($0.im - $1.im) * ($0.im - $1.im)).squareRoot() }.max() ?? 0
    }

    // Sizes cover radix 4, 2, 3, 5, 7 and other direct primes ≤ 31, Bluestein primes (37, 97, 101,
    // 401) and composites with a Bluestein factor (2·101), plus Whisper's 400 and Kaldi's 512.
    static let sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 25, 30, 31, 37, 49, 64, 97, 100, 128, 202, 243, 400, 401, 512, 1000]

    @Test(arguments: sizes)
    func complexMatchesNaiveDFT(n: Int) {
        let x = Self.randomComplex(n, seed: UInt64(n))
        let fast = ComplexFFT(count: n).forward(x)
        let slow = Self.naiveDFT(x)
        // Inputs are O(1), outputs O(√n); Double round-off grows like ε·log n for the FFT and
        // ε·n for the naive sum, so 1e-11·√n leaves a wide margin over both at n ≤ 1000.
        let err = Self.maxError(fast, slow)
        #expect(err < 1e-11 * Double(n).squareRoot() + 1e-13, "n=\(n) max error \(err)")
    }

    @Test(arguments: sizes + [2 * 37, 2 * 401])
    func realMatchesNaiveDFT(n: Int) {
        var rng = SplitMix64(seed: 1000 + UInt64(n))
        let x = (0..<n).map { _ in Double(rng.nextUnitFloat()) * 2 - 1 }
        let plan = RealFFT(count: n)
        let fast = plan.forward(x)
        #expect(fast.count == n / 2 + 1)
        let slow = Array(Self.naiveDFT(x.map { Complex($0, 0) }).prefix(n / 2 + 1))
        let err = Self.maxError(fast, slow)
        #expect(err < 1e-11 * Double(n).squareRoot() + 1e-13, "n=\(n) max error \(err)")
    }

    /// Hand-worked values: the DFT of [1, 2, 3, 4] is [10, −2+2i, −2, −2−2i]; a unit impulse at
    /// position 1 of 400 gives exp(−2πik/400), so bin 100 is −i.
    @Test func handWorkedValues() {
        let out = ComplexFFT(count: 4).forward([Complex(1, 0), Complex(2, 0), Complex(3, 0), Complex(4, 0)])
        #expect(out == [Complex(10, 0), Complex(-2, 2), Complex(-2, 0), Complex(-2, -2)])
        var impulse = [Double](repeating: 0, count: 400)
        impulse[1] = 1
        let bins = RealFFT(count: 400).forward(impulse)
        #expect(abs(bins[100].re) < 1e-15 && abs(bins[100].im + 1) < 1e-15)
        #expect(abs(bins[200].re + 1) < 1e-15 && abs(bins[200].im) < 1e-15)
    }

    /// Parseval: Σ|x|² = (1/n)·Σ|X|² over the full spectrum, for a Bluestein size.
    @Test func parsevalHoldsForBluesteinSize() {
        let x = Self.randomComplex(1009, seed: 3)
        let spectrum = ComplexFFT(count: 1009).forward(x)
        let time = x.reduce(0) { $0 + $1.squaredMagnitude }
        let freq = spectrum.reduce(0) { $0 + $1.squaredMagnitude } / 1009
        #expect(abs(time - freq) / time < 1e-12)
    }
}

import Foundation

/// A complex number in Double, the element type of our FFTs.
public struct Complex: Sendable, Equatable {
    /// Real part.
    public var re: Double
    /// Imaginary part.
    public var im: Double
    /// re + i·im.
    @inlinable public init(_ re: Double, _ im: Double) {
        self.re = re
        self.im = im
    }
    /// |z|².
    @inlinable public var squaredMagnitude: Double { re * re + im * im }
    /// re − i·im.
    @inlinable public var conjugate: Complex { Complex(re, -im) }
    @inlinable static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
    @inlinable static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
    @inlinable static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    @inlinable static func * (a: Complex, s: Double) -> Complex { Complex(a.re * s, a.im * s) }
    /// Multiplication by −i.
    @inlinable var timesMinusI: Complex { Complex(im, -re) }
}

/// Forward complex DFT of a fixed size, `X[k] = Σ_j x[j]·exp(−2πi·jk/n)` (no scaling).
///
/// Mixed-radix decimation in time: the size is split into factors 4, 2, 3, 5 and any other prime up
/// to 31, each stage a butterfly over the sub-transforms (radix 2 and 4 hand-written, the others
/// by a direct small DFT). Sizes with a prime factor above 31 go through Bluestein's chirp-z
/// algorithm over a power-of-two transform, so every size costs O(n log n).
/// The plan is immutable, so one plan may be used from several threads at once.
public final class ComplexFFT: Sendable {
    /// Transform length.
    public let count: Int
    /// Radices in the order the recursion applies them.
    let factors: [Int]
    /// exp(−2πi·k/n) for k in 0..<n.
    let twiddles: [Complex]
    /// Set when `count` has a prime factor too large for a direct butterfly.
    let bluestein: Bluestein?

    /// Largest prime handled by a direct butterfly; larger primes use Bluestein.
    static let largestDirectPrime = 31

    /// Plans a transform of `count` ≥ 1 points.
    public init(count: Int) {
        precondition(count >= 1, "ComplexFFT: size must be at least 1, got \(count)")
        self.count = count
        let factors = ComplexFFT.factorize(count)
        if factors.contains(where: { $0 > ComplexFFT.largestDirectPrime }) {
            self.factors = []
            self.twiddles = []
            self.bluestein = Bluestein(count: count)
        } else {
            self.factors = factors
            self.twiddles = (0..<count).map { k in
                let angle = -2 * Double.pi * Double(k) / Double(count)
                return Complex(cos(angle), sin(angle))
            }
            self.bluestein = nil
        }
    }

    /// Radices for `n`: as many 4s as possible, then a 2, then odd primes ascending.
    static func factorize(_ n: Int) -> [Int] {
        var n = n
        var out: [Int] = []
        while n % 4 == 0 { out.append(4); n /= 4 }
        if n % 2 == 0 { out.append(2); n /= 2 }
        var p = 3
        while p * p <= n {
            while n % p == 0 { out.append(p); n /= p }
            p += 2
        }
        if n > 1 { out.append(n) }
        return out
    }

    /// Transforms `count` values from `input` into `output` (which must not overlap `input`).
    public func forward(_ input: UnsafePointer<Complex>, _ output: UnsafeMutablePointer<Complex>) {
        if let bluestein {
            bluestein.forward(input, output)
        } else if count == 1 {
            output[0] = input[0]
        } else {
            twiddles.withUnsafeBufferPointer { tw in
                work(output, input, stride: 1, level: 0, tw.baseAddress!)
            }
        }
    }

    /// Convenience form returning a new array.
    public func forward(_ input: [Complex]) -> [Complex] {
        precondition(input.count == count, "ComplexFFT: expected \(count) values, got \(input.count)")
        var out = [Complex](repeating: Complex(0, 0), count: count)
        input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { forward(src.baseAddress!, $0.baseAddress!) }
        }
        return out
    }

    /// One level of the recursion: `output[0..<p·m]` receives the DFT of the `p·m` inputs
    /// `input[0], input[stride], …`, where p is this level's radix and m the rest of the size.
    private func work(
        _ output: UnsafeMutablePointer<Complex>, _ input: UnsafePointer<Complex>, stride: Int, level: Int,
        _ tw: UnsafePointer<Complex>
    ) {
        let p = factors[level]
        let m = count / (stride * p)
        if m == 1 {
            for j in 0..<p { output[j] = input[j * stride] }
        } else {
            // Sub-sequence q holds inputs q, q+p, q+2p, … (in units of `stride`).
            for q in 0..<p {
                work(output + q * m, input + q * stride, stride: stride * p, level: level + 1, tw)
            }
        }
        switch p {
        case 2: butterfly2(output, stride, m, tw)
        case 4: butterfly4(output, stride, m, tw)
        default: butterflyGeneric(output, stride, m, p, tw)
        }
    }

    private func butterfly2(_ out: UnsafeMutablePointer<Complex>, _ stride: Int, _ m: Int, _ tw: UnsafePointer<Complex>) {
        for k in 0..<m {
            let t = out[k + m] * tw[k * stride]
            out[k + m] = out[k] - t
            out[k] = out[k] + t
        }
    }

    private func butterfly4(_ out: UnsafeMutablePointer<Complex>, _ stride: Int, _ m: Int, _ tw: UnsafePointer<Complex>) {
        for k in 0..<m {
            let a0 = out[k]
            let a1 = out[k + m] * tw[k * stride]
            let a2 = out[k + 2 * m] * tw[2 * k * stride]
            let a3 = out[k + 3 * m] * tw[3 * k * stride]
            let b0 = a0 + a2, b1 = a0 - a2, b2 = a1 + a3, b3 = a1 - a3
            // exp(−2πi/4) = −i, so X1 = b1 − i·b3 and X3 = b1 + i·b3.
            out[k] = b0 + b2
            out[k + 2 * m] = b0 - b2
            out[k + m] = b1 + b3.timesMinusI
            out[k + 3 * m] = b1 - b3.timesMinusI
        }
    }

    /// Direct p-point DFT across the p sub-transforms, twiddles folded into the sum:
    /// output index u + q1·m gets Σ_q s_q · W_n^{q·stride·(u + q1·m)}.
    private func butterflyGeneric(
        _ out: UnsafeMutablePointer<Complex>, _ stride: Int, _ m: Int, _ p: Int, _ tw: UnsafePointer<Complex>
    ) {
        let n = count
        withUnsafeTemporaryAllocation(of: Complex.self, capacity: p) { scratch in
            for u in 0..<m {
                for q in 0..<p { scratch[q] = out[u + q * m] }
                for q1 in 0..<p {
                    let k = u + q1 * m
                    var acc = scratch[0]
                    var index = 0
                    let step = (stride * k) % n
                    for q in 1..<p {
                        index += step
                        if index >= n { index -= n }
                        acc = acc + scratch[q] * tw[index]
                    }
                    out[k] = acc
                }
            }
        }
    }
}

/// Bluestein's algorithm: a DFT of any size n as a circular convolution of length M ≥ 2n − 1
/// (a power of two), using jk = (j² + k² − (k − j)²)/2.
final class Bluestein: Sendable {
    let count: Int
    let inner: ComplexFFT
    /// exp(−πi·k²/n) for k in 0..<n.
    let chirp: [Complex]
    /// FFT of the conjugate chirp arranged circularly, pre-divided by M (the inverse's scale).
    let kernelSpectrum: [Complex]

    init(count n: Int) {
        count = n
        var m = 1
        while m < 2 * n - 1 { m <<= 1 }
        inner = ComplexFFT(count: m)
        // k² mod 2n keeps the angle argument small, so the chirp stays accurate for large n.
        chirp = (0..<n).map { k in
            let r = (k * k) % (2 * n)
            let angle = -Double.pi * Double(r) / Double(n)
            return Complex(cos(angle), sin(angle))
        }
        var b = [Complex](repeating: Complex(0, 0), count: m)
        for k in 0..<n {
            b[k] = chirp[k].conjugate
            if k > 0 { b[m - k] = chirp[k].conjugate }
        }
        let spectrum = inner.forward(b)
        let scale = 1 / Double(m)
        kernelSpectrum = spectrum.map { $0 * scale }
    }

    func forward(_ input: UnsafePointer<Complex>, _ output: UnsafeMutablePointer<Complex>) {
        let m = inner.count, n = count
        withUnsafeTemporaryAllocation(of: Complex.self, capacity: 2 * m) { buffer in
            let a = buffer.baseAddress!, spectrum = a + m
            for k in 0..<m { a[k] = k < n ? input[k] * chirp[k] : Complex(0, 0) }
            inner.forward(a, spectrum)
            // Inverse transform as conj(FFT(conj(·))); the 1/M is already in kernelSpectrum.
            for k in 0..<m { spectrum[k] = (spectrum[k] * kernelSpectrum[k]).conjugate }
            inner.forward(spectrum, a)
            for k in 0..<n { output[k] = a[k].conjugate * chirp[k] }
        }
    }
}

/// Forward DFT of real input: n real values → the n/2 + 1 non-negative-frequency bins.
///
/// For even n the input is packed into n/2 complex values (even samples real, odd imaginary),
/// transformed at half size, and the two interleaved spectra separated with one twiddle pass.
/// Odd n uses a full-size complex transform.
public final class RealFFT: Sendable {
    /// Number of real inputs.
    public let count: Int
    /// Number of output bins, n/2 + 1.
    public var binCount: Int { count / 2 + 1 }
    let plan: ComplexFFT
    /// exp(−2πi·k/n) for k in 0...n/2 (even n only).
    let split: [Complex]

    /// Plans a real transform of `count` ≥ 1 points.
    public init(count: Int) {
        precondition(count >= 1, "RealFFT: size must be at least 1, got \(count)")
        self.count = count
        if count % 2 == 0 {
            plan = ComplexFFT(count: count / 2)
            split = (0...(count / 2)).map { k in
                let angle = -2 * Double.pi * Double(k) / Double(count)
                return Complex(cos(angle), sin(angle))
            }
        } else {
            plan = ComplexFFT(count: count)
            split = []
        }
    }

    /// Transforms `count` reals from `input` into `binCount` complex bins at `output`.
    public func forward(_ input: UnsafePointer<Double>, _ output: UnsafeMutablePointer<Complex>) {
        let n = count
        if n % 2 == 1 {
            withUnsafeTemporaryAllocation(of: Complex.self, capacity: 2 * n) { buffer in
                let z = buffer.baseAddress!, spectrum = z + n
                for j in 0..<n { z[j] = Complex(input[j], 0) }
                plan.forward(z, spectrum)
                for k in 0..<binCount { output[k] = spectrum[k] }
            }
            return
        }
        let h = n / 2
        withUnsafeTemporaryAllocation(of: Complex.self, capacity: 2 * h) { buffer in
            let z = buffer.baseAddress!, spectrum = z + h
            for j in 0..<h { z[j] = Complex(input[2 * j], input[2 * j + 1]) }
            plan.forward(z, spectrum)
            // With Z = FFT(z): E[k] = (Z[k] + conj Z[h−k]) / 2 is the even samples' spectrum and
            // O[k] = (Z[k] − conj Z[h−k]) / 2i the odd samples'; X[k] = E[k] + W_n^k·O[k].
            for k in 0...h {
                let zk = spectrum[k % h]
                let zc = spectrum[(h - k) % h].conjugate
                let even = (zk + zc) * 0.5
                let odd = (zk - zc).timesMinusI * 0.5
                output[k] = even + split[k] * odd
            }
        }
    }

    /// Convenience form returning a new array of `binCount` bins.
    public func forward(_ input: [Double]) -> [Complex] {
        precondition(input.count == count, "RealFFT: expected \(count) values, got \(input.count)")
        var out = [Complex](repeating: Complex(0, 0), count: binCount)
        input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { forward(src.baseAddress!, $0.baseAddress!) }
        }
        return out
    }
}

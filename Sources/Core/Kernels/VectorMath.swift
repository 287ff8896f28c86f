/// A branch-free `exp` and the row kernels built on it (softmax rows, exact GELU). libm's `expf`
/// is an opaque call that stops the compiler from vectorising a loop; this `exp` is plain
/// arithmetic and bit operations, so the buffer loops below compile to packed SIMD code (checked
/// in the disassembly: `mulps`/`addps`/`pand`), several times cheaper per element.
///
/// (Swift's generic `SIMD16` helpers such as `pointwiseMax` or `replace(with:where:)` compile to
/// lane-by-lane loops, so the kernels are written as scalar loops and left to the vectoriser.)
public enum VectorMath {
    /// e^x. Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, and Cephes' degree-6 polynomial for
    /// e^r (≤ 2 ulp against libm over the normal range, checked in the tests); 2^n is assembled
    /// in the exponent bits as 2^(n/2)·2^(n−n/2) so both ends of the range fit. x < −87.33 gives
    /// exactly 0 (softmax masks of −1e9 need zeros), x > 88.72 gives +∞.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let lo: Float = -87.33654, hi: Float = 88.72283
        let xc = x < lo ? lo : (x > hi ? hi : x)
        // Round x·log2(e) to an integer by adding 1.5·2²³: the sum's low mantissa bits hold n.
        let magic: Float = 12_582_912
        let t = xc * 1.442695040888963 + magic
        let n = t - magic
        var r = xc - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * (r * r) + r + 1
        let ni = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
        let half = ni &>> 1
        let s1 = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
        let s2 = Float(bitPattern: UInt32(bitPattern: (ni &- half &+ 127) &<< 23))
        let e = y * s1 * s2
        return x < lo ? 0 : (x > hi ? .infinity : e)
    }

    /// e^x for `n` values (`y` may equal `x`). NaN inputs are not propagated (clamped instead).
    @inlinable
    public static func exp(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = exp(x[i]) }
    }

    /// Softmax of one row (`y` may equal `x`), as `SoftmaxKernel.softmaxRow`: the row max is
    /// subtracted first; a row of all −∞ gives zeros.
    @inlinable
    public static func softmaxRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = x[i] > m ? x[i] : m }
        if m == -.infinity {
            for i in 0..<n { y[i] = 0 }
            return
        }
        for i in 0..<n { y[i] = exp(x[i] - m) }
        // Four partial sums: a single running sum would serialise on the add latency.
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            s0 += y[i]; s1 += y[i + 1]; s2 += y[i + 2]; s3 += y[i + 3]
            i += 4
        }
        while i < n { s0 += y[i]; i += 1 }
        let inv = 1 / ((s0 + s1) + (s2 + s3))
        for j in 0..<n { y[j] *= inv }
    }

    /// Φ(x) and φ(x) with the formula of `GELUKernel.normalCDFAndPDF` (Abramowitz & Stegun
    /// 7.1.26 for the tail, one shared exp), branch-free.
    @inlinable @inline(__always)
    public static func normalCDFAndPDF(_ x: Float) -> (cdf: Float, pdf: Float) {
        let e = exp(-0.5 * x * x)
        let ax = x < 0 ? -x : x
        let t = 1 / (1 + (0.3275911 * 0.7071067811865476) * ax)
        let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        let tail = 0.5 * poly * e
        return (x < 0 ? tail : 1 - tail, 0.3989422804014327 * e)
    }

    /// y = x·Φ(x) over `n` values.
    @inlinable
    public static func geluForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] * normalCDFAndPDF(x[i]).cdf }
    }

    /// dx = dy·(Φ(x) + x·φ(x)) over `n` values.
    @inlinable
    public static func geluBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let (cdf, pdf) = normalCDFAndPDF(x[i])
            dx[i] = dy[i] * (cdf + x[i] * pdf)
        }
    }
}

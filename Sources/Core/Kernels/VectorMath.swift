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

    /// e^x for x ≤ 0, as `exp` but with a single 2^n scale (n ≥ −126 after the clamp, so 2^n is a
    /// normal float): the softmax argument x − max is never positive. Same polynomial, same
    /// values as `exp` on that range.
    @inlinable @inline(__always)
    public static func expNonPositive(_ x: Float) -> Float {
        let lo: Float = -87.33654
        let xc = x < lo ? lo : x
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
        let scale = Float(bitPattern: UInt32(bitPattern: (ni &+ 127) &<< 23))
        return x < lo ? 0 : y * scale
    }

    /// Maximum of `n` values (−∞ for none). Eight independent running maxima: one running
    /// maximum serialises every element on the compare latency and does not vectorise
    /// (Swift does not reassociate float reductions), eight of them compile to packed `maxps`.
    @inlinable
    public static func maximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
        var i = 0
        while i + 8 <= n {
            m0 = Swift.max(m0, x[i]); m1 = Swift.max(m1, x[i + 1]); m2 = Swift.max(m2, x[i + 2]); m3 = Swift.max(m3, x[i + 3])
            m4 = Swift.max(m4, x[i + 4]); m5 = Swift.max(m5, x[i + 5]); m6 = Swift.max(m6, x[i + 6]); m7 = Swift.max(m7, x[i + 7])
            i += 8
        }
        while i < n { m0 = Swift.max(m0, x[i]); i += 1 }
        return Swift.max(Swift.max(Swift.max(m0, m1), Swift.max(m2, m3)), Swift.max(Swift.max(m4, m5), Swift.max(m6, m7)))
    }

    /// Σ x[i]·y[i] (or Σ x[i] when `y` is nil) with eight partial sums, for the same reason.
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, times y: UnsafePointer<Float>? = nil, _ n: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0, s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
        var i = 0
        if let y {
            while i + 8 <= n {
                s0 += x[i] * y[i]; s1 += x[i + 1] * y[i + 1]; s2 += x[i + 2] * y[i + 2]; s3 += x[i + 3] * y[i + 3]
                s4 += x[i + 4] * y[i + 4]; s5 += x[i + 5] * y[i + 5]; s6 += x[i + 6] * y[i + 6]; s7 += x[i + 7] * y[i + 7]
                i += 8
            }
            while i < n { s0 += x[i] * y[i]; i += 1 }
        } else {
            while i + 8 <= n {
                s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]
                s4 += x[i + 4]; s5 += x[i + 5]; s6 += x[i + 6]; s7 += x[i + 7]
                i += 8
            }
            while i < n { s0 += x[i]; i += 1 }
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    }

    /// Softmax of one row (`y` may equal `x`), as `SoftmaxKernel.softmaxRow`: the row max is
    /// subtracted first; a row of all −∞ gives zeros.
    @inlinable
    public static func softmaxRow(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        let m = maximum(x, n)
        if m == -.infinity {
            for i in 0..<n { y[i] = 0 }
            return
        }
        for i in 0..<n { y[i] = expNonPositive(x[i] - m) }
        let inv = 1 / sum(UnsafePointer(y), n)
        for j in 0..<n { y[j] *= inv }
    }

    /// Softmax backward of one row, dx = y ⊙ (dy − Σ dy·y) (`dx` may equal `dy`), as
    /// `SoftmaxKernel.backwardRow` with the dot product in eight partial sums.
    @inlinable
    public static func softmaxBackwardRow(
        _ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int
    ) {
        let dot = sum(dy, times: y, n)
        for i in 0..<n { dx[i] = y[i] * (dy[i] - dot) }
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

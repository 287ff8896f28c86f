import Foundation

/// Fused GELU, exact (erf) and tanh-approximated: forward/backward pairs on raw buffers,
/// each one autograd node. The backward recomputes from x instead of saving intermediates:
/// one erf/tanh per element is cheaper than keeping a second activation-sized buffer alive.
public enum GELUKernel {
    /// 1/√2, for Φ(x) = ½(1 + erf(x/√2)).
    public static let invSqrt2 = Float(1 / 2.0.squareRoot())
    /// 1/√(2π), the standard normal density's constant.
    public static let invSqrt2Pi = Float(1 / (2 * Double.pi).squareRoot())
    /// √(2/π), the tanh approximation's scale.
    public static let sqrt2OverPi = Float((2 / Double.pi).squareRoot())
    /// Cubic coefficient of the tanh approximation.
    public static let cubic: Float = 0.044715

    // MARK: - Normal CDF and density, sharing one exp

    /// Φ(x) and φ(x) = exp(−x²/2)/√(2π) from a single `exp`.
    /// The tail P(Z > |x|) = ½·erfc(|x|/√2) uses Abramowitz & Stegun 7.1.26 (erfc(z) = e^{−z²}·poly(t),
    /// t = 1/(1 + 0.3275911·z), |error| ≤ 1.5e-7), which is about 3× faster than libm's erff, gives
    /// φ for free, and avoids the cancellation of 1 + erf(x) for negative x. Checked against
    /// libm in Double: |GELU error| ≤ 2.2e-7 for all x.
    @inlinable
    public static func normalCDFAndPDF(_ x: Float) -> (cdf: Float, pdf: Float) {
        let e = Foundation.exp(-0.5 * x * x)  // = e^{−z²} with z = |x|/√2
        let t = 1 / (1 + 0.3275911 * invSqrt2 * Swift.abs(x))
        let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        let tail = 0.5 * poly * e
        return (x >= 0 ? 1 - tail : tail, invSqrt2Pi * e)
    }

    // MARK: - Exact GELU: y = x·Φ(x)

    /// y = x · Φ(x) = x · ½(1 + erf(x/√2)) for i in `range`.
    @inlinable
    public static func erfForward(
        y: UnsafeMutablePointer<Float>,  // [n]
        x: UnsafePointer<Float>,         // [n]
        range: Range<Int>
    ) {
        for i in range { y[i] = x[i] * normalCDFAndPDF(x[i]).cdf }
    }

    /// dx = dy · (Φ(x) + x·φ(x)) (product rule on x·Φ(x), with Φ' = φ).
    @inlinable
    public static func erfBackward(
        dx: UnsafeMutablePointer<Float>,  // [n]
        dy: UnsafePointer<Float>,         // [n]
        x: UnsafePointer<Float>,          // [n]
        range: Range<Int>
    ) {
        for i in range {
            let (cdf, pdf) = normalCDFAndPDF(x[i])
            dx[i] = dy[i] * (cdf + x[i] * pdf)
        }
    }

    // MARK: - Tanh GELU: y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³)

    /// tanh(u) = 1 − 2/(e^{2u} + 1): one `exp`, much faster than libm's tanhf here. Its absolute
    /// error is a few 1e-8 (relative error grows only near u = 0, where GELU multiplies (1 + t)
    /// and so needs absolute accuracy). e^{2u} overflowing to +∞ gives exactly 1, underflowing gives −1.
    @inlinable
    public static func fastTanh(_ u: Float) -> Float {
        1 - 2 / (Foundation.exp(2 * u) + 1)
    }

    /// y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))) for i in `range`.
    @inlinable
    public static func tanhForward(
        y: UnsafeMutablePointer<Float>,  // [n]
        x: UnsafePointer<Float>,         // [n]
        range: Range<Int>
    ) {
        for i in range {
            let v = x[i]
            y[i] = 0.5 * v * (1 + fastTanh(sqrt2OverPi * (v + cubic * v * v * v)))
        }
    }

    /// dx = dy · (½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)), t = tanh(u).
    @inlinable
    public static func tanhBackward(
        dx: UnsafeMutablePointer<Float>,  // [n]
        dy: UnsafePointer<Float>,         // [n]
        x: UnsafePointer<Float>,          // [n]
        range: Range<Int>
    ) {
        for i in range {
            let v = x[i]
            let t = fastTanh(sqrt2OverPi * (v + cubic * v * v * v))
            let du = sqrt2OverPi * (1 + 3 * cubic * v * v)
            dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du)
        }
    }
}

// MARK: - Autograd wrappers

extension Tensor {
    /// Exact GELU as one autograd node (see `GELUKernel`).
    public func geluFused() -> Tensor {
        geluNode("gelu", GELUKernel.erfForward, GELUKernel.erfBackward)
    }

    /// Tanh-approximated GELU as one autograd node (see `GELUKernel`).
    public func geluTanhFused() -> Tensor {
        geluNode("gelu_tanh", GELUKernel.tanhForward, GELUKernel.tanhBackward)
    }

    /// Shared wrapper: elementwise forward over all cores, backward recomputed from x.
    private func geluNode(
        _ name: String,
        _ forward: @escaping @Sendable (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Range<Int>) -> Void,
        _ backward: @escaping @Sendable (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Range<Int>) -> Void
    ) -> Tensor {
        let x = self, n = count
        // erf/tanh cost roughly 20 flops each, hence the cost per element.
        let y = withConstPointers([x.storage]) { p in
            makeBuffer(n) { o in parallelChunks(n, costPerItem: 20) { forward(o.base, p[0]!.base, $0) } }
        }
        return Tensor(y, shape: shape).recording(name, [x]) { g in
            let dx = withConstPointers([g, x.storage]) { p in
                makeBuffer(n) { d in parallelChunks(n, costPerItem: 30) { backward(d.base, p[0]!.base, p[1]!.base, $0) } }
            }
            x.accumulateGrad(dx)
        }
    }
}

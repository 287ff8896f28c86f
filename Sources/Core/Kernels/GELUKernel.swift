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

    // MARK: - Exact GELU: y = x·Φ(x)

    /// y = x · ½(1 + erf(x/√2)) for i in `range`.
    @inlinable
    public static func erfForward(
        y: UnsafeMutablePointer<Float>,  // [n]
        x: UnsafePointer<Float>,         // [n]
        range: Range<Int>
    ) {
        for i in range {
            let v = x[i]
            y[i] = 0.5 * v * (1 + Foundation.erf(v * invSqrt2))
        }
    }

    /// dx = dy · (Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π) (product rule on x·Φ(x)).
    @inlinable
    public static func erfBackward(
        dx: UnsafeMutablePointer<Float>,  // [n]
        dy: UnsafePointer<Float>,         // [n]
        x: UnsafePointer<Float>,          // [n]
        range: Range<Int>
    ) {
        for i in range {
            let v = x[i]
            let cdf = 0.5 * (1 + Foundation.erf(v * invSqrt2))
            let pdf = invSqrt2Pi * Foundation.exp(-0.5 * v * v)
            dx[i] = dy[i] * (cdf + v * pdf)
        }
    }

    // MARK: - Tanh GELU: y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³)

    /// y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))) for i in `range`.
    @inlinable
    public static func tanhForward(
        y: UnsafeMutablePointer<Float>,  // [n]
        x: UnsafePointer<Float>,         // [n]
        range: Range<Int>
    ) {
        for i in range {
            let v = x[i]
            let t = Foundation.tanh(sqrt2OverPi * (v + cubic * v * v * v))
            y[i] = 0.5 * v * (1 + t)
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
            let t = Foundation.tanh(sqrt2OverPi * (v + cubic * v * v * v))
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

import Foundation

/// Elementwise ops with NumPy broadcasting and their gradient rules (the closed primitive set).
extension Tensor {
    // MARK: - Broadcast machinery

    /// Applies `f` elementwise over the broadcast of `a` and `b`.
    @inline(__always)
    static func zipBroadcast(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        if a.shape == b.shape {
            var out = uninitializedFloats(a.count)  // every element written below
            out.withUnsafeMutableBufferPointer { o in
                a.storage.withUnsafeBufferPointer { x in
                    b.storage.withUnsafeBufferPointer { y in
                        for i in 0..<o.count { o[i] = f(x[i], y[i]) }
                    }
                }
            }
            return Tensor(out, shape: a.shape)
        }
        let shape = Shape.broadcast(a.shape, b.shape)
        let sa = Shape.broadcastStrides(a.shape, to: shape)
        let sb = Shape.broadcastStrides(b.shape, to: shape)
        let la = sa.last ?? 0, lb = sb.last ?? 0
        var out = uninitializedFloats(shape.reduce(1, *))  // the broadcast rows cover every element
        out.withUnsafeMutableBufferPointer { o in
            a.storage.withUnsafeBufferPointer { x in
                b.storage.withUnsafeBufferPointer { y in
                    Shape.forEachBroadcastRow(shape, [sa, sb]) { off, ins, n in
                        var ia = ins[0], ib = ins[1]
                        for j in 0..<n {
                            o[off + j] = f(x[ia], y[ib])
                            ia += la
                            ib += lb
                        }
                    }
                }
            }
        }
        return Tensor(out, shape: shape)
    }

    /// Applies `f` to every element.
    @inline(__always)
    func mapValues(_ f: (Float) -> Float) -> Tensor {
        var out = uninitializedFloats(count)
        out.withUnsafeMutableBufferPointer { o in
            storage.withUnsafeBufferPointer { x in
                for i in 0..<o.count { o[i] = f(x[i]) }
            }
        }
        return Tensor(out, shape: shape)
    }

    /// Records a unary op whose derivative is `d(x, y)` with y = f(x).
    @inline(__always)
    func unaryOp(_ name: String, _ f: (Float) -> Float, derivative: @escaping (Float, Float) -> Float) -> Tensor {
        let out = mapValues(f)
        guard Tensor.shouldRecord([self]) else { return out }
        let x = self
        let y = out.storage
        return out.recording(name, [x]) { g in
            var gx = [Float](repeating: 0, count: g.count)
            x.storage.withUnsafeBufferPointer { xv in
                for i in 0..<g.count { gx[i] = g[i] * derivative(xv[i], y[i]) }
            }
            x.accumulateGrad(gx)
        }
    }

    // MARK: - Binary ops

    /// Elementwise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = zipBroadcast(a, b, +)
        return out.recording("add", [a, b]) { [shape = out.shape] g in
            if a.requiresGrad { a.accumulateGrad(Shape.reduceGrad(g, from: shape, to: a.shape)) }
            if b.requiresGrad { b.accumulateGrad(Shape.reduceGrad(g, from: shape, to: b.shape)) }
        }
    }

    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = zipBroadcast(a, b, -)
        return out.recording("sub", [a, b]) { [shape = out.shape] g in
            if a.requiresGrad { a.accumulateGrad(Shape.reduceGrad(g, from: shape, to: a.shape)) }
            if b.requiresGrad { b.accumulateGrad(Shape.reduceGrad(g.map { -$0 }, from: shape, to: b.shape)) }
        }
    }

    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = zipBroadcast(a, b, *)
        return out.recording("mul", [a, b]) { [shape = out.shape] g in
            let gt = Tensor(g, shape: shape)
            if a.requiresGrad { a.accumulateGrad(Shape.reduceGrad(zipBroadcast(gt, b, *).storage, from: shape, to: a.shape)) }
            if b.requiresGrad { b.accumulateGrad(Shape.reduceGrad(zipBroadcast(gt, a, *).storage, from: shape, to: b.shape)) }
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = zipBroadcast(a, b, /)
        return out.recording("div", [a, b]) { [shape = out.shape, outValues = out.storage] g in
            let gt = Tensor(g, shape: shape)
            if a.requiresGrad { a.accumulateGrad(Shape.reduceGrad(zipBroadcast(gt, b, /).storage, from: shape, to: a.shape)) }
            if b.requiresGrad {
                // d(a/b)/db = -a/b² = -out/b
                let ob = zipBroadcast(Tensor(outValues, shape: shape), b, /)
                let gb = zipBroadcast(gt, ob, { -$0 * $1 })
                b.accumulateGrad(Shape.reduceGrad(gb.storage, from: shape, to: b.shape))
            }
        }
    }

    /// Elementwise power `a^b` (a > 0 where b is not an integer).
    public func pow(_ b: Tensor) -> Tensor {
        let a = self
        let out = Tensor.zipBroadcast(a, b, { Foundation.pow($0, $1) })
        return out.recording("pow", [a, b]) { [shape = out.shape, outValues = out.storage] g in
            let gt = Tensor(g, shape: shape)
            if a.requiresGrad {
                let d = Tensor.zipBroadcast(a, b, { $1 * Foundation.pow($0, $1 - 1) })
                a.accumulateGrad(Shape.reduceGrad(Tensor.zipBroadcast(gt, d, *).storage, from: shape, to: a.shape))
            }
            if b.requiresGrad {
                let la = a.mapValues { Foundation.log($0) }
                let d = Tensor.zipBroadcast(Tensor(outValues, shape: shape), la, *)
                b.accumulateGrad(Shape.reduceGrad(Tensor.zipBroadcast(gt, d, *).storage, from: shape, to: b.shape))
            }
        }
    }

    // MARK: - Scalars

    public static func + (a: Tensor, s: Float) -> Tensor { a.unaryOp("add_scalar", { $0 + s }, derivative: { _, _ in 1 }) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.unaryOp("sub_scalar", { $0 - s }, derivative: { _, _ in 1 }) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.unaryOp("mul_scalar", { $0 * s }, derivative: { _, _ in s }) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.unaryOp("div_scalar", { $0 / s }, derivative: { _, _ in 1 / s }) }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func - (s: Float, a: Tensor) -> Tensor { a.unaryOp("rsub_scalar", { s - $0 }, derivative: { _, _ in -1 }) }
    public static prefix func - (a: Tensor) -> Tensor { a.unaryOp("neg", { -$0 }, derivative: { _, _ in -1 }) }

    /// `x^p` for a scalar exponent.
    public func pow(_ p: Float) -> Tensor {
        unaryOp("pow_scalar", { Foundation.pow($0, p) }, derivative: { x, _ in p * Foundation.pow(x, p - 1) })
    }

    // MARK: - Unary math

    public func exp() -> Tensor { unaryOp("exp", { Foundation.exp($0) }, derivative: { _, y in y }) }
    public func log() -> Tensor { unaryOp("log", { Foundation.log($0) }, derivative: { x, _ in 1 / x }) }
    public func sqrt() -> Tensor { unaryOp("sqrt", { $0.squareRoot() }, derivative: { _, y in 0.5 / y }) }
    public func tanh() -> Tensor { unaryOp("tanh", { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y }) }
    public func abs() -> Tensor { unaryOp("abs", { Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }) }
    public func square() -> Tensor { unaryOp("square", { $0 * $0 }, derivative: { x, _ in 2 * x }) }

    /// Logistic sigmoid 1 / (1 + e^-x), computed without overflow for large |x|.
    public func sigmoid() -> Tensor {
        unaryOp("sigmoid", stableSigmoid, derivative: { _, y in y * (1 - y) })
    }

    /// max(x, 0); the derivative at 0 is taken as 0 (as PyTorch).
    public func relu() -> Tensor { unaryOp("relu", { Swift.max($0, 0) }, derivative: { x, _ in x > 0 ? 1 : 0 }) }

    /// SiLU / swish: x · σ(x).
    public func silu() -> Tensor {
        unaryOp("silu", { $0 * stableSigmoid($0) }, derivative: { x, _ in
            let s = stableSigmoid(x)
            return s * (1 + x * (1 - s))
        })
    }

    /// Clamps into [lo, hi]; gradient passes only inside the interval.
    public func clamp(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        unaryOp("clamp", { Swift.min(Swift.max($0, lo), hi) }, derivative: { x, _ in (x >= lo && x <= hi) ? 1 : 0 })
    }
}

/// σ(x) that never evaluates exp of a large positive number.
@inlinable
public func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 {
        return 1 / (1 + Foundation.exp(-x))
    }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

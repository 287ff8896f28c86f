/// Reductions over axes (sum, mean, max, variance) and their broadcast dual `expand`.
extension Tensor {
    /// Shape after reducing `axes` with size-1 placeholders kept.
    func keptShape(_ axes: [Int]) -> [Int] {
        var s = shape
        for a in axes { s[normalizeAxis(a, rank: rank)] = 1 }
        return s
    }

    /// Sums over `axes` (all axes when nil). `keepDims` keeps reduced axes as size 1.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axesN = (axes ?? Array(0..<rank)).map { normalizeAxis($0, rank: rank) }
        let kept = keptShape(axesN)
        let values = Shape.reduceGrad(storage, from: shape, to: kept)
        let outShape = keepDims ? kept : kept.enumerated().filter { !axesN.contains($0.offset) }.map(\.element)
        let out = Tensor(values, shape: outShape)
        let x = self
        return out.recording("sum", [x]) { g in
            x.accumulateGrad(Tensor(g, shape: kept).expand(to: x.shape).storage)
        }
    }

    /// Sum over a single axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axesN = (axes ?? Array(0..<rank)).map { normalizeAxis($0, rank: rank) }
        let n = axesN.reduce(1) { $0 * shape[$1] }
        return sum(axes: axesN, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Mean over a single axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Variance over `axes`; `unbiased` divides by n − 1 (torch's default `correction=1`).
    public func variance(axes: [Int], unbiased: Bool = false, keepDims: Bool = false) -> Tensor {
        let axesN = axes.map { normalizeAxis($0, rank: rank) }
        let n = axesN.reduce(1) { $0 * shape[$1] }
        let centered = self - mean(axes: axesN, keepDims: true)
        let ss = centered.square().sum(axes: axesN, keepDims: keepDims)
        return ss * (1 / Float(Swift.max(unbiased ? n - 1 : n, 1)))
    }

    /// Maximum over one axis. The gradient goes to the first maximal element (as PyTorch's `max(dim)`).
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = normalizeAxis(axis, rank: rank)
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        precondition(n > 0, "max: axis \(axis) of shape \(shape) is empty")
        var values = [Float](repeating: -.infinity, count: outer * inner)
        var argmax = [Int](repeating: 0, count: outer * inner)
        storage.withUnsafeBufferPointer { x in
            for o in 0..<outer {
                for k in 0..<n {
                    for i in 0..<inner {
                        let v = x[(o * n + k) * inner + i]
                        let j = o * inner + i
                        if v > values[j] || k == 0 {
                            values[j] = v
                            argmax[j] = k
                        }
                    }
                }
            }
        }
        var kept = shape
        kept[ax] = 1
        let out = Tensor(values, shape: keepDims ? kept : shape.enumerated().filter { $0.offset != ax }.map(\.element))
        let x = self
        return out.recording("max", [x]) { g in
            var gx = [Float](repeating: 0, count: x.count)
            for o in 0..<outer {
                for i in 0..<inner {
                    let j = o * inner + i
                    gx[(o * n + argmax[j]) * inner + i] += g[j]
                }
            }
            x.accumulateGrad(gx)
        }
    }

    /// Index of the maximum along the last axis for each row (no gradient).
    public func argmaxLastAxis() -> [Int] {
        let n = shape.last ?? 1
        let rows = count / Swift.max(n, 1)
        return (0..<rows).map { r in
            var best = 0
            for k in 1..<Swift.max(n, 1) where storage[r * n + k] > storage[r * n + best] { best = k }
            return best
        }
    }

    /// Broadcasts to `target` (NumPy rules). The gradient sums back over the stretched axes.
    public func expand(to target: [Int]) -> Tensor {
        if target == shape { return self }
        let bs = Shape.broadcastStrides(shape, to: Shape.broadcast(shape, target))
        precondition(Shape.broadcast(shape, target) == target, "expand: \(shape) cannot expand to \(target)")
        var out = [Float](repeating: 0, count: target.reduce(1, *))
        let last = bs.last ?? 0
        out.withUnsafeMutableBufferPointer { o in
            storage.withUnsafeBufferPointer { x in
                Shape.forEachBroadcastRow(target, [bs]) { off, ins, n in
                    var i = ins[0]
                    for j in 0..<n {
                        o[off + j] = x[i]
                        i += last
                    }
                }
            }
        }
        let x = self
        return Tensor(out, shape: target).recording("expand", [x]) { g in
            x.accumulateGrad(Shape.reduceGrad(g, from: target, to: x.shape))
        }
    }
}

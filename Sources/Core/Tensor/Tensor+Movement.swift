/// Movement ops: reshape, permute/transpose, slice, concat, index-select, masked fill.
extension Tensor {
    /// Same values in a new shape; one entry may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) for \(count) elements")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "reshape: shape \(shape) (\(count) elements) cannot become \(newShape)")
        let x = self
        return Tensor(storage, shape: s).recording("reshape", [x]) { g in x.accumulateGrad(g) }
    }

    /// Reorders axes: result axis i is input axis `perm[i]`.
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.count == rank && Set(perm) == Set(0..<rank), "permute: \(perm) is not a permutation of 0..<\(rank)")
        if perm == Array(0..<rank) { return self }
        let outShape = perm.map { shape[$0] }
        let inStrides = Shape.strides(shape)
        let readStrides = perm.map { inStrides[$0] }
        let out = Tensor(Tensor.gather(storage, shape: outShape, strides: readStrides), shape: outShape)
        let x = self
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return out.recording("permute", [x]) { g in
            let gs = Shape.strides(outShape)
            x.accumulateGrad(Tensor.gather(g, shape: x.shape, strides: inverse.map { gs[$0] }))
        }
    }

    /// Swaps two axes.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var perm = Array(0..<rank)
        perm.swapAt(normalizeAxis(a, rank: rank), normalizeAxis(b, rank: rank))
        return permuted(perm)
    }

    /// Copies `values` read with `strides` into a contiguous array of `shape`.
    static func gather(_ values: [Float], shape: [Int], strides: [Int]) -> [Float] {
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        let last = strides.last ?? 0
        out.withUnsafeMutableBufferPointer { o in
            values.withUnsafeBufferPointer { x in
                Shape.forEachBroadcastRow(shape, [strides]) { off, ins, n in
                    var i = ins[0]
                    for j in 0..<n {
                        o[off + j] = x[i]
                        i += last
                    }
                }
            }
        }
        return out
    }

    /// Elements `range` of axis `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = normalizeAxis(axis, rank: rank)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax], "slice: \(range) out of bounds for axis \(axis) of \(shape)")
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        let m = range.count
        var out = [Float](repeating: 0, count: outer * m * inner)
        for o in 0..<outer {
            let src = (o * n + range.lowerBound) * inner
            out.replaceSubrange((o * m * inner)..<((o + 1) * m * inner), with: storage[src..<(src + m * inner)])
        }
        var outShape = shape
        outShape[ax] = m
        let x = self
        return Tensor(out, shape: outShape).recording("slice", [x]) { g in
            var gx = [Float](repeating: 0, count: x.count)
            for o in 0..<outer {
                let dst = (o * n + range.lowerBound) * inner
                for j in 0..<(m * inner) { gx[dst + j] = g[o * m * inner + j] }
            }
            x.accumulateGrad(gx)
        }
    }

    /// Joins tensors along `axis`; all other sizes must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat: no tensors")
        let r = parts[0].rank
        let ax = normalizeAxis(axis, rank: r)
        for p in parts {
            precondition(p.rank == r && (0..<r).allSatisfy { $0 == ax || p.shape[$0] == parts[0].shape[$0] },
                         "concat: shapes \(parts.map(\.shape)) differ outside axis \(axis)")
        }
        let outer = parts[0].shape[..<ax].reduce(1, *), inner = parts[0].shape[(ax + 1)...].reduce(1, *)
        let sizes = parts.map { $0.shape[ax] }
        let total = sizes.reduce(0, +)
        var out = [Float]()
        out.reserveCapacity(outer * total * inner)
        for o in 0..<outer {
            for (p, n) in zip(parts, sizes) {
                out.append(contentsOf: p.storage[(o * n * inner)..<((o + 1) * n * inner)])
            }
        }
        var outShape = parts[0].shape
        outShape[ax] = total
        return Tensor(out, shape: outShape).recording("concat", parts) { g in
            var start = 0
            for (p, n) in zip(parts, sizes) {
                if p.requiresGrad {
                    var gp = [Float](repeating: 0, count: p.count)
                    for o in 0..<outer {
                        let src = (o * total + start) * inner
                        for j in 0..<(n * inner) { gp[o * n * inner + j] = g[src + j] }
                    }
                    p.accumulateGrad(gp)
                }
                start += n
            }
        }
    }

    /// Stacks same-shaped tensors along a new leading axis.
    public static func stack(_ parts: [Tensor]) -> Tensor {
        concat(parts.map { $0.reshaped([1] + $0.shape) }, axis: 0)
    }

    /// Picks entries `indices` along `axis` (repeats allowed); the gradient scatter-adds back.
    public func indexSelect(axis: Int, _ indices: [Int]) -> Tensor {
        let ax = normalizeAxis(axis, rank: rank)
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        for i in indices { precondition(i >= 0 && i < n, "indexSelect: index \(i) out of range 0..<\(n) on axis \(axis)") }
        let m = indices.count
        var out = [Float](repeating: 0, count: outer * m * inner)
        storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for a in 0..<outer {
                    for (k, idx) in indices.enumerated() {
                        let src = (a * n + idx) * inner, dst = (a * m + k) * inner
                        for j in 0..<inner { o[dst + j] = x[src + j] }
                    }
                }
            }
        }
        var outShape = shape
        outShape[ax] = m
        let x = self
        return Tensor(out, shape: outShape).recording("index_select", [x]) { g in
            var gx = [Float](repeating: 0, count: x.count)
            for a in 0..<outer {
                for (k, idx) in indices.enumerated() {
                    let dst = (a * n + idx) * inner, src = (a * m + k) * inner
                    for j in 0..<inner { gx[dst + j] += g[src + j] }
                }
            }
            x.accumulateGrad(gx)
        }
    }

    /// Replaces elements where `mask` (broadcastable, nonzero = true) is set by `value`.
    /// The gradient is zero at replaced positions.
    public func maskedFill(_ mask: Tensor, _ value: Float) -> Tensor {
        let m = mask.expand(to: Shape.broadcast(shape, mask.shape)).storage
        precondition(m.count == count, "maskedFill: mask \(mask.shape) must broadcast to \(shape)")
        var out = storage
        for i in 0..<count where m[i] != 0 { out[i] = value }
        let x = self
        return Tensor(out, shape: shape).recording("masked_fill", [x]) { g in
            var gx = g
            for i in 0..<gx.count where m[i] != 0 { gx[i] = 0 }
            x.accumulateGrad(gx)
        }
    }
}

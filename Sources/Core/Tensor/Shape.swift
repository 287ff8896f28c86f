/// Shape arithmetic: strides, NumPy-style broadcasting, and summing a broadcast
/// gradient back to the shape of the input it came from.
public enum Shape {
    /// Row-major strides for `shape`.
    @inlinable
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The broadcast result of two shapes (NumPy rules: align right, 1 stretches).
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            precondition(
                da == db || da == 1 || db == 1,
                "shapes \(a) and \(b) cannot be broadcast together (axis \(i): \(da) vs \(db))")
            out[i] = da == 1 ? db : da
        }
        return out
    }

    /// Strides to read an input of `shape` while walking `outShape` (0 on broadcast axes).
    public static func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
        let lead = outShape.count - shape.count
        let own = strides(shape)
        var s = [Int](repeating: 0, count: outShape.count)
        for i in 0..<shape.count where shape[i] != 1 {
            s[i + lead] = own[i]
        }
        return s
    }

    /// Sums `grad` (laid out as `outShape`) over the broadcast axes so it matches `shape`.
    public static func reduceGrad(_ grad: [Float], from outShape: [Int], to shape: [Int]) -> [Float] {
        if outShape == shape { return grad }
        let inCount = shape.reduce(1, *)
        var result = [Float](repeating: 0, count: inCount)
        let bs = broadcastStrides(shape, to: outShape)
        result.withUnsafeMutableBufferPointer { r in
            grad.withUnsafeBufferPointer { g in
                forEachBroadcastRow(outShape, [bs]) { outOffset, offsets, rowLength in
                    let s = bs.last ?? 0
                    var o = offsets[0]
                    if s == 0 {
                        var acc: Float = 0
                        for j in 0..<rowLength { acc += g[outOffset + j] }
                        r[o] += acc
                    } else {
                        for j in 0..<rowLength {
                            r[o] += g[outOffset + j]
                            o += s
                        }
                    }
                }
            }
        }
        return result
    }

    /// Walks `outShape` row by row (a row is the last axis), giving the output offset of the
    /// row's first element and, for each input stride set, that input's offset.
    @inlinable
    public static func forEachBroadcastRow(
        _ outShape: [Int], _ inputStrides: [[Int]],
        _ body: (_ outOffset: Int, _ inOffsets: [Int], _ rowLength: Int) -> Void
    ) {
        let rank = outShape.count
        if rank == 0 {
            body(0, [Int](repeating: 0, count: inputStrides.count), 1)
            return
        }
        let rowLength = outShape[rank - 1]
        let rows = outShape.dropLast().reduce(1, *)
        if rowLength == 0 || rows == 0 { return }
        var index = [Int](repeating: 0, count: rank - 1)
        var offsets = [Int](repeating: 0, count: inputStrides.count)
        for row in 0..<rows {
            body(row * rowLength, offsets, rowLength)
            // Advance the multi-index over the leading axes, updating input offsets.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                for k in 0..<inputStrides.count { offsets[k] += inputStrides[k][axis] }
                if index[axis] < outShape[axis] { break }
                for k in 0..<inputStrides.count { offsets[k] -= inputStrides[k][axis] * outShape[axis] }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

/// Small helpers that hand array storage to the raw-buffer kernels without a pyramid of
/// nested `withUnsafeBufferPointer` calls, and split row loops into blocks that own
/// private partial sums (so parallel reductions never share a buffer).

/// Calls `body` with a read-only pointer for each array (nil for a nil or empty array).
/// The pointers are valid only inside `body`.
@usableFromInline
func withConstPointers<R>(_ arrays: [[Float]?], _ body: ([SendableConstPointer<Float>?]) -> R) -> R {
    func step(_ i: Int, _ acc: [SendableConstPointer<Float>?]) -> R {
        if i == arrays.count { return body(acc) }
        guard let a = arrays[i], !a.isEmpty else { return step(i + 1, acc + [nil]) }
        return a.withUnsafeBufferPointer { step(i + 1, acc + [SendableConstPointer($0.baseAddress!)]) }
    }
    return step(0, [])
}

/// A new array of `count` values written by `fill` (which must set every element).
@usableFromInline
func makeBuffer(_ count: Int, _ fill: (SendablePointer<Float>) -> Void) -> [Float] {
    if count == 0 { return [] }
    return [Float](unsafeUninitializedCapacity: count) { buf, initialized in
        fill(SendablePointer(buf.baseAddress!))
        initialized = count
    }
}

/// A new zero-filled array of `count` values that `fill` may write into (or accumulate into).
@usableFromInline
func makeZeroedBuffer(_ count: Int, _ fill: (SendablePointer<Float>) -> Void) -> [Float] {
    var a = [Float](repeating: 0, count: count)
    if count == 0 { return a }
    a.withUnsafeMutableBufferPointer { fill(SendablePointer($0.baseAddress!)) }
    return a
}

/// How many row blocks a parallel reduction should use: one per worker when the total work
/// pays for the threads, else one.
@usableFromInline
func reductionBlocks(rows: Int, work: Int) -> Int {
    guard rows > 1, work >= Parallelism.minimumWorkPerSplit else { return 1 }
    return Swift.min(Parallelism.workers, rows)
}

/// The `block`-th of `blocks` near-equal contiguous pieces of `0..<rows`.
@inlinable
func blockRange(_ block: Int, of blocks: Int, rows: Int) -> Range<Int> {
    (rows * block / blocks)..<(rows * (block + 1) / blocks)
}

/// Sums `blocks` consecutive rows of length `width` into one row.
@usableFromInline
func sumBlocks(_ values: [Float], blocks: Int, width: Int) -> [Float] {
    if blocks == 1 { return values }
    var total = Array(values[0..<width])
    for b in 1..<blocks { for i in 0..<width { total[i] += values[b * width + i] } }
    return total
}

/// Calls `body` with writable pointers into up to three arrays (nil for an empty array).
@usableFromInline
func withMutablePointers<R>(
    _ a: inout [Float], _ b: inout [Float], _ c: inout [Float],
    _ body: (SendablePointer<Float>?, SendablePointer<Float>?, SendablePointer<Float>?) -> R
) -> R {
    a.withUnsafeMutableBufferPointer { ap in
        b.withUnsafeMutableBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                func wrap(_ p: UnsafeMutableBufferPointer<Float>) -> SendablePointer<Float>? {
                    p.isEmpty ? nil : SendablePointer(p.baseAddress!)
                }
                return body(wrap(ap), wrap(bp), wrap(cp))
            }
        }
    }
}

/// Averages the gradients of the trainable parameters over all ranks with one all-reduce
/// per step (bucketed by the `Distributed` implementation), the heart of data parallelism.
///
/// Each rank computed a *mean* loss over its own share of a global batch (`localWeight`
/// items: labelled tokens, examples, …). The update of one process on the whole batch uses
/// the mean over all items, Σ_r w_r·g_r / Σ_r w_r, so that is what this computes: every rank
/// packs `w_r·g_r` for all parameters into one flat Float buffer, followed by one slot per
/// parameter saying whether the rank has a gradient for it and a last slot with `w_r`; a
/// single sum over ranks then gives the weighted mean. Parameters that no rank has a
/// gradient for stay without one (the optimizer skips them, as in one process); a rank with
/// no data (weight 0) still takes part. Frozen weights are never sent: only the
/// `parameters` given here are.
///
/// With one rank this does nothing at all, so single-process training is bit-identical to
/// training without it.
///
/// ```swift
/// let reducer = GradientAllReduce(parameters: model.trainableParameters())
/// loss.backward()
/// let total = try reducer.average(localWeight: Double(labelledTokens), over: world)
/// opt.step(params)
/// ```
public struct GradientAllReduce {
    /// The parameters whose gradients are averaged, in the same order on every rank.
    public let parameters: [(String, Tensor)]
    /// Scalars in the gradient part of the buffer.
    public let elementCount: Int

    public init(parameters: [(String, Tensor)]) {
        self.parameters = parameters
        elementCount = parameters.reduce(0) { $0 + $1.1.count }
    }

    /// Floats sent per step per rank: all gradients, one presence flag per parameter, the
    /// weight, and `extras`.
    public func bufferCount(extras: Int = 0) -> Int { elementCount + parameters.count + 1 + extras }

    /// Bytes all-reduced per step (Float32).
    public func bytesPerStep(extras: Int = 0) -> Int { 4 * bufferCount(extras: extras) }

    /// Replaces every gradient by the weighted mean over ranks and returns the total weight.
    /// `extras` (e.g. `[loss·weight]`) are summed over ranks in the same message and returned
    /// as `sums`. Throws when no rank had any weight.
    @discardableResult
    public func average(localWeight: Double, extras: [Float] = [], over world: any Distributed) throws -> (total: Double, sums: [Float]) {
        guard world.size > 1 else { return (localWeight, extras) }
        let w = Float(localWeight)
        var buffer = [Float](repeating: 0, count: bufferCount(extras: extras.count))
        var offset = 0
        for (i, (_, p)) in parameters.enumerated() {
            if let g = p.gradStorage {
                buffer.withUnsafeMutableBufferPointer { b in
                    for j in 0..<g.count { b[offset + j] = g[j] * w }
                }
                buffer[elementCount + i] = 1
            }
            offset += p.count
        }
        buffer[elementCount + parameters.count] = w
        for (k, e) in extras.enumerated() { buffer[elementCount + parameters.count + 1 + k] = e }

        try world.allReduceSum(&buffer)

        let total = buffer[elementCount + parameters.count]
        guard total > 0 else {
            throw DistributedError.mismatch("no rank had data for this step (total weight 0)")
        }
        offset = 0
        for (i, (_, p)) in parameters.enumerated() {
            let n = p.count
            if buffer[elementCount + i] > 0 {
                p.gradStorage = Array(buffer[offset..<(offset + n)].lazy.map { $0 / total })
            } else {
                p.gradStorage = nil
            }
            offset += n
        }
        let sums = Array(buffer[(elementCount + parameters.count + 1)...])
        return (Double(total), sums)
    }
}

/// Which part of a global batch each rank works on.
///
/// Every rank builds the *same* global batches in the same seeded order as a single
/// process would; rank r then takes the r-th of `size` contiguous, near-equal slices (the
/// first `count % size` ranks get one item more). Nothing is dropped and nothing padded:
/// `GradientAllReduce` weights each rank by its item count, so the step equals the
/// single-process step on the whole batch, and a rank whose slice is empty (a last batch
/// smaller than the number of ranks) contributes weight 0.
public enum DataShard {
    /// The index range of rank `rank`'s slice of a batch of `count` items.
    public static func range(count: Int, rank: Int, size: Int) -> Range<Int> {
        precondition(size >= 1 && rank >= 0 && rank < size, "DataShard: rank \(rank) outside 0..<\(size)")
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// This rank's items of `batch`.
    public static func slice<T>(_ batch: [T], rank: Int, size: Int) -> [T] {
        Array(batch[range(count: batch.count, rank: rank, size: size)])
    }
}

import Foundation
import Core

/// Keys and values of a Whisper decoder for incremental decoding of N hypotheses.
///
/// - Self-attention: per layer `[N, H, capacity, Dh]`; each `step` appends the new positions'
///   keys/values and attends over everything so far, so a token costs O(length), not O(length²).
/// - Cross-attention: per layer `[B, H, S, Dh]`, computed **once** from the memory (encoder
///   output) when the cache is made; hypothesis n reads memory item `source[n]`, so the beams of
///   one utterance share one copy.
/// - `reorder(_:)` makes row r a copy of old row `parents[r]` (beam search survivors; dropping
///   finished rows), so the number of rows may change.
///
/// Inference only: nothing here records gradients.
public final class WhisperKVCache {
    public let layers: Int, heads: Int, headDim: Int
    /// Most positions a hypothesis can hold.
    public let capacity: Int
    /// Hypotheses (rows) currently held.
    public private(set) var rows: Int
    /// Positions filled so far (the same for every row).
    public private(set) var length = 0
    /// Memory item each row attends to.
    public private(set) var source: [Int]
    /// Memory frames per item, and how many of them are real (the rest is padding).
    public let memoryFrames: Int
    public let memoryLengths: [Int]
    var selfKeys: [[Float]], selfValues: [[Float]]
    let crossKeys: [[Float]], crossValues: [[Float]]

    var width: Int { heads * headDim }

    /// Computes every layer's cross-attention keys/values from `memory [B, S, d]` and prepares
    /// empty self-attention storage for `source.count` rows of up to `capacity` positions.
    init(decoder: WhisperDecoder, memory: Tensor, memoryLengths: [Int]?, source: [Int], capacity: Int) {
        let c = decoder.config
        layers = c.decoderLayers; heads = c.decoderHeads; headDim = c.dModel / c.decoderHeads
        self.capacity = capacity
        self.rows = source.count
        self.source = source
        let b = memory.shape[0]
        memoryFrames = memory.shape[1]
        self.memoryLengths = memoryLengths ?? [Int](repeating: memory.shape[1], count: b)
        let perRow = heads * capacity * headDim
        selfKeys = [[Float]](repeating: [Float](repeating: 0, count: source.count * perRow), count: layers)
        selfValues = selfKeys
        var ck: [[Float]] = [], cv: [[Float]] = []
        let (s, h, dh) = (memory.shape[1], heads, headDim)
        withoutGrad {
            for layer in decoder.layers.items {
                // [B, S, H·Dh] → [B, H, S, Dh] so each head's keys are contiguous for the GEMMs.
                let split = { (t: Tensor) in t.reshaped([b, s, h, dh]).permuted([0, 2, 1, 3]).storage }
                ck.append(split(layer.crossAttention.key(memory)))
                cv.append(split(layer.crossAttention.value(memory)))
            }
        }
        crossKeys = ck; crossValues = cv
    }

    /// Keeps rows `parents` (in that order; repeats allowed) and drops the others.
    public func reorder(_ parents: [Int]) {
        precondition(parents.allSatisfy { $0 >= 0 && $0 < rows }, "WhisperKVCache: reorder index outside 0..<\(rows)")
        if parents.count == rows && parents.enumerated().allSatisfy({ $0.offset == $0.element }) { return }
        let perRow = heads * capacity * headDim
        // Only the filled positions of each head need copying; positions from `length` on are
        // written by `appendAndAttend` before anything reads them, so the new buffer is not
        // zero-filled (beam search reorders every step: zeroing cost as much as the copy).
        let used = length * headDim
        func gather(_ old: [Float]) -> [Float] {
            // No rows left (every hypothesis ended): the empty literal, because an uninitialised
            // array of capacity 0 is the stdlib's shared empty storage, and setting its count
            // (to 0) is a write to a process-wide global that ThreadSanitizer reports as a race.
            if parents.isEmpty { return [] }
            return [Float](unsafeUninitializedCapacity: parents.count * perRow) { out, initialized in
                old.withUnsafeBufferPointer { src in
                    for (r, p) in parents.enumerated() {
                        for h in 0..<heads {
                            let s = p * perRow + h * capacity * headDim, d = r * perRow + h * capacity * headDim
                            (out.baseAddress! + d).initialize(from: src.baseAddress! + s, count: used)
                        }
                    }
                }
                initialized = parents.count * perRow
            }
        }
        for l in 0..<layers {
            selfKeys[l] = gather(selfKeys[l])
            selfValues[l] = gather(selfValues[l])
        }
        source = parents.map { source[$0] }
        rows = parents.count
    }

    /// Marks `count` more positions as filled (after every layer has appended them).
    func advance(by count: Int) { length += count }

    /// Appends `key`/`value [N, T, H·Dh]` at positions `length..<length+T` of layer `layer` and
    /// returns causal attention of `query [N, T, H·Dh]` over positions `0...length+i`: `[N, T, H·Dh]`.
    func appendAndAttend(layer l: Int, query: Tensor, key: Tensor, value: Tensor) -> Tensor {
        let t = query.shape[1], w = width, dh = headDim, cap = capacity, start = length
        precondition(query.shape[0] == rows && start + t <= cap, "WhisperKVCache: \(query.shape) does not fit \(rows) rows × \(cap) positions at \(start)")
        for n in 0..<rows {
            for i in 0..<t {
                for h in 0..<heads {
                    let src = (n * t + i) * w + h * dh
                    let dst = ((n * heads + h) * cap + start + i) * dh
                    selfKeys[l].replaceSubrange(dst..<(dst + dh), with: key.storage[src..<(src + dh)])
                    selfValues[l].replaceSubrange(dst..<(dst + dh), with: value.storage[src..<(src + dh)])
                }
            }
        }
        var out = [Float](repeating: 0, count: rows * t * w)
        for n in 0..<rows {
            Self.attend(query: query.storage, queryOffset: n * t * w, queries: t, keys: selfKeys[l], values: selfValues[l],
                        kvOffset: n * heads * cap * dh, kvStride: cap, keyCount: start + t, causalStart: start,
                        heads: heads, headDim: dh, out: &out)
        }
        return Tensor(out, shape: [rows, t, w])
    }

    /// Attention of `query [N, T, H·Dh]` over each row's memory item: `[N, T, H·Dh]`.
    func attendToMemory(layer l: Int, query: Tensor) -> Tensor {
        let t = query.shape[1], w = width, dh = headDim, s = memoryFrames
        var out = [Float](repeating: 0, count: rows * t * w)
        for n in 0..<rows {
            let b = source[n]
            Self.attend(query: query.storage, queryOffset: n * t * w, queries: t, keys: crossKeys[l], values: crossValues[l],
                        kvOffset: b * heads * s * dh, kvStride: s, keyCount: memoryLengths[b], causalStart: nil,
                        heads: heads, headDim: dh, out: &out)
        }
        return Tensor(out, shape: [rows, t, w])
    }

    /// softmax(q·kᵀ/√Dh)·v per head for `queries` rows of one hypothesis. Queries and outputs are
    /// `[T, H·Dh]` at `queryOffset`; keys/values `[H, kvStride, Dh]` at `kvOffset`, of which the
    /// first `keyCount` are used. With `causalStart` p, query i sees keys `0...p+i`.
    static func attend(query: [Float], queryOffset: Int, queries t: Int, keys: [Float], values: [Float], kvOffset: Int,
                       kvStride: Int, keyCount: Int, causalStart: Int?, heads: Int, headDim dh: Int, out: inout [Float]) {
        let w = heads * dh
        let scale = 1 / Float(dh).squareRoot()
        var scores = [Float](repeating: 0, count: t * keyCount)
        query.withUnsafeBufferPointer { q in
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    out.withUnsafeMutableBufferPointer { o in
                        scores.withUnsafeMutableBufferPointer { sc in
                            for h in 0..<heads {
                                let kh = k.baseAddress! + kvOffset + h * kvStride * dh
                                let vh = v.baseAddress! + kvOffset + h * kvStride * dh
                                BLAS.sgemm(transA: false, transB: true, m: t, n: keyCount, k: dh, alpha: scale,
                                           a: q.baseAddress! + queryOffset + h * dh, lda: w, b: kh, ldb: dh,
                                           beta: 0, c: sc.baseAddress!, ldc: keyCount)
                                for i in 0..<t {
                                    let row = sc.baseAddress! + i * keyCount
                                    let visible = causalStart.map { min(keyCount, $0 + i + 1) } ?? keyCount
                                    var m = -Float.infinity
                                    for j in 0..<visible { m = max(m, row[j]) }
                                    var sum: Float = 0
                                    for j in 0..<visible { row[j] = expf(row[j] - m); sum += row[j] }
                                    let inv = 1 / sum
                                    for j in 0..<visible { row[j] *= inv }
                                    for j in visible..<keyCount { row[j] = 0 }
                                }
                                BLAS.sgemm(transA: false, transB: false, m: t, n: dh, k: keyCount, alpha: 1,
                                           a: sc.baseAddress!, lda: keyCount, b: vh, ldb: dh,
                                           beta: 0, c: o.baseAddress! + queryOffset + h * dh, ldc: w)
                            }
                        }
                    }
                }
            }
        }
    }
}

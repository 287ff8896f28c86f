import Core
import Foundation

/// How a `kg-query train` (ComplEx) or `kg-query adapt` (CQD-A) run checkpoints, resumes and
/// splits its batches over ranks (see docs/distributed.md). The default is what the trainers
/// did before: one process, no checkpoint, no resume.
public typealias GraphTrainingRun = TrainingRun

/// FNV-1a-64 helpers for the checkpoint configs: data sets and weights as 16 hex digits.
enum GraphHash {
    typealias State = FNV1a64

    /// The vocabularies and the three splits of a graph.
    static func dataset(_ kg: KGDataset) -> String {
        var s = State()
        s.mix(vocabularyFingerprint(entities: kg.entities, relations: kg.relations))
        for split in [kg.train, kg.valid, kg.test] {
            s.mix(UInt64(split.count))
            for t in split { s.mix(UInt64(t.head)); s.mix(UInt64(t.relation)); s.mix(UInt64(t.tail)) }
        }
        return s.hex
    }

    /// Embedding tables (the link predictor's weights).
    static func tables(_ model: ComplExModel) -> String {
        var s = State()
        s.mix(UInt64(model.rank)); s.mix(model.entity); s.mix(model.relation)
        return s.hex
    }

    /// Labelled queries in order: structure and anchors (the query's printed form) and answers.
    static func queries(_ queries: [ComplexQueryExample]) -> String {
        var s = State()
        for q in queries {
            s.mix("\(q.query)")
            for a in q.easy { s.mix(UInt64(a)) }
            s.mix(0xE)
            for a in q.hard { s.mix(UInt64(a)) }
            s.mix(0xA)
        }
        return s.hex
    }
}

/// Float sums for averaging over ranks: `values` scaled by `weight`, the weight, and extras, in
/// one buffer reused step after step, so a step needs one all-reduce and no new allocation.
struct FlatAverage {
    private var buffer: [Float] = []

    /// Replaces each array of `arrays` by Σ_r w_r·a_r / Σ_r w_r and returns the total weight
    /// and the summed extras. Every rank passes arrays of the same sizes.
    mutating func average(_ arrays: inout [[Float]], weight: Float, extras: [Float], world: any Distributed) throws -> (total: Float, sums: [Float]) {
        let count = arrays.reduce(0) { $0 + $1.count } + 1 + extras.count
        if buffer.count != count { buffer = [Float](repeating: 0, count: count) }
        var offset = 0
        buffer.withUnsafeMutableBufferPointer { b in
            for a in arrays {
                a.withUnsafeBufferPointer { src in for i in 0..<src.count { b[offset + i] = src[i] * weight } }
                offset += a.count
            }
            b[offset] = weight
            for (k, e) in extras.enumerated() { b[offset + 1 + k] = e }
        }
        try buffer.withUnsafeMutableBufferPointer { try world.allReduceSum($0) }
        let total = buffer[offset]
        guard total > 0 else { throw DistributedError.mismatch("no rank had data for this step (total weight 0)") }
        offset = 0
        for j in arrays.indices {
            let n = arrays[j].count
            buffer.withUnsafeBufferPointer { b in
                arrays[j].withUnsafeMutableBufferPointer { dst in for i in 0..<n { dst[i] = b[offset + i] / total } }
            }
            offset += n
        }
        return (total, Array(buffer[(offset + 1)...]))
    }
}

/// Adagrad over named Module parameters behind Core's `Optimizer` protocol, so `CQDATrainer`
/// can use `TrainingSession` (checkpoint, resume, gradient averaging). Each parameter keeps its
/// own `Adagrad` (state `<name>.sum_squares`); the arithmetic is `Adagrad.step`'s.
final class AdagradOptimizer: Optimizer {
    var learningRate: Double
    private var slots: [String: Adagrad] = [:]

    init(learningRate: Float) { self.learningRate = Double(learningRate) }

    func step(_ parameters: [(String, Tensor)]) {
        for (name, p) in parameters {
            guard let g = p.gradStorage else { continue }
            var opt = slots[name] ?? Adagrad(parameterCount: p.count, learningRate: Float(learningRate))
            opt.learningRate = Float(learningRate)
            opt.step(&p.storage, gradient: g)
            slots[name] = opt
        }
    }

    func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, opt) in slots { out[name + ".sum_squares"] = Tensor(opt.sumSquares, shape: [opt.sumSquares.count]) }
        return out
    }

    func loadStateDict(_ state: [String: Tensor], for parameters: [(String, Tensor)]) throws {
        var slots: [String: Adagrad] = [:]
        let byName = Dictionary(parameters.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        for (key, t) in state {
            let name = key.hasSuffix(".sum_squares") ? String(key.dropLast(".sum_squares".count)) : key
            guard let p = byName[name], key.hasSuffix(".sum_squares"), t.count == p.count else {
                throw GraphDataError("optimizer state '\(key)' does not match a trainable parameter of this adapter")
            }
            var opt = Adagrad(parameterCount: p.count, learningRate: Float(learningRate))
            try opt.restore(sumSquares: t.storage)
            slots[name] = opt
        }
        self.slots = slots
    }
}

/// Codable form of a `RankingSummary` (exact bits).
struct RankingSummaryRecord: Codable {
    var count: Int
    var meanRank: UInt64
    var mrr: UInt64
    var hits: [String: UInt64]

    init(_ s: RankingSummary) {
        count = s.count
        meanRank = s.meanRank.bitPattern
        mrr = s.mrr.bitPattern
        hits = Dictionary(uniqueKeysWithValues: s.hits.map { ("\($0.key)", $0.value.bitPattern) })
    }

    var summary: RankingSummary {
        var hitsByK: [Int: Double] = [:]
        for (k, v) in hits { if let i = Int(k) { hitsByK[i] = Double(bitPattern: v) } }
        return RankingSummary(count: count, meanRank: Double(bitPattern: meanRank), mrr: Double(bitPattern: mrr), hits: hitsByK)
    }
}

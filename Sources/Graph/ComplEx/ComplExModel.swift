import Core

/// Anything that scores every entity as the answer of `(anchor, relation', ?)` queries
/// (relation ids over the reciprocal range `0..<2R`). CQD only needs this.
public protocol LinkPredictor: AnyObject, Sendable {
    var entityCount: Int { get }
    /// Relations before adding reciprocals (`R`); relation ids run over `0..<2R`.
    var relationCount: Int { get }
    /// Scores `[B, N]`, row-major: row b scores every entity as the answer of query b.
    func scoreAll(anchors: [Int], relations: [Int]) -> [Float]
}

/// ComplEx (Trouillon et al. 2016) with reciprocal relations, the link predictor of CQD.
///
/// Each embedding is a complex vector of `rank` coordinates stored as `2·rank` reals:
/// `[re_1 … re_k, im_1 … im_k]` (the kbc / CQD layout). The score of `(s, p, o)` is
/// `Re⟨e_s, r_p, conj(e_o)⟩ = ⟨q, e_o⟩` with the query vector `q = e_s ∘ r_p` (complex product),
/// so scoring a batch against all entities is one GEMM `Q · Eᵀ`.
///
/// ```swift
/// let m = ComplExModel(entityCount: 135, relationCount: 46, rank: 1000, seed: 0)
/// let scores = m.scoreAll(anchors: [3], relations: [7])   // [1, 135]
/// ```
public final class ComplExModel: LinkPredictor, @unchecked Sendable {
    public let rank: Int
    public let entityCount: Int
    public let relationCount: Int
    /// Entity table `[N, 2k]`. Mutated only by training (one owner at a time).
    public var entity: [Float]
    /// Relation table `[2R, 2k]`: rows `R..<2R` are the reciprocal (inverse) relations.
    public var relation: [Float]

    /// Width of one stored embedding row (`2 · rank`).
    public var width: Int { 2 * rank }

    /// A fresh model: every value `N(0, 1) · initScale` (CQD's init, scale 1e-3), seeded.
    public init(entityCount: Int, relationCount: Int, rank: Int, initScale: Float = 1e-3, seed: UInt64 = 0) {
        precondition(entityCount > 0 && relationCount > 0 && rank > 0, "ComplEx: sizes must be positive")
        self.rank = rank
        self.entityCount = entityCount
        self.relationCount = relationCount
        var rng = SplitMix64(seed: seed)
        var e = [Float](repeating: 0, count: entityCount * 2 * rank)
        for i in e.indices { e[i] = rng.nextNormal() * initScale }
        var r = [Float](repeating: 0, count: 2 * relationCount * 2 * rank)
        for i in r.indices { r[i] = rng.nextNormal() * initScale }
        entity = e
        relation = r
    }

    /// A model from existing tables (loading). Throws when the sizes disagree.
    public init(entityCount: Int, relationCount: Int, rank: Int, entity: [Float], relation: [Float]) throws {
        guard entity.count == entityCount * 2 * rank, relation.count == 2 * relationCount * 2 * rank else {
            throw GraphDataError(
                "ComplEx tables have \(entity.count) / \(relation.count) values; expected \(entityCount)×\(2 * rank) "
                    + "entities and \(2 * relationCount)×\(2 * rank) relations (reciprocal): the file does not match its config")
        }
        self.rank = rank
        self.entityCount = entityCount
        self.relationCount = relationCount
        self.entity = entity
        self.relation = relation
    }

    /// Total number of real parameters.
    public var parameterCount: Int { entity.count + relation.count }

    /// Query vectors `q_b = e_{anchor_b} ∘ r_{relation_b}` into `out [B, 2k]`.
    public func queryVectors(anchors: [Int], relations: [Int], into out: UnsafeMutablePointer<Float>) {
        let k = rank, w = width
        entity.withUnsafeBufferPointer { e in
            relation.withUnsafeBufferPointer { r in
                for b in 0..<anchors.count {
                    complexProduct(
                        e.baseAddress! + anchors[b] * w, r.baseAddress! + relations[b] * w, out + b * w, k)
                }
            }
        }
    }

    /// Scores of every entity for each query: `[B, N] = Q · Eᵀ`.
    public func scoreAll(anchors: [Int], relations: [Int]) -> [Float] {
        precondition(anchors.count == relations.count, "scoreAll: \(anchors.count) anchors vs \(relations.count) relations")
        let b = anchors.count, w = width, n = entityCount
        var q = [Float](repeating: 0, count: b * w)
        q.withUnsafeMutableBufferPointer { queryVectors(anchors: anchors, relations: relations, into: $0.baseAddress!) }
        var s = [Float](repeating: 0, count: b * n)
        q.withUnsafeBufferPointer { qp in
            entity.withUnsafeBufferPointer { ep in
                s.withUnsafeMutableBufferPointer { sp in
                    BLAS.sgemm(
                        transA: false, transB: true, m: b, n: n, k: w,
                        a: qp.baseAddress!, lda: w, b: ep.baseAddress!, ldb: w, c: sp.baseAddress!, ldc: n)
                }
            }
        }
        return s
    }

    /// Scores `[B, N]` for the given query vectors `[B, 2k]` (CQD scores projected variables).
    public func scoreAll(queryVectors q: [Float]) -> [Float] {
        let w = width, n = entityCount, b = q.count / w
        var s = [Float](repeating: 0, count: b * n)
        q.withUnsafeBufferPointer { qp in
            entity.withUnsafeBufferPointer { ep in
                s.withUnsafeMutableBufferPointer { sp in
                    BLAS.sgemm(
                        transA: false, transB: true, m: b, n: n, k: w,
                        a: qp.baseAddress!, lda: w, b: ep.baseAddress!, ldb: w, c: sp.baseAddress!, ldc: n)
                }
            }
        }
        return s
    }

    /// The score `φ_p(s, o)` of one triple over reciprocal relation ids.
    public func score(anchor: Int, relation p: Int, answer o: Int) -> Float {
        let w = width
        var q = [Float](repeating: 0, count: w)
        q.withUnsafeMutableBufferPointer { queryVectors(anchors: [anchor], relations: [p], into: $0.baseAddress!) }
        var total: Float = 0
        for j in 0..<w { total += q[j] * entity[o * w + j] }
        return total
    }
}

/// `out = a ∘ b` for complex vectors stored `[re…, im…]` of length `k` each.
@inline(__always)
func complexProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ k: Int) {
    for j in 0..<k {
        let ar = a[j], ai = a[k + j], br = b[j], bi = b[k + j]
        out[j] = ar * br - ai * bi
        out[k + j] = ar * bi + ai * br
    }
}

import Core

/// Recalibrates raw atom scores before they become truth values (CQD-A's adapter slot).
/// `raw [m, N]` scores atoms `relation(anchors[i], ·)` over all entities; the result has the
/// same shape and may depend on trainable tensors (gradients flow through CQD's operators).
public protocol AtomScoreAdapter: AnyObject {
    func adapt(_ raw: Tensor, anchors: [Int], relation: Int, model: ComplExModel) -> Tensor
}

/// Settings of CQD-Beam.
public struct CQDOptions: Sendable {
    /// Candidates kept per existential variable (the beam width k). Tune on validation queries;
    /// the CQD README uses 64, adaptive-cqd's default is 5.
    public var beamWidth = 16
    public var tNorm: TNorm = .product
    public var normalization: AtomNormalization = .sigmoid

    public init(beamWidth: Int = 16, tNorm: TNorm = .product, normalization: AtomNormalization = .sigmoid) {
        self.beamWidth = beamWidth
        self.tNorm = tNorm
        self.normalization = normalization
    }
}

/// CQD-Beam (Arakelyan et al., ICLR 2021): answers a `Query` with a frozen link predictor by
/// scoring each atom, turning scores into truth values, combining them with a t-norm /
/// t-conorm, and replacing each existential variable by its top-k candidates.
///
/// A projection `r(q)` of a sub-query `q` with truth vector `v` keeps the k entities `c` with
/// the highest `v(c)` and scores `max_c ⊤(v(c), t_r(c, y))` for every `y`: the beam step of the
/// paper's chain `p1(a, V) ∧ p2(V, Y)`, applied at every variable of the tree. Intersections,
/// unions and negations act on whole truth vectors, so ip / up compute the sub-query before the
/// hop, as adaptive-cqd's `query_ip` / `query_up_dnf` do. With k ≥ N the result is the exact
/// maximum over all variable assignments. (For 3p the reference code keeps k² paths chosen by
/// single-atom scores; here the second variable's k candidates are chosen by their path score.)
///
/// ```swift
/// let cqd = CQDBeam(model: m, options: CQDOptions(beamWidth: 16))
/// let top = try cqd.answer(try QueryParser(kg).parse("r2(r1(e))"), top: 10)
/// ```
public final class CQDBeam {
    public let model: ComplExModel
    public var options: CQDOptions
    /// CQD-A score adapter; nil = plain CQD.
    public var adapter: AtomScoreAdapter?

    public init(model: ComplExModel, options: CQDOptions = CQDOptions(), adapter: AtomScoreAdapter? = nil) {
        self.model = model
        self.options = options
        self.adapter = adapter
    }

    /// Truth values of atoms `relation(anchors[i], ·)`: `[m, N]`.
    public func atomTruth(anchors: [Int], relation: Int) -> Tensor {
        var raw = Tensor(model.scoreAll(anchors: anchors, relations: [Int](repeating: relation, count: anchors.count)),
                         shape: [anchors.count, model.entityCount])
        if let a = adapter { raw = a.adapt(raw, anchors: anchors, relation: relation, model: model) }
        return options.normalization.apply(raw)
    }

    /// Truth value of `query` for every entity as the answer: `[1, N]`. Records autograd
    /// history when an adapter has trainable tensors and grad mode is on.
    public func truth(_ query: Query) throws -> Tensor {
        try query.validate(entityCount: model.entityCount, relationCount: model.relationCount)
        return evaluate(query)
    }

    private func evaluate(_ q: Query) -> Tensor {
        let t = options.tNorm
        switch q {
        case .entity:
            preconditionFailure("validated: a bare entity is only a projection's argument")
        case let .project(.entity(e), r):
            return atomTruth(anchors: [e], relation: r)
        case let .project(sub, r):
            let v = evaluate(sub)  // [1, N]
            let k = max(1, min(options.beamWidth, model.entityCount))
            let cand = topIndices(v.storage, k)
            let vk = v.indexSelect(axis: 1, cand).reshaped([cand.count, 1])  // [k, 1]
            let s = atomTruth(anchors: cand, relation: r)                      // [k, N]
            return t.and(vk, s).max(axis: 0, keepDims: true)                   // [1, N]
        case let .and(qs):
            return qs.dropFirst().reduce(evaluate(qs[0])) { t.and($0, evaluate($1)) }
        case let .or(qs):
            return qs.dropFirst().reduce(evaluate(qs[0])) { t.or($0, evaluate($1)) }
        case let .not(sub):
            return t.not(evaluate(sub))
        }
    }

    /// The `top` best answers with their truth values, best first (ties: lower id first).
    public func answer(_ query: Query, top: Int) throws -> [(entity: Int, score: Float)] {
        let v = try withoutGrad { try truth(query) }
        return topIndices(v.storage, max(0, min(top, model.entityCount))).map { ($0, v.storage[$0]) }
    }
}

/// Indices of the `k` largest values, largest first; ties broken by lower index; NaN last.
func topIndices(_ values: [Float], _ k: Int) -> [Int] {
    guard k > 0 else { return [] }
    func key(_ i: Int) -> Float { values[i].isNaN ? -.infinity : values[i] }
    if k >= values.count {
        return values.indices.sorted { key($0) > key($1) || (key($0) == key($1) && $0 < $1) }
    }
    // Keep a small sorted buffer: O(N·k) worst case, k is a beam width (tens).
    var best: [Int] = []
    best.reserveCapacity(k + 1)
    for i in values.indices {
        let v = key(i)
        if best.count == k, let last = best.last, !(v > key(last)) { continue }
        var pos = best.count
        while pos > 0 && v > key(best[pos - 1]) { pos -= 1 }
        best.insert(i, at: pos)
        if best.count > k { best.removeLast() }
    }
    return best
}

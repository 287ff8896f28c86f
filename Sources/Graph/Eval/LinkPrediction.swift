/// Filtered link-prediction ranks of a set of test triples in both directions.
public struct LinkPredictionResult: Sendable {
    /// Ranks of tails for `(h, r, ?)`.
    public var tail: RankAccumulator
    /// Ranks of heads for `(?, r, t)` (asked as `(t, r⁻¹, ?)`).
    public var head: RankAccumulator

    /// Both directions together (tail ranks then head ranks), the number papers report.
    public var both: RankAccumulator {
        var a = tail
        a.add(contentsOf: head)
        return a
    }
}

/// Filtered evaluation (Bordes et al. 2013, as in kbc / CQD / PyKEEN): every test triple asks
/// for its tail and its head; all entities are scored, other known true answers
/// (`known`, usually train ∪ valid ∪ test) are removed from the comparison, the answer never is.
///
/// ```swift
/// let known = KnownAnswers(kg.allTriples, relationCount: kg.relations.count)
/// let r = evaluateLinkPrediction(model, triples: kg.test, known: known)
/// print(r.both.summary(.realistic))
/// ```
public func evaluateLinkPrediction(
    _ model: LinkPredictor, triples: [Triple], known: KnownAnswers, batchSize: Int = 1000
) -> LinkPredictionResult {
    let relCount = model.relationCount
    func ranks(_ queries: [LinkQuery]) -> RankAccumulator {
        var acc = RankAccumulator()
        let n = model.entityCount
        var start = 0
        while start < queries.count {
            let chunk = Array(queries[start..<min(queries.count, start + max(1, batchSize))])
            let scores = model.scoreAll(anchors: chunk.map(\.anchor), relations: chunk.map(\.relation))
            scores.withUnsafeBufferPointer { s in
                for (b, q) in chunk.enumerated() {
                    let row = UnsafeBufferPointer(rebasing: s[(b * n)..<((b + 1) * n)])
                    acc.add(rankAnswer(scores: row, answer: q.answer,
                                       filtered: known.answers(anchor: q.anchor, relation: q.relation)))
                }
            }
            start += chunk.count
        }
        return acc
    }
    let tails = triples.map { LinkQuery(anchor: $0.head, relation: $0.relation, answer: $0.tail) }
    let heads = triples.map { LinkQuery(anchor: $0.tail, relation: $0.relation + relCount, answer: $0.head) }
    return LinkPredictionResult(tail: ranks(tails), head: ranks(heads))
}

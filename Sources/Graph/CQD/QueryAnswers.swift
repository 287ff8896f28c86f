/// Exact answers of a `Query` on an observed graph (set semantics, no model): what BetaE
/// computes to label its queries. A query's *easy* answers come from the earlier graph (e.g.
/// train + valid for test queries); its *hard* answers need at least one held-out edge.
public struct GraphIndex: Sendable {
    public let entityCount: Int
    public let relationCount: Int
    let edges: KnownAnswers
    /// `incoming[y]` = every `(x, r')` with `r'(x, y)` over reciprocal ids (for backward sampling).
    let incoming: [[(anchor: Int, relation: Int)]]

    public init(_ triples: [Triple], entityCount: Int, relationCount: Int) {
        self.entityCount = entityCount
        self.relationCount = relationCount
        edges = KnownAnswers(triples, relationCount: relationCount)
        var inc = [[(anchor: Int, relation: Int)]](repeating: [], count: entityCount)
        for t in Set(triples).sorted(by: { ($0.head, $0.relation, $0.tail) < ($1.head, $1.relation, $1.tail) }) {
            inc[t.tail].append((t.head, t.relation))
            inc[t.head].append((t.tail, t.relation + relationCount))
        }
        incoming = inc
    }

    /// Objects of `relation'(anchor, ·)` (reciprocal ids allowed), ascending.
    public func objects(_ anchor: Int, _ relation: Int) -> [Int] { edges.answers(anchor: anchor, relation: relation) }

    /// The exact answer set of `query` on this graph.
    public func answers(_ query: Query) -> Set<Int> {
        switch query {
        case let .entity(e): return [e]
        case let .project(sub, r):
            var out = Set<Int>()
            for x in answers(sub) { out.formUnion(objects(x, r)) }
            return out
        case let .and(qs):
            return qs.dropFirst().reduce(answers(qs[0])) { $0.intersection(answers($1)) }
        case let .or(qs):
            return qs.dropFirst().reduce(answers(qs[0])) { $0.union(answers($1)) }
        case let .not(sub):
            return Set(0..<entityCount).subtracting(answers(sub))
        }
    }
}

/// A labelled complex query: the filtered protocol ranks each hard answer among all entities
/// with every other answer (easy or hard) removed.
public struct ComplexQueryExample: Sendable, Hashable {
    public var query: Query
    public var easy: [Int]
    public var hard: [Int]

    public init(query: Query, easy: [Int], hard: [Int]) {
        self.query = query
        self.easy = easy
        self.hard = hard
    }

    /// BetaE structure name, or "other".
    public var structure: String { query.structureName ?? "other" }
}

/// Per-query filtered metrics averaged over queries (each query's MRR is the mean over its
/// hard answers, as in KGReasoning), reported per structure.
public struct ComplexQueryMetrics: Sendable {
    /// structure → (queries, mean MRR, mean Hits@1/3/10)
    public private(set) var byStructure: [String: (count: Int, mrr: Double, hits1: Double, hits3: Double, hits10: Double)] = [:]

    public init() {}

    /// Adds one query's answer ranks (under `rule`).
    public mutating func add(structure: String, ranks: [AnswerRank], rule: TieRule) {
        guard !ranks.isEmpty else { return }
        let n = Double(ranks.count)
        let vals = ranks.map { $0.value(rule) }
        let mrr = vals.reduce(0) { $0 + 1 / $1 } / n
        func hits(_ k: Double) -> Double { Double(vals.filter { $0 <= k }.count) / n }
        var cur = byStructure[structure] ?? (0, 0, 0, 0, 0)
        cur.count += 1
        cur.mrr += mrr
        cur.hits1 += hits(1)
        cur.hits3 += hits(3)
        cur.hits10 += hits(10)
        byStructure[structure] = cur
    }

    /// Mean over queries of one structure: (MRR, H@1, H@3, H@10), or nil when none.
    public func summary(_ structure: String) -> (count: Int, mrr: Double, hits1: Double, hits3: Double, hits10: Double)? {
        guard let s = byStructure[structure], s.count > 0 else { return nil }
        let n = Double(s.count)
        return (s.count, s.mrr / n, s.hits1 / n, s.hits3 / n, s.hits10 / n)
    }

    /// Mean MRR over the given structures that have queries (EPFO or negation average).
    public func averageMRR(_ structures: [String]) -> Double? {
        let v = structures.compactMap { summary($0)?.mrr }
        return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
    }
}

/// Filtered evaluation of CQD on labelled queries: every hard answer is ranked against all
/// entities minus the query's other answers.
public func evaluateComplexQueries(
    _ cqd: CQDBeam, _ examples: [ComplexQueryExample], rule: TieRule = .optimistic
) throws -> ComplexQueryMetrics {
    var m = ComplexQueryMetrics()
    for ex in examples {
        let v = try withoutGrad { try cqd.truth(ex.query) }
        let all = Array(Set(ex.easy + ex.hard))
        let ranks = ex.hard.map { a in rankAnswer(scores: v.storage, answer: a, filtered: all.filter { $0 != a }) }
        m.add(structure: ex.structure, ranks: ranks, rule: rule)
    }
    return m
}

import Core

import Core

/// Seeded sampling of complex queries following BetaE's `create_queries.py` (Ren & Leskovec
/// 2020), rule for rule:
///
/// - the answer is drawn uniformly from the entities with an incoming edge in the full graph;
///   each hop then draws a relation uniformly among those entering the current entity and an
///   anchor uniformly among that relation's subjects, walking backwards to the anchors; within
///   a chain a hop may not be the inverse of the hop after it (40 tries, else the draw fails);
/// - negated branches are grounded on the same answer (so that answer is excluded);
/// - branches of the same shape in an intersection / union must differ;
/// - labels: easy answers are the answers on the earlier graph, hard answers the answers on the
///   full graph that are not easy; a query with no answer is dropped; for validation / test
///   queries (`easy` given) one with no hard answer is dropped, and a negation query whose
///   negated branch excludes nothing new (no easy answer lost on the full graph) is dropped;
///   so is one with more than `maxAnswers` hard answers or lost easy answers;
/// - queries repeated within a structure are drawn again.
///
/// ```swift
/// let g = QueryGenerator(full: kg.allTriples, easy: kg.train + kg.valid, entityCount: n, relationCount: r)
/// let test2p = try g.sample("2p", count: 100, seed: 1)
/// ```
public struct QueryGenerator: Sendable {
    public let full: GraphIndex
    public let easy: GraphIndex?
    /// BetaE's `max_ans_num`: queries with more hard answers (or more lost easy answers) are dropped.
    public var maxAnswers = 100
    /// Draws per requested query before giving up on a structure (sparse graphs).
    public var attemptsPerQuery = 50
    /// `incoming[y]` grouped by relation: the relations entering `y`, each with its subjects.
    let incoming: [[(relation: Int, anchors: [Int])]]
    let answerPool: [Int]

    /// `easy` nil: training queries (every answer on `full` is a training answer, stored as hard).
    public init(full: [Triple], easy: [Triple]?, entityCount: Int, relationCount: Int) {
        self.full = GraphIndex(full, entityCount: entityCount, relationCount: relationCount)
        self.easy = easy.map { GraphIndex($0, entityCount: entityCount, relationCount: relationCount) }
        let grouped = self.full.incoming.map { edges in
            var groups: [(relation: Int, anchors: [Int])] = []
            for e in edges.sorted(by: { ($0.relation, $0.anchor) < ($1.relation, $1.anchor) }) {
                if groups.last?.relation == e.relation { groups[groups.count - 1].anchors.append(e.anchor) }
                else { groups.append((e.relation, [e.anchor])) }
            }
            return groups
        }
        incoming = grouped
        answerPool = grouped.indices.filter { !grouped[$0].isEmpty }
    }

    /// Up to `count` distinct labelled queries of BetaE structure `structure` ("2p", "pin", …).
    public func sample(_ structure: String, count: Int, seed: UInt64) throws -> [ComplexQueryExample] {
        guard let template = QueryGenerator.templates[structure] else {
            throw GraphDataError("unknown query structure '\(structure)'; known: \((Query.epfoStructures + Query.negationStructures).joined(separator: ", "))")
        }
        var rng = SplitMix64(seed: seed).fork(UInt64(structure.unicodeScalars.reduce(0) { $0 &* 31 &+ UInt64($1.value) }))
        var out: [ComplexQueryExample] = []
        var seen = Set<Query>()
        var attempts = 0
        let negation = Query.negationStructures.contains(structure)
        guard !answerPool.isEmpty else { return [] }
        while out.count < count && attempts < count * attemptsPerQuery {
            attempts += 1
            let target = answerPool[Int(rng.next() % UInt64(answerPool.count))]
            guard let q = ground(template, target: target, next: nil, rng: &rng), !seen.contains(q) else { continue }
            let all = full.answers(q)
            guard !all.isEmpty else { continue }
            let small = easy.map { $0.answers(q) } ?? []
            let hard = all.subtracting(small)
            let lost = small.subtracting(all)
            if easy != nil {
                guard !hard.isEmpty else { continue }
                if negation && lost.isEmpty { continue }
            }
            guard max(hard.count, lost.count) <= maxAnswers else { continue }
            seen.insert(q)
            out.append(ComplexQueryExample(query: q, easy: small.sorted(), hard: hard.sorted()))
        }
        return out
    }

    /// Structure templates with placeholder ids (grounded by `ground`).
    static let templates: [String: Query] = {
        let p1: Query = .project(.entity(0), 0)
        let p2: Query = .project(p1, 0)
        return [
            "1p": p1, "2p": p2, "3p": .project(p2, 0),
            "2i": .and([p1, p1]), "3i": .and([p1, p1, p1]),
            "ip": .project(.and([p1, p1]), 0), "pi": .and([p2, p1]),
            "2u": .or([p1, p1]), "up": .project(.or([p1, p1]), 0),
            "2in": .and([p1, .not(p1)]), "3in": .and([p1, p1, .not(p1)]),
            "inp": .project(.and([p1, .not(p1)]), 0), "pin": .and([p2, .not(p1)]), "pni": .and([.not(p2), p1]),
        ]
    }()

    /// Replaces the template's ids so that `target` satisfies every positive branch. `next` is
    /// the relation of the hop that consumes this node's answer within the same chain.
    func ground(_ t: Query, target: Int, next: Int?, rng: inout SplitMix64) -> Query? {
        switch t {
        case .entity:
            return .entity(target)
        case let .project(sub, _):
            let groups = incoming[target]
            guard !groups.isEmpty else { return nil }
            let r = full.relationCount
            var chosen: (relation: Int, anchors: [Int])? = nil
            for _ in 0..<40 {
                let g = groups[Int(rng.next() % UInt64(groups.count))]
                // BetaE: not the inverse of the following hop (same base relation, other direction).
                if let n = next, g.relation % r == n % r, g.relation != n { continue }
                chosen = g
                break
            }
            guard let c = chosen else { return nil }
            let anchor = c.anchors[Int(rng.next() % UInt64(c.anchors.count))]
            var chainNext: Int? = nil
            if case .project = sub { chainNext = c.relation }
            guard let s = ground(sub, target: anchor, next: chainNext, rng: &rng) else { return nil }
            return .project(s, c.relation)
        case let .and(qs), let .or(qs):
            var parts: [Query] = []
            for q in qs {
                guard let g = ground(q, target: target, next: nil, rng: &rng) else { return nil }
                parts.append(g)
            }
            // Identical branches make a degenerate query (BetaE requires distinct ones).
            guard Set(parts).count == parts.count else { return nil }
            if case .and = t { return .and(parts) }
            return .or(parts)
        case let .not(sub):
            return ground(sub, target: target, next: nil, rng: &rng).map { .not($0) }
        }
    }
}

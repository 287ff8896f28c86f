import Core

/// Seeded BetaE-style sampling of complex queries. A structure is grounded backwards from a
/// random answer entity along edges of the full graph (so the query has at least one answer),
/// then labelled exactly: easy answers on `easyGraph`, hard answers on `fullGraph` minus easy.
/// Queries without a hard answer (or with more than `maxAnswers` answers) are dropped and
/// resampled, as BetaE does.
///
/// ```swift
/// let g = QueryGenerator(full: kg.allTriples, easy: kg.train + kg.valid, entityCount: n, relationCount: r)
/// let test2p = g.sample("2p", count: 100, seed: 1)
/// ```
public struct QueryGenerator: Sendable {
    public let full: GraphIndex
    public let easy: GraphIndex?
    /// Queries with more answers than this are dropped (BetaE keeps answer sets small).
    public var maxAnswers = 100
    /// Tries per requested query before giving up on a structure (sparse graphs).
    public var attemptsPerQuery = 50

    /// `easy` nil: training-style queries, every answer on `full` counts (as hard).
    public init(full: [Triple], easy: [Triple]?, entityCount: Int, relationCount: Int) {
        self.full = GraphIndex(full, entityCount: entityCount, relationCount: relationCount)
        self.easy = easy.map { GraphIndex($0, entityCount: entityCount, relationCount: relationCount) }
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
        let n = full.entityCount
        while out.count < count && attempts < count * attemptsPerQuery {
            attempts += 1
            let target = Int(rng.next() % UInt64(n))
            guard let q = ground(template, target: target, rng: &rng), !seen.contains(q) else { continue }
            let all = full.answers(q)
            let easyAns = easy.map { $0.answers(q) } ?? []
            let hard = all.subtracting(easyAns)
            guard !hard.isEmpty, all.count <= maxAnswers else { continue }
            seen.insert(q)
            out.append(ComplexQueryExample(query: q, easy: easyAns.sorted(), hard: hard.sorted()))
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

    /// Replaces the template's ids so that `target` satisfies every positive branch; a negated
    /// branch is grounded on the target too (so it usually excludes it, and other answers remain).
    func ground(_ t: Query, target: Int, rng: inout SplitMix64) -> Query? {
        switch t {
        case .entity:
            return .entity(target)
        case let .project(sub, _):
            let inc = full.incoming[target]
            guard !inc.isEmpty else { return nil }
            let edge = inc[Int(rng.next() % UInt64(inc.count))]
            guard let s = ground(sub, target: edge.anchor, rng: &rng) else { return nil }
            return .project(s, edge.relation)
        case let .and(qs), let .or(qs):
            var parts: [Query] = []
            for q in qs {
                guard let g = ground(q, target: target, rng: &rng) else { return nil }
                parts.append(g)
            }
            // Identical branches make a degenerate query (BetaE requires distinct ones).
            guard Set(parts).count == parts.count else { return nil }
            if case .and = t { return .and(parts) }
            return .or(parts)
        case let .not(sub):
            return ground(sub, target: target, rng: &rng).map { .not($0) }
        }
    }
}

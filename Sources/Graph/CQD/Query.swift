/// A first-order query over a knowledge graph, as the tree of set operations BetaE and CQD use.
/// Every node denotes a fuzzy set of entities: the answers of the query it roots.
///
/// - `.project(.entity(e), r)` is `{y : r(e, y)}` (one atom, "1p");
/// - `.project(q, r)` is `{y : ∃x ∈ q . r(x, y)}` (a chain hop, "2p", "3p");
/// - `.and`, `.or`, `.not` are intersection (t-norm), union (t-conorm) and complement (`1 − a`).
///
/// Relation ids run over the reciprocal range `0..<2R` (`r + R` is `r⁻¹`).
///
/// ```swift
/// // ip: ?y . ∃x . r1(a, x) ∧ r2(b, x) ∧ r3(x, y)
/// let q: Query = .project(.and([.project(.entity(a), r1), .project(.entity(b), r2)]), r3)
/// ```
public indirect enum Query: Hashable, Sendable {
    case entity(Int)
    case project(Query, Int)
    case and([Query])
    case or([Query])
    case not(Query)

    /// The BetaE name of the structure ("1p", "2p", "3p", "2i", "3i", "ip", "pi", "2u", "up",
    /// "2in", "3in", "inp", "pin", "pni"), or nil for other shapes. Branch order does not matter.
    public var structureName: String? {
        let s = shapeSignature
        return Query.betaeSignatures.first { $0.value == s }?.key
    }

    /// The shape with entities and relations erased, branches sorted: "p(e)", "and(p(e),p(e))", ….
    public var shapeSignature: String {
        switch self {
        case .entity: "e"
        case let .project(q, _): "p(\(q.shapeSignature))"
        case let .and(qs): "and(\(qs.map(\.shapeSignature).sorted().joined(separator: ",")))"
        case let .or(qs): "or(\(qs.map(\.shapeSignature).sorted().joined(separator: ",")))"
        case let .not(q): "not(\(q.shapeSignature))"
        }
    }

    /// Signatures of the 14 BetaE structures (EPFO and negation).
    public static let betaeSignatures: [String: String] = {
        let e = 0, r = 0
        let p1: Query = .project(.entity(e), r)
        let p2: Query = .project(p1, r)
        let list: [(String, Query)] = [
            ("1p", p1),
            ("2p", p2),
            ("3p", .project(p2, r)),
            ("2i", .and([p1, p1])),
            ("3i", .and([p1, p1, p1])),
            ("ip", .project(.and([p1, p1]), r)),
            ("pi", .and([p2, p1])),
            ("2u", .or([p1, p1])),
            ("up", .project(.or([p1, p1]), r)),
            ("2in", .and([p1, .not(p1)])),
            ("3in", .and([p1, p1, .not(p1)])),
            ("inp", .project(.and([p1, .not(p1)]), r)),
            ("pin", .and([p2, .not(p1)])),
            ("pni", .and([.not(p2), p1])),
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.0, $0.1.shapeSignature) })
    }()

    /// The EPFO structures (no negation) in the order papers report them.
    public static let epfoStructures = ["1p", "2p", "3p", "2i", "3i", "ip", "pi", "2u", "up"]
    /// The negation structures.
    public static let negationStructures = ["2in", "3in", "inp", "pin", "pni"]

    /// Number of atoms (projections) in the query.
    public var atomCount: Int {
        switch self {
        case .entity: 0
        case let .project(q, _): 1 + q.atomCount
        case let .and(qs), let .or(qs): qs.reduce(0) { $0 + $1.atomCount }
        case let .not(q): q.atomCount
        }
    }

    /// Checks that the tree is answerable: projections start from an entity or a sub-query,
    /// the root is a set of entities (not a bare entity), branches are non-empty, ids in range.
    public func validate(entityCount: Int, relationCount: Int) throws {
        if case .entity = self { throw GraphDataError("query: a bare entity is not a question; project it over a relation, e.g. r(e)") }
        try check(entityCount: entityCount, relationCount: relationCount)
    }

    private func check(entityCount: Int, relationCount: Int) throws {
        switch self {
        case let .entity(e):
            guard e >= 0 && e < entityCount else { throw GraphDataError("query: entity id \(e) out of range 0..<\(entityCount)") }
        case let .project(q, r):
            guard r >= 0 && r < 2 * relationCount else {
                throw GraphDataError("query: relation id \(r) out of range 0..<\(2 * relationCount) (reciprocals included)")
            }
            try q.check(entityCount: entityCount, relationCount: relationCount)
        case let .and(qs), let .or(qs):
            guard qs.count >= 1 else { throw GraphDataError("query: empty conjunction or disjunction") }
            for q in qs {
                if case .entity = q { throw GraphDataError("query: an entity cannot be intersected or united; project it over a relation first") }
                try q.check(entityCount: entityCount, relationCount: relationCount)
            }
        case let .not(q):
            if case .entity = q { throw GraphDataError("query: cannot negate a bare entity; negate a projection such as !r(e)") }
            try q.check(entityCount: entityCount, relationCount: relationCount)
        }
    }
}

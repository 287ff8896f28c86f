/// A link-prediction query `(anchor, relation', ?)` over reciprocal relations: relation ids
/// `0..<R` ask for tails of `(anchor, r, ?)`; ids `R..<2R` ask for heads of `(?, r, anchor)`
/// written as the inverse relation `r + R`. Both directions then score the same way.
public struct LinkQuery: Hashable, Sendable {
    public var anchor: Int
    public var relation: Int
    public var answer: Int

    public init(anchor: Int, relation: Int, answer: Int) {
        self.anchor = anchor
        self.relation = relation
        self.answer = answer
    }

    /// The tail query `(h, r, ?) → t` and the head query `(t, r⁻¹, ?) → h` of a triple.
    public static func both(_ t: Triple, relationCount: Int) -> [LinkQuery] {
        [LinkQuery(anchor: t.head, relation: t.relation, answer: t.tail),
         LinkQuery(anchor: t.tail, relation: t.relation + relationCount, answer: t.head)]
    }

    /// Tail queries first, then head queries, for a list of triples (the evaluation order).
    public static func reciprocal(_ triples: [Triple], relationCount: Int) -> [LinkQuery] {
        triples.map { LinkQuery(anchor: $0.head, relation: $0.relation, answer: $0.tail) }
            + triples.map { LinkQuery(anchor: $0.tail, relation: $0.relation + relationCount, answer: $0.head) }
    }
}

/// Every true answer of every `(anchor, relation')` pair over a set of known facts, in both
/// directions: the filter of the filtered ranking protocol (other true answers are not
/// counted as mistakes).
public struct KnownAnswers: Sendable {
    public let relationCount: Int
    private var answers: [Int: [Int]] = [:]
    private let keyStride: Int

    /// Indexes `triples` (usually train + valid + test) with reciprocal relations.
    public init(_ triples: [Triple], relationCount: Int) {
        self.relationCount = relationCount
        keyStride = 2 * relationCount
        var sets: [Int: Set<Int>] = [:]
        for t in triples {
            sets[t.head * keyStride + t.relation, default: []].insert(t.tail)
            sets[t.tail * keyStride + t.relation + relationCount, default: []].insert(t.head)
        }
        // Sorted arrays: compact and deterministic to iterate.
        answers = sets.mapValues { $0.sorted() }
    }

    /// All known answers of `(anchor, relation', ?)`, ascending (empty when none).
    public func answers(anchor: Int, relation: Int) -> [Int] {
        answers[anchor * keyStride + relation] ?? []
    }

    /// Whether `(anchor, relation', answer)` is a known fact.
    public func contains(anchor: Int, relation: Int, answer: Int) -> Bool {
        guard let a = answers[anchor * keyStride + relation] else { return false }
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < answer { lo = mid + 1 } else { hi = mid }
        }
        return lo < a.count && a[lo] == answer
    }
}

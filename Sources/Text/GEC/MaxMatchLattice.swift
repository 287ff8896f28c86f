/// The edit lattice of the NUS M² scorer (MaxMatch, Dahlmeier & Ng 2012), built the way its
/// reference implementation (github nusnlp/m2scorer, `levenshtein.py`) builds it, so that the
/// chosen edit sequence — and with it every count — agrees with that tool exactly.
///
/// Vertices are cells (i, j) of Levenshtein matrices between source and hypothesis tokens that lie
/// on an optimal alignment path; edges are single alignment steps (`sub`, `del`, `ins`, `noop` for
/// a matched token). Two matrices are built, one with substitution cost 1 and one with cost 2, and
/// their graphs are unioned. Then "transitive arcs" merge chains of steps into one edge (Floyd–
/// Warshall order) as long as the merged edit spans at most `maxUnchangedWords` matched tokens, and
/// merged all-`noop` arcs are removed again.
///
/// Reproduced quirks of the reference, because they decide ties:
/// - an edge present in both matrices is listed twice in the edge list (the union checks edges
///   against the vertex list, so it never finds a duplicate); the scorer's weights add their
///   epsilon once per listing;
/// - an insertion in row 0 is written at source position 0 and an insertion elsewhere at i;
/// - removing the merged `noop` arcs walks the list while deleting from it, so the entry right
///   after each removed one is skipped (and may survive).
struct MaxMatchLattice {
    enum Kind: UInt8 { case ins, del, sub, noop }

    /// An edit on an edge: kind, source span, original and corrected text (tokens joined by one
    /// space) and the number of matched tokens it spans.
    struct Edit {
        var kind: Kind
        var start: Int, end: Int
        var original: String, correction: String
        var unchanged: Int
    }

    /// Vertex (i, j) as i·(m+1)+j: the numeric order is the reference's tuple order.
    let width: Int
    /// The number of vertex ids, (n+1)·(m+1); an edge's key is from·space + to.
    let space: Int
    /// Vertices in sorted order.
    private(set) var vertices: [Int] = []
    /// Edges as (from, to), in the reference's list order (duplicates included).
    private(set) var edges: [(from: Int, to: Int)] = []
    /// Edge length (number of single steps) and edit, keyed by `key(from, to)`.
    private(set) var dist: [Int: Double] = [:]
    private(set) var edits: [Int: Edit] = [:]

    func key(_ from: Int, _ to: Int) -> Int { from * space + to }
    var end: Int { vertices.last ?? 0 }

    init(source: [String], hypothesis: [String], maxUnchangedWords: Int) {
        width = hypothesis.count + 1
        space = (source.count + 1) * width
        var vertexSet = Set<Int>()
        var edgeList: [(Int, Int)] = []
        var edgeEdits: [Int: Edit] = [:]
        let n = source.count, m = hypothesis.count
        for substitutionCost in [1, 2] {
            let back = Self.backpointers(source, hypothesis, substitutionCost: substitutionCost)
            // Breadth-first from the last cell over the back pointers: every cell on an optimal path.
            var seen = Set<Int>()
            var queue = [n * width + m]
            var head = 0
            while head < queue.count {
                let v = queue[head]; head += 1
                guard seen.insert(v).inserted else { continue }
                vertexSet.insert(v)
                for (prev, edit) in back[v] {
                    edgeList.append((prev, v))
                    if edgeEdits[key(prev, v)] == nil { edgeEdits[key(prev, v)] = edit }
                    queue.append(prev)
                }
            }
        }
        vertices = vertexSet.sorted()
        edges = edgeList.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { (from: $0.0, to: $0.1) }
        for (f, t) in edges {
            let k = key(f, t)
            dist[k] = 1
            edits[k] = edgeEdits[k]
        }
        addTransitiveArcs(maxUnchangedWords: maxUnchangedWords)
    }

    /// The back pointers of one Levenshtein matrix (insert and delete cost 1): for each cell every
    /// predecessor achieving its minimum, in the order substitute/match, delete, insert.
    static func backpointers(_ a: [String], _ b: [String], substitutionCost: Int) -> [[(Int, Edit)]] {
        let n = a.count, m = b.count, w = m + 1
        var d = [Int](repeating: 0, count: (n + 1) * w)
        var back = [[(Int, Edit)]](repeating: [], count: (n + 1) * w)
        for i in stride(from: 1, through: n, by: 1) {
            d[i * w] = i
            back[i * w] = [((i - 1) * w, Edit(kind: .del, start: i - 1, end: i, original: a[i - 1], correction: "", unchanged: 0))]
        }
        for j in stride(from: 1, through: m, by: 1) {
            d[j] = j
            back[j] = [(j - 1, Edit(kind: .ins, start: 0, end: 0, original: "", correction: b[j - 1], unchanged: 0))]
        }
        for i in stride(from: 1, through: n, by: 1) {
            for j in stride(from: 1, through: m, by: 1) {
                let same = GECTokens.same(a[i - 1], b[j - 1])
                let del = d[(i - 1) * w + j] + 1, ins = d[i * w + j - 1] + 1
                let sub = d[(i - 1) * w + j - 1] + (same ? 0 : substitutionCost)
                let best = min(sub, del, ins)
                d[i * w + j] = best
                var list: [(Int, Edit)] = []
                if sub == best {
                    list.append(((i - 1) * w + j - 1, same
                        ? Edit(kind: .noop, start: i - 1, end: i, original: a[i - 1], correction: b[j - 1], unchanged: 1)
                        : Edit(kind: .sub, start: i - 1, end: i, original: a[i - 1], correction: b[j - 1], unchanged: 0)))
                }
                if del == best { list.append(((i - 1) * w + j, Edit(kind: .del, start: i - 1, end: i, original: a[i - 1], correction: "", unchanged: 0))) }
                if ins == best { list.append((i * w + j - 1, Edit(kind: .ins, start: i, end: i, original: "", correction: b[j - 1], unchanged: 0))) }
                back[i * w + j] = list
            }
        }
        return back
    }

    /// Two consecutive edits as one (the reference's `merge_edits` table): insertions and
    /// deletions combine into substitutions, two noops stay a noop.
    static func merge(_ e1: Edit, _ e2: Edit) -> Edit {
        func join(_ x: String, _ y: String) -> String { x + " " + y }
        let u = e1.unchanged + e2.unchanged
        let s = e1.start, e = e2.end
        switch (e1.kind, e2.kind) {
        case (.ins, .ins): return Edit(kind: .ins, start: s, end: e, original: "", correction: join(e1.correction, e2.correction), unchanged: u)
        case (.ins, .del): return Edit(kind: .sub, start: s, end: e, original: e2.original, correction: e1.correction, unchanged: u)
        case (.ins, _): return Edit(kind: .sub, start: s, end: e, original: e2.original, correction: join(e1.correction, e2.correction), unchanged: u)
        case (.del, .ins): return Edit(kind: .sub, start: s, end: e, original: e1.original, correction: e2.correction, unchanged: u)
        case (.del, .del): return Edit(kind: .del, start: s, end: e, original: join(e1.original, e2.original), correction: "", unchanged: u)
        case (.del, _): return Edit(kind: .sub, start: s, end: e, original: join(e1.original, e2.original), correction: e2.correction, unchanged: u)
        case (_, .ins): return Edit(kind: .sub, start: s, end: e, original: e1.original, correction: join(e1.correction, e2.correction), unchanged: u)
        case (_, .del): return Edit(kind: .sub, start: s, end: e, original: join(e1.original, e2.original), correction: e1.correction, unchanged: u)
        case (.noop, .noop): return Edit(kind: .noop, start: s, end: e, original: join(e1.original, e2.original), correction: join(e1.correction, e2.correction), unchanged: u)
        default: return Edit(kind: .sub, start: s, end: e, original: join(e1.original, e2.original), correction: join(e1.correction, e2.correction), unchanged: u)
        }
    }

    /// Floyd–Warshall over the vertices in sorted order: an arc i→j is added (or its edit replaced)
    /// when i→k→j is shorter and the merged edit spans at most `maxUnchangedWords` matched tokens.
    /// Then merged noop arcs are dropped, with the reference's skip-after-removal walk.
    private mutating func addTransitiveArcs(maxUnchangedWords: Int) {
        var preds: [Int: Set<Int>] = [:], succs: [Int: Set<Int>] = [:]
        for (f, t) in edges { preds[t, default: []].insert(f); succs[f, default: []].insert(t) }
        for vk in vertices {
            // Neither list changes while k is fixed: new arcs i→j have i < k < j.
            let ps = (preds[vk] ?? []).sorted(), ss = (succs[vk] ?? []).sorted()
            for vi in ps {
                let ik = key(vi, vk)
                guard let eik = edits[ik], let dik = dist[ik] else { continue }
                for vj in ss {
                    let kj = key(vk, vj)
                    guard let ekj = edits[kj], let dkj = dist[kj] else { continue }
                    let ij = key(vi, vj)
                    guard dik + dkj < (dist[ij] ?? .infinity) else { continue }
                    let merged = Self.merge(eik, ekj)
                    guard merged.unchanged <= maxUnchangedWords else { continue }
                    edges.append((vi, vj))
                    dist[ij] = dik + dkj
                    edits[ij] = merged
                    preds[vj, default: []].insert(vi); succs[vi, default: []].insert(vj)
                }
            }
        }
        var index = 0
        while index < edges.count {
            let (f, t) = edges[index]
            let k = key(f, t)
            if let e = edits[k], e.kind == .noop, let d = dist[k], d > 1,
               let first = edges.firstIndex(where: { $0.from == f && $0.to == t }) {
                edges.remove(at: first)
                dist[k] = .infinity
                edits[k] = nil
            }
            index += 1
        }
    }
}

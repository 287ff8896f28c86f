import Core

/// How many queries of which structures each split gets.
public struct QuerySetOptions: Sendable {
    /// Structures of the training split (CQD-A trains on these). ip, pi, 2u, up are left out by
    /// default, as in BetaE / CQD-A where they are test-only (out-of-distribution) structures.
    public var trainTypes = ["1p", "2p", "3p", "2i", "3i", "2in", "3in", "inp", "pin", "pni"]
    /// Structures of the validation and test splits.
    public var evalTypes = Query.epfoStructures + Query.negationStructures
    public var trainPerType = 1000
    public var validPerType = 100
    public var testPerType = 100
    /// Keep this fraction of the training queries of each structure (e.g. 0.01), seeded.
    public var queryFraction = 1.0
    /// BetaE's `max_ans_num`.
    public var maxAnswers = 100
    public var seed: UInt64 = 0

    public init() {}

    /// Checks what a user can get wrong; the message names the value and what to do.
    public func validate() throws {
        let known = Set(Query.epfoStructures + Query.negationStructures)
        for t in trainTypes + evalTypes where !known.contains(t) {
            throw GraphDataError("unknown query structure '\(t)'; known: \((Query.epfoStructures + Query.negationStructures).joined(separator: ","))")
        }
        guard trainPerType >= 0, validPerType >= 0, testPerType >= 0 else { throw GraphDataError("query counts must be ≥ 0") }
        guard queryFraction > 0 && queryFraction <= 1 else {
            throw GraphDataError("query fraction must be in (0, 1] (got \(queryFraction)); e.g. 0.01 keeps 1% of the training queries")
        }
        guard maxAnswers >= 1 else { throw GraphDataError("max answers must be ≥ 1 (got \(maxAnswers))") }
    }
}

/// Labelled complex queries for the three splits, generated the way BetaE builds its datasets:
/// training queries on the training graph (every answer is a training answer); validation
/// queries on train ∪ valid with easy answers from train; test queries on train ∪ valid ∪ test
/// with easy answers from train ∪ valid. Hard answers therefore need at least one edge the
/// earlier graph does not have.
public struct QuerySet: Sendable {
    public var train: [ComplexQueryExample] = []
    public var valid: [ComplexQueryExample] = []
    public var test: [ComplexQueryExample] = []

    public init(train: [ComplexQueryExample] = [], valid: [ComplexQueryExample] = [], test: [ComplexQueryExample] = []) {
        self.train = train
        self.valid = valid
        self.test = test
    }

    /// The queries of a split by name ("train", "valid", "test").
    public func split(_ name: String) throws -> [ComplexQueryExample] {
        switch name {
        case "train": return train
        case "valid": return valid
        case "test": return test
        default: throw GraphDataError("unknown split '\(name)'; use train, valid or test")
        }
    }

    /// Number of queries per structure in `examples`, in the papers' order.
    public static func counts(_ examples: [ComplexQueryExample]) -> [(String, Int)] {
        var c: [String: Int] = [:]
        for e in examples { c[e.structure, default: 0] += 1 }
        return (Query.epfoStructures + Query.negationStructures + ["other"]).compactMap { s in c[s].map { (s, $0) } }
    }

    /// Generates all three splits of `kg`.
    ///
    /// ```swift
    /// var o = QuerySetOptions(); o.testPerType = 50
    /// let set = try QuerySet.generate(kg, options: o)
    /// ```
    public static func generate(_ kg: KGDataset, options o: QuerySetOptions, log: ProgressLog = ProgressLog(enabled: false)) throws -> QuerySet {
        try o.validate()
        let n = kg.entities.count, r = kg.relations.count
        func make(_ full: [Triple], _ easy: [Triple]?, _ types: [String], _ count: Int, _ salt: UInt64, _ name: String) throws -> [ComplexQueryExample] {
            guard count > 0, !types.isEmpty else { return [] }
            var g = QueryGenerator(full: full, easy: easy, entityCount: n, relationCount: r)
            g.maxAnswers = o.maxAnswers
            var out: [ComplexQueryExample] = []
            for t in types {
                let qs = try g.sample(t, count: count, seed: o.seed &+ salt)
                if qs.count < count { log.line("\(name) \(t): only \(qs.count) of \(count) queries found (graph too small or sparse)") }
                out += qs
            }
            return out
        }
        var set = QuerySet()
        set.train = subsample(try make(kg.train, nil, o.trainTypes, o.trainPerType, 1, "train"), fraction: o.queryFraction, seed: o.seed)
        if o.trainPerType > 0 { log.line("train: \(set.train.count) queries") }
        if !kg.valid.isEmpty && o.validPerType > 0 {
            set.valid = try make(kg.train + kg.valid, kg.train, o.evalTypes, o.validPerType, 2, "valid")
            log.line("valid: \(set.valid.count) queries")
        }
        if !kg.test.isEmpty && o.testPerType > 0 {
            set.test = try make(kg.allTriples, kg.train + kg.valid, o.evalTypes, o.testPerType, 3, "test")
            log.line("test: \(set.test.count) queries")
        }
        return set
    }
}

/// Keeps `fraction` of the queries of each structure (at least one when the structure has
/// any), chosen with a seeded shuffle; order within a structure is kept.
public func subsample(_ examples: [ComplexQueryExample], fraction: Double, seed: UInt64) -> [ComplexQueryExample] {
    guard fraction < 1 else { return examples }
    var byType: [String: [Int]] = [:]
    for (i, e) in examples.enumerated() { byType[e.structure, default: []].append(i) }
    var keep = Set<Int>()
    for t in byType.keys.sorted() {
        var idx = byType[t]!
        var rng = SplitMix64(seed: seed).fork(UInt64(t.unicodeScalars.reduce(7) { $0 &* 31 &+ UInt64($1.value) }))
        idx.shuffle(using: &rng)
        keep.formUnion(idx.prefix(max(1, Int((Double(idx.count) * fraction).rounded()))))
    }
    return examples.indices.filter { keep.contains($0) }.map { examples[$0] }
}

/// The queries of the given structures only.
public func filterStructures(_ examples: [ComplexQueryExample], _ types: [String]) throws -> [ComplexQueryExample] {
    let known = Set(Query.epfoStructures + Query.negationStructures)
    for t in types where !known.contains(t) {
        throw GraphDataError("unknown query structure '\(t)'; known: \((Query.epfoStructures + Query.negationStructures).joined(separator: ","))")
    }
    let s = Set(types)
    return examples.filter { s.contains($0.structure) }
}

import Core
import Foundation

/// Everything `kg-query` needs, as one options struct (the CLI maps flags onto it).
public struct KGQueryOptions: Sendable {
    /// Folder with train.txt / valid.txt / test.txt.
    public var dataFolder: String
    public var training = ComplExTrainingOptions()
    public var cqd = CQDOptions()
    /// Labelled test queries generated per structure (BetaE-style, easy = train ∪ valid).
    public var testQueriesPerType = 100
    public var testTypes = Query.epfoStructures + Query.negationStructures
    /// Train a CQD-A adapter and report it beside plain CQD.
    public var adapt = true
    public var adapterInputs = "sp"
    public var adapterTraining = CQDATrainingOptions()
    /// Structures CQD-A trains on (ip, pi, 2u, up stay out-of-distribution, as in the paper).
    public var trainTypes = ["1p", "2p", "3p", "2i", "3i", "2in", "3in", "inp", "pin", "pni"]
    public var trainQueriesPerType = 1000
    /// Fraction of the generated training queries actually used (e.g. 0.01).
    public var queryFraction = 1.0
    public var seed: UInt64 = 0

    public init(dataFolder: String) { self.dataFolder = dataFolder }
}

/// Results of one `KGQueryTask.run`.
public struct KGQueryReport: Sendable {
    public var entities = 0, relations = 0, trainTriples = 0, validTriples = 0, testTriples = 0
    public var training = ComplExTrainingReport()
    /// Filtered test link prediction, both directions (realistic ties, as PyKEEN / the peer report).
    public var linkPrediction: RankingSummary?
    public var cqd = ComplexQueryMetrics()
    public var cqda: ComplexQueryMetrics?
    public var adapterParameters = 0
    public var adapterShare = 0.0
    public var types: [String] = []

    /// CQD vs CQD-A MRR per structure, EPFO and negation averages, as a text table.
    public func table() -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "  -  " }
        var lines = ["type   n     CQD    CQD-A"]
        for t in types {
            let c = cqd.summary(t)
            lines.append(t.padding(toLength: 6, withPad: " ", startingAt: 0)
                         + " \(String(c?.count ?? 0).padding(toLength: 5, withPad: " ", startingAt: 0)) \(f(c?.mrr))  \(f(cqda?.summary(t)?.mrr))")
        }
        let epfo = types.filter { Query.epfoStructures.contains($0) }, neg = types.filter { Query.negationStructures.contains($0) }
        lines.append("EPFO avg     \(f(cqd.averageMRR(epfo)))  \(f(cqda?.averageMRR(epfo)))")
        lines.append("neg avg      \(f(cqd.averageMRR(neg)))  \(f(cqda?.averageMRR(neg)))")
        return lines.joined(separator: "\n")
    }
}

/// The `kg-query` job as a library call: load a graph, train ComplEx-N3, evaluate link
/// prediction, generate labelled complex queries, evaluate CQD-Beam, train and evaluate CQD-A.
///
/// ```swift
/// var o = KGQueryOptions(dataFolder: "data/graph/umls")
/// o.training.rank = 200
/// let (model, kg, report) = try KGQueryTask.run(o)
/// print(report.table())
/// ```
public enum KGQueryTask {
    public static func run(_ o: KGQueryOptions) throws -> (model: ComplExModel, data: KGDataset, adapter: CQDAAdapter?, report: KGQueryReport) {
        let kg = try KGDataset.load(folder: o.dataFolder)
        let log = ProgressLog(enabled: o.training.progress, prefix: "[kg-query] ")
        var report = KGQueryReport()
        report.entities = kg.entities.count
        report.relations = kg.relations.count
        (report.trainTriples, report.validTriples, report.testTriples) = (kg.train.count, kg.valid.count, kg.test.count)
        report.types = o.testTypes
        let known = KnownAnswers(kg.allTriples, relationCount: kg.relations.count)

        let (model, tr) = try ComplExTrainer.train(kg, options: o.training, known: known)
        report.training = tr
        if !kg.test.isEmpty {
            report.linkPrediction = evaluateLinkPrediction(model, triples: kg.test, known: known).both.summary(.realistic)
            log.line("test link prediction (filtered): \(report.linkPrediction!)")
        }

        let testGen = QueryGenerator(full: kg.allTriples, easy: kg.train + kg.valid,
                                     entityCount: kg.entities.count, relationCount: kg.relations.count)
        var test: [ComplexQueryExample] = []
        for t in o.testTypes { test += try testGen.sample(t, count: o.testQueriesPerType, seed: o.seed &+ 1) }
        log.line("\(test.count) labelled test queries")
        report.cqd = try evaluateComplexQueries(CQDBeam(model: model, options: o.cqd), test)

        var adapter: CQDAAdapter? = nil
        if o.adapt {
            let trainGen = QueryGenerator(full: kg.train, easy: nil, entityCount: kg.entities.count, relationCount: kg.relations.count)
            var train: [ComplexQueryExample] = []
            for t in o.trainTypes { train += try trainGen.sample(t, count: o.trainQueriesPerType, seed: o.seed &+ 2) }
            if o.queryFraction < 1 {
                var rng = SplitMix64(seed: o.seed &+ 3)
                train.shuffle(using: &rng)
                train = Array(train.prefix(max(1, Int((Double(train.count) * o.queryFraction).rounded()))))
            }
            let a = try CQDAAdapter(rank: model.rank, inputs: o.adapterInputs, seed: o.seed)
            let cqd = CQDBeam(model: model, options: o.cqd, adapter: a)
            try CQDATrainer.train(a, cqd: cqd, queries: train, options: o.adapterTraining)
            report.cqda = try evaluateComplexQueries(cqd, test)
            (report.adapterParameters, report.adapterShare) = a.parameterShare(of: model)
            adapter = a
        }
        return (model, kg, adapter, report)
    }

    /// The best answers of a query in either syntax (functional `r2(r1(e))` or first-order
    /// `?y : exists x . r1(e, x) and r2(x, y)`), with names and truth values.
    public static func answer(
        _ text: String, model: ComplExModel, data: KGDataset, options: CQDOptions = CQDOptions(),
        adapter: CQDAAdapter? = nil, top: Int = 10
    ) throws -> [(name: String, score: Float)] {
        let q = try QueryParser(data).parseAny(text)
        let cqd = CQDBeam(model: model, options: options, adapter: adapter)
        return try cqd.answer(q, top: top).map { (data.entities.name($0.entity), $0.score) }
    }
}

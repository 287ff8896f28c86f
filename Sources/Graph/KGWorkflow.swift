import Core
import Foundation

/// The steps of `kg-query` as library calls, so the command only parses flags and prints.
///
/// ```swift
/// let (saved, report) = try KGWorkflow.train(dataFolder: "data/graph/umls", options: o)
/// try LinkPredictorFiles.save(saved, to: modelDir)
/// ```
public enum KGWorkflow {
    /// Trains ComplEx-N3 on a triple folder; the returned model carries its vocabularies and a
    /// summary of the run (including filtered test link prediction when there is a test split;
    /// computed by rank 0 alone under MPI, the others return nil). `run`: checkpoints, resume and
    /// data parallelism (`ComplExTrainer.train`).
    public static func train(
        dataFolder: String, options: ComplExTrainingOptions, run: GraphTrainingRun = GraphTrainingRun()
    ) throws -> (SavedLinkPredictor, ComplExTrainingReport, RankingSummary?) {
        let kg = try KGDataset.load(folder: dataFolder)
        let log = ProgressLog(enabled: options.progress && run.world.isLeader, prefix: "[kg-query] ")
        if !kg.duplicatesDropped.isEmpty {
            log.line("dropped duplicate triples: \(kg.duplicatesDropped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        }
        let known = KnownAnswers(kg.allTriples, relationCount: kg.relations.count)
        let (model, report) = try ComplExTrainer.train(kg, options: options, known: known, run: run)
        var test: RankingSummary? = nil
        if !kg.test.isEmpty && run.world.isLeader {
            test = evaluateLinkPrediction(model, triples: kg.test, known: known).both.summary(.realistic)
        }
        var info = JSONObject([
            ("data", .string(dataFolder)),
            ("train_triples", .int(Int64(kg.train.count))), ("valid_triples", .int(Int64(kg.valid.count))),
            ("test_triples", .int(Int64(kg.test.count))),
            ("batch_size", .int(Int64(options.batchSize))), ("learning_rate", .float(options.learningRate)),
            ("n3_weight", .float(options.n3Weight)), ("init_scale", .float(options.initScale)),
            ("seed", .int(Int64(bitPattern: options.seed))),
            ("epochs_run", .int(Int64(report.epochsRun))), ("best_epoch", .int(Int64(report.bestEpoch))),
            ("train_seconds", .double(report.trainSeconds)),
        ])
        if let v = report.bestValid { info.insert("valid_filtered", summaryJSON(v)) }
        info.insert("valid_curve", .array(report.validCurve.map {
            .object(JSONObject([("epoch", .int(Int64($0.epoch))), ("train_seconds", .double($0.trainSeconds)), ("mrr", .double($0.mrr))]))
        }))
        info.insert("rank", .int(Int64(options.rank)))
        if let t = test { info.insert("test_filtered", summaryJSON(t)) }
        return (SavedLinkPredictor(model: model, entities: kg.entities, relations: kg.relations, info: info), report, test)
    }

    /// Trains a fresh CQD-A adapter on `queries` with the link predictor frozen. `run`:
    /// checkpoints, resume and data parallelism (`CQDATrainer.train`).
    public static func adapt(
        base: SavedLinkPredictor, queries: [ComplexQueryExample], inputs: String, cqd: CQDOptions,
        options: CQDATrainingOptions, run: GraphTrainingRun = GraphTrainingRun()
    ) throws -> (CQDAAdapter, [Float]) {
        let a = try CQDAAdapter(rank: base.model.rank, inputs: inputs, seed: options.seed)
        let beam = CQDBeam(model: base.model, options: cqd, adapter: a)
        let losses = try CQDATrainer.train(a, cqd: beam, queries: queries, options: options, run: run,
                                           configExtras: ["vocabulary": base.vocabularyHash])
        return (a, losses)
    }

    /// Filtered MRR / Hits@k per structure of CQD (with the adapter when given).
    public static func evaluate(
        base: SavedLinkPredictor, queries: [ComplexQueryExample], cqd: CQDOptions, adapter: CQDAAdapter? = nil
    ) throws -> ComplexQueryMetrics {
        try evaluateComplexQueries(CQDBeam(model: base.model, options: cqd, adapter: adapter), queries)
    }

    /// Looks for a graph folder: `path` as given, then under the current directory, then
    /// relative to the executable (`.build/release/kg-query` → the package's `data/graph`).
    public static func locateData(_ path: String) -> String? {
        let fm = FileManager.default
        if fm.fileExists(atPath: (path as NSString).appendingPathComponent("train.txt")) { return path }
        guard path.utf8.first != UInt8(ascii: "/") else { return nil }  // bytes: "/" + a combining mark is one Character
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = dir.appendingPathComponent(path).path
            if fm.fileExists(atPath: (candidate as NSString).appendingPathComponent("train.txt")) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}

// MARK: - Reporting

/// `{"count", "mrr", "hits@1", "hits@3", "hits@10", "mean_rank"}` of a link-prediction summary.
public func summaryJSON(_ s: RankingSummary) -> JSONValue {
    var o = JSONObject([("count", .int(Int64(s.count))), ("mrr", .double(s.mrr))])
    for k in s.hits.keys.sorted() { o.insert("hits@\(k)", .double(s.hits[k]!)) }
    o.insert("mean_rank", .double(s.meanRank))
    return .object(o)
}

extension ComplexQueryMetrics {
    /// Per-structure metrics plus the EPFO and negation averages, as JSON.
    public func json(types: [String]) -> JSONValue {
        var per = JSONObject()
        for t in types {
            guard let s = summary(t) else { continue }
            per.insert(t, .object(JSONObject([("count", .int(Int64(s.count))), ("mrr", .double(s.mrr)),
                                              ("hits@1", .double(s.hits1)), ("hits@3", .double(s.hits3)),
                                              ("hits@10", .double(s.hits10))])))
        }
        let epfo = types.filter { Query.epfoStructures.contains($0) }, neg = types.filter { Query.negationStructures.contains($0) }
        return .object(JSONObject([
            ("per_type", .object(per)),
            ("epfo_avg_mrr", averageMRR(epfo).map { .double($0) } ?? .null),
            ("negation_avg_mrr", averageMRR(neg).map { .double($0) } ?? .null),
        ]))
    }
}

/// Side-by-side table of CQD and (optionally) CQD-A per structure: queries, MRR and Hits@3,
/// then the EPFO and negation averages of MRR.
public func complexQueryTable(types: [String], cqd: ComplexQueryMetrics, cqda: ComplexQueryMetrics? = nil) -> String {
    func f(_ x: Double?) -> String { (x.map { String(format: "%.3f", $0) } ?? "-").leftPaddedSpaces(7) }
    var lines = ["type      n     CQD MRR  H@3" + (cqda == nil ? "" : "    CQD-A MRR  H@3")]
    for t in types {
        let c = cqd.summary(t), a = cqda?.summary(t)
        var line = t.padding(toLength: 5, withPad: " ", startingAt: 0) + String(c?.count ?? 0).leftPaddedSpaces(6)
            + "  " + f(c?.mrr) + f(c?.hits3)
        if cqda != nil { line += "     " + f(a?.mrr) + f(a?.hits3) }
        lines.append(line)
    }
    let epfo = types.filter { Query.epfoStructures.contains($0) }, neg = types.filter { Query.negationStructures.contains($0) }
    for (name, set) in [("EPFO avg", epfo), ("neg avg", neg)] where !set.isEmpty {
        var line = name.padding(toLength: 11, withPad: " ", startingAt: 0) + "  " + f(cqd.averageMRR(set)) + "       "
        if let a = cqda { line += "     " + f(a.averageMRR(set)) }
        lines.append(line)
    }
    return lines.joined(separator: "\n")
}

extension String {
    func leftPaddedSpaces(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

import Core
import Foundation
import Graph

/// `kg-query`: link prediction with ComplEx-N3, complex query answering with CQD-Beam and
/// score calibration with CQD-A on a knowledge graph folder (train.txt, valid.txt, test.txt).
/// Progress goes to stderr; results to stdout as a table (or JSON with `--format json`).
public enum KGQueryCommand: Command {
    public static let name = "kg-query"
    /// `train` and `adapt` split their batches over MPI ranks; the other subcommands refuse mpirun in `run`.
    public static let supportsDistributed = true
    public static let usage = """
        usage: kg-query <subcommand> [options]

          train    --data DIR --out MODEL [--rank 1000 --batch 1000 --lr 0.1 --n3 0.01 --epochs 100
                   --valid-every 5 --patience 3 --init 0.001 --seed 0] [--checkpoint-every N --resume DIR --threads N]
          queries  --data DIR --out QUERIES.jsonl [--train-types 1p,2p,… --types 1p,…,pni
                   --train-per-type 1000 --valid-per-type 100 --test-per-type 100 --query-fraction 1
                   --max-answers 100 --seed 0]
          eval     --model MODEL --queries QUERIES.jsonl [--adapter A --split test --types …]
          adapt    --model MODEL --queries QUERIES.jsonl --out A [--train-types … --query-fraction 1
                   --inputs sp --epochs 10 --batch 64 --lr 0.01 --use-logits --seed 0] [--checkpoint-every N --resume DIR --threads N]
        \(KGCompareTask.usage)
          answer   --model MODEL [--adapter A --top 10 --data DIR] "QUERY"
          demo     [--data data/graph/umls --rank 200 --epochs 100 --test-per-type 100 --train-per-type 500]
          build-wordnet --out DIR [--wordnet /usr/share/wordnet --lexfiles noun.animal,… --with-inverses
                   --valid-fraction 0.033 --test-fraction 0.033 --seed 0]

        CQD options (eval, adapt, answer, demo): --beam K (16), --tnorm prod|min, --norm sigmoid|minmax.
        Output: --format table|json (stdout), --json FILE (also write the JSON), --quiet (no progress).
        train/adapt: a checkpoint every N steps (200; 0 = at the end only) in --out; --resume DIR continues the run
        whose --out is DIR; under `mpirun -np R` the ranks split each --batch (--threads: per rank).
        QUERY: functional  r3(r1(a) & !r2(b))   or first-order  "?y : exists x . r1(a, x) and r3(x, y)".
        """

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first, !sub.hasPrefix("-") else {
            throw GraphDataError("missing subcommand: train, queries, eval, adapt, answer, demo or build-wordnet (see --help)")
        }
        if sub != "train" && sub != "adapt" && DistributedWorld.wantsMPI() {
            throw GraphDataError("kg-query \(sub) does not support mpirun yet (only train and adapt do)")
        }
        let rest = Array(args.dropFirst())
        switch sub {
        case "train": return try train(rest)
        case "queries": return try queries(rest)
        case "eval": return try evaluate(rest)
        case "adapt": return try adapt(rest)
        case "compare": return try KGCompareTask.command(rest)
        case "answer": return try answer(rest)
        case "demo": return try demo(rest)
        case "build-wordnet": return try buildWordNet(rest)
        default:
            throw GraphDataError("unknown subcommand '\(sub)'; use train, queries, eval, adapt, compare, answer, demo or build-wordnet (see --help)")
        }
    }

    // MARK: - Flags shared by several subcommands

    static let output: Set<String> = ["format", "json"]
    static let cqdFlags: Set<String> = ["beam", "tnorm", "norm"]
    static let trainFlags: Set<String> = ["rank", "batch", "lr", "n3", "epochs", "valid-every", "patience", "init", "seed"]
    /// Checkpointing, resume and threads of `train` and `adapt`.
    static let runFlags: Set<String> = ["checkpoint-every", "resume", ThreadsOption.key]

    /// `--checkpoint-every`, `--resume` and `--threads` as a `GraphTrainingRun` writing into `out`.
    static func trainingRun(_ a: Arguments, out: String) throws -> GraphTrainingRun {
        try ThreadsOption.apply(a)
        let every = try a.int("checkpoint-every", default: 200)
        guard every >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(every)", expected: "a number of steps ≥ 0") }
        let world = try DistributedWorld.current()
        // The checkpoint write creates the folder: bad input fails before anything exists.
        return GraphTrainingRun(checkpointFolder: URL(fileURLWithPath: out), checkpointEvery: every, resumeFrom: a.string("resume").map { URL(fileURLWithPath: $0) },
                                world: world)
    }

    static func parse(_ args: [String], _ options: Set<String>, flags: Set<String> = []) throws -> Arguments {
        let a = try Arguments(args, options: options, flags: flags.union(["quiet"]))
        if let f = a.string("format"), !["table", "json"].contains(f) { throw ArgumentError.badValue("format", f, expected: "table or json") }
        return a
    }

    static func required(_ a: Arguments, _ key: String) throws -> String {
        guard let v = a.string(key), !v.isEmpty else { throw ArgumentError.missingRequired(key) }
        return v
    }

    static func noPositional(_ a: Arguments, _ sub: String) throws {
        if let p = a.positional.first { throw GraphDataError("kg-query \(sub): unexpected argument '\(p)' (options start with --)") }
    }

    static func cqdOptions(_ a: Arguments, default d: CQDOptions = CQDOptions()) throws -> CQDOptions {
        var o = d
        o.beamWidth = try a.int("beam", default: d.beamWidth)
        guard o.beamWidth >= 1 else { throw ArgumentError.badValue("beam", String(o.beamWidth), expected: "a beam width ≥ 1") }
        if let t = a.string("tnorm") {
            guard let v = TNorm(rawValue: t) else { throw ArgumentError.badValue("tnorm", t, expected: "prod or min") }
            o.tNorm = v
        }
        if let n = a.string("norm") {
            guard let v = AtomNormalization(rawValue: n) else { throw ArgumentError.badValue("norm", n, expected: "sigmoid or minmax") }
            o.normalization = v
        }
        return o
    }

    static func trainingOptions(_ a: Arguments, rank: Int = 1000, epochs: Int = 100) throws -> ComplExTrainingOptions {
        var o = ComplExTrainingOptions()
        o.rank = try a.int("rank", default: rank)
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.learningRate = try a.float("lr", default: o.learningRate)
        o.n3Weight = try a.float("n3", default: o.n3Weight)
        o.maxEpochs = try a.int("epochs", default: epochs)
        o.validEvery = try a.int("valid-every", default: o.validEvery)
        o.patience = try a.int("patience", default: o.patience)
        o.initScale = try a.float("init", default: o.initScale)
        o.seed = try a.uint64("seed", default: 0)
        o.progress = !a.has("quiet")
        try o.validate()
        return o
    }

    static func types(_ a: Arguments, _ key: String, default d: [String]) throws -> [String] {
        let t = a.list(key, default: d)
        let known = Set(Query.epfoStructures + Query.negationStructures)
        for x in t where !known.contains(x) {
            throw ArgumentError.badValue(key, x, expected: "a query structure (\((Query.epfoStructures + Query.negationStructures).joined(separator: ",")))")
        }
        guard !t.isEmpty else { throw ArgumentError.badValue(key, "", expected: "at least one query structure") }
        return t
    }

    static func fraction(_ a: Arguments) throws -> Double {
        let f = Double(try a.float("query-fraction", default: 1))
        guard f > 0 && f <= 1 else { throw ArgumentError.badValue("query-fraction", String(f), expected: "a fraction in (0, 1], e.g. 0.01") }
        return f
    }

    /// Prints the table (or JSON) and writes `--json FILE` when asked.
    static func emit(_ a: Arguments, table: String, json: JSONValue) throws {
        if a.string("format") == "json" { print(JSONText.compact(json)) } else { print(table) }
        if let path = a.string("json") { try AtomicFile.write(JSONText.pretty(json), to: URL(fileURLWithPath: path), createDirectories: true) }
    }

    static func log(_ a: Arguments) -> ProgressLog { ProgressLog(enabled: !a.has("quiet"), prefix: "[kg-query] ") }

    // MARK: - train / queries

    static func train(_ args: [String]) throws -> Int32 {
        let a = try parse(args, trainFlags.union(["data", "out"]).union(output).union(runFlags))
        try noPositional(a, "train")
        let data = try required(a, "data"), out = try required(a, "out")
        let options = try trainingOptions(a)
        let run = try trainingRun(a, out: out)
        let (saved, report, test) = try KGWorkflow.train(dataFolder: data, options: options, run: run)
        DistributedWorld.markCompleted()
        guard run.world.isLeader else { return 0 }
        try LinkPredictorFiles.save(saved, to: URL(fileURLWithPath: out))
        log(a).line("saved \(out) (\(saved.model.parameterCount) parameters)")
        var lines = ["\(saved.entities.count) entities, \(saved.relations.count) relations; best epoch \(report.bestEpoch) of \(report.epochsRun), "
                     + String(format: "%.1fs training", report.trainSeconds)]
        if let v = report.bestValid { lines.append("valid (filtered, realistic ties): \(v)") }
        if let t = test { lines.append("test  (filtered, realistic ties): \(t)") }
        try emit(a, table: lines.joined(separator: "\n"), json: .object(saved.info))
        return 0
    }

    static func queries(_ args: [String]) throws -> Int32 {
        let a = try parse(args, (["data", "out", "train-types", "types", "train-per-type", "valid-per-type", "test-per-type",
                                 "query-fraction", "max-answers", "seed"] as Set<String>).union(output))
        try noPositional(a, "queries")
        let data = try required(a, "data"), out = try required(a, "out")
        var o = QuerySetOptions()
        o.trainTypes = try types(a, "train-types", default: o.trainTypes)
        o.evalTypes = try types(a, "types", default: o.evalTypes)
        o.trainPerType = try a.int("train-per-type", default: o.trainPerType)
        o.validPerType = try a.int("valid-per-type", default: o.validPerType)
        o.testPerType = try a.int("test-per-type", default: o.testPerType)
        o.queryFraction = try fraction(a)
        o.maxAnswers = try a.int("max-answers", default: o.maxAnswers)
        o.seed = try a.uint64("seed", default: 0)
        let kg = try KGDataset.load(folder: data)
        let set = try QuerySet.generate(kg, options: o, log: log(a))
        try QueryFile.write(set, entities: kg.entities, relations: kg.relations, seed: o.seed, source: data, to: URL(fileURLWithPath: out))
        var json = JSONObject()
        var lines: [String] = []
        for split in ["train", "valid", "test"] {
            let counts = QuerySet.counts(try set.split(split))
            json.insert(split, .object(JSONObject(counts.map { ($0.0, JSONValue.int(Int64($0.1))) })))
            lines.append("\(split): " + counts.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        }
        lines.append("wrote \(out)")
        try emit(a, table: lines.joined(separator: "\n"), json: .object(json))
        return 0
    }

    // MARK: - eval / adapt / answer

    static func evaluate(_ args: [String]) throws -> Int32 {
        let a = try parse(args, Set(["model", "queries", "adapter", "split", "types"]).union(cqdFlags).union(output))
        try noPositional(a, "eval")
        let base = try LinkPredictorFiles.load(URL(fileURLWithPath: try required(a, "model")))
        let adapter = try a.string("adapter").map { try CQDAAdapterFiles.load(URL(fileURLWithPath: $0), base: base) }
        let cqd = try cqdOptions(a, default: adapter?.cqd ?? CQDOptions())
        let split = a.string("split", default: "test")
        let (_, set) = try QueryFile.read(URL(fileURLWithPath: try required(a, "queries")), entities: base.entities, relations: base.relations)
        var qs = try set.split(split)
        let ts = try types(a, "types", default: Query.epfoStructures + Query.negationStructures)
        qs = try filterStructures(qs, ts)
        guard !qs.isEmpty else { throw GraphDataError("no \(split) queries of types \(ts.joined(separator: ",")) in the query file") }
        log(a).line("evaluating \(qs.count) \(split) queries, beam \(cqd.beamWidth), t-norm \(cqd.tNorm.rawValue)"
                    + (adapter == nil ? "" : ", with the CQD-A adapter"))
        let plain = try KGWorkflow.evaluate(base: base, queries: qs, cqd: cqd)
        let adapted = try adapter.map { try KGWorkflow.evaluate(base: base, queries: qs, cqd: cqd, adapter: $0.adapter) }
        let present = ts.filter { plain.summary($0) != nil }
        var json = JSONObject([("split", .string(split)), ("beam", .int(Int64(cqd.beamWidth))), ("t_norm", .string(cqd.tNorm.rawValue)),
                               ("cqd", plain.json(types: present))])
        if let m = adapted { json.insert("cqda", m.json(types: present)) }
        try emit(a, table: complexQueryTable(types: present, cqd: plain, cqda: adapted), json: .object(json))
        return 0
    }

    static func adapt(_ args: [String]) throws -> Int32 {
        let a = try parse(args, Set(["model", "queries", "out", "train-types", "query-fraction", "inputs", "epochs", "batch", "lr", "seed"])
            .union(cqdFlags).union(output).union(runFlags), flags: ["use-logits"])
        try noPositional(a, "adapt")
        let base = try LinkPredictorFiles.load(URL(fileURLWithPath: try required(a, "model")))
        let out = try required(a, "out")
        let cqd = try cqdOptions(a)
        let (_, set) = try QueryFile.read(URL(fileURLWithPath: try required(a, "queries")), entities: base.entities, relations: base.relations)
        let seed = try a.uint64("seed", default: 0)
        var qs = try filterStructures(set.train, try types(a, "train-types", default: QuerySetOptions().trainTypes))
        qs = subsample(qs, fraction: try fraction(a), seed: seed)
        guard !qs.isEmpty else { throw GraphDataError("no training queries of the chosen types in the query file; generate them with `kg-query queries`") }
        var o = CQDATrainingOptions()
        o.epochs = try a.int("epochs", default: o.epochs)
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.learningRate = try a.float("lr", default: o.learningRate)
        o.useLogits = a.has("use-logits")
        o.seed = seed
        o.progress = !a.has("quiet")
        let inputs = a.string("inputs", default: "sp")
        let run = try trainingRun(a, out: out)
        let (adapter, losses) = try KGWorkflow.adapt(base: base, queries: qs, inputs: inputs, cqd: cqd, options: o, run: run)
        DistributedWorld.markCompleted()
        guard run.world.isLeader else { return 0 }
        let share = adapter.parameterShare(of: base.model)
        let info = JSONObject([
            ("train_queries", .int(Int64(qs.count))), ("types", .strings(QuerySet.counts(qs).map(\.0))),
            ("epochs", .int(Int64(o.epochs))), ("learning_rate", .float(o.learningRate)), ("use_logits", .bool(o.useLogits)),
            ("seed", .int(Int64(bitPattern: seed))), ("losses", .array(losses.map { JSONValue.float($0) })),
            ("parameters", .int(Int64(share.count))), ("share_of_model", .double(share.fraction)),
        ])
        try CQDAAdapterFiles.save(adapter, cqd: cqd, base: base, info: info, to: URL(fileURLWithPath: out))
        let table = "CQD-A adapter: \(share.count) parameters (\(String(format: "%.4f", share.fraction * 100))% of the link predictor), "
            + "trained on \(qs.count) queries; loss \(losses.first.map { String(format: "%.4f", $0) } ?? "-") → "
            + "\(losses.last.map { String(format: "%.4f", $0) } ?? "-")\nwrote \(out)"
        try emit(a, table: table, json: .object(info))
        return 0
    }

    static func answer(_ args: [String]) throws -> Int32 {
        let a = try parse(args, Set(["model", "adapter", "top", "data"]).union(cqdFlags).union(output))
        guard a.positional.count == 1 else {
            throw GraphDataError("kg-query answer: give exactly one query in quotes, e.g. \"?y : r(e, y)\" (got \(a.positional.count) arguments)")
        }
        let base = try LinkPredictorFiles.load(URL(fileURLWithPath: try required(a, "model")))
        let adapter = try a.string("adapter").map { try CQDAAdapterFiles.load(URL(fileURLWithPath: $0), base: base) }
        let cqd = try cqdOptions(a, default: adapter?.cqd ?? CQDOptions())
        let top = try a.int("top", default: 10)
        guard top >= 1 else { throw ArgumentError.badValue("top", String(top), expected: "a count ≥ 1") }
        let q = try base.parser.parseAny(a.positional[0])
        // With the graph at hand, mark the answers that already follow from known facts.
        var known: Set<Int> = []
        if let dir = a.string("data") {
            let kg = try KGDataset.load(folder: dir)
            guard vocabularyFingerprint(entities: kg.entities, relations: kg.relations) == base.vocabularyHash else {
                throw GraphDataError("\(dir): its vocabulary differs from the model's; pass the folder the model was trained on")
            }
            known = GraphIndex(kg.allTriples, entityCount: kg.entities.count, relationCount: kg.relations.count).answers(q)
        }
        let results = try CQDBeam(model: base.model, options: cqd, adapter: adapter?.adapter).answer(q, top: top)
        var lines = ["query: \(FirstOrderQueryParser(entities: base.entities, relations: base.relations).format(q))"
                     + (q.structureName.map { "   [\($0)]" } ?? ""), "rank  score   entity"]
        for (i, r) in results.enumerated() {
            let mark = a.string("data") == nil ? "" : (known.contains(r.entity) ? "  (known)" : "  (predicted)")
            lines.append(String(i + 1).leftPad(4) + "  " + String(format: "%.4f", r.score) + "  " + base.entities.name(r.entity) + mark)
        }
        let json: JSONValue = .array(results.map {
            .object(JSONObject([("entity", .string(base.entities.name($0.entity))), ("score", .float($0.score))]))
        })
        try emit(a, table: lines.joined(separator: "\n"), json: json)
        return 0
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

// MARK: - demo / build-wordnet

extension KGQueryCommand {
    /// Train → generate queries → CQD vs CQD-A per structure, on one graph of data/graph.
    static func demo(_ args: [String]) throws -> Int32 {
        let a = try parse(args, trainFlags.union(cqdFlags).union(output)
            .union(["data", "out", "test-per-type", "train-per-type", "adapt-epochs", "adapt-lr", "inputs", "query-fraction"]))
        try noPositional(a, "demo")
        let wanted = a.string("data", default: "data/graph/umls")
        guard let data = KGWorkflow.locateData(wanted) else {
            throw GraphDataError("\(wanted): no train.txt here, under the current directory or next to the executable; "
                                 + "run from the package root or pass --data DIR")
        }
        let log = log(a)
        let clock = Stopwatch()
        // Rank 200 reaches the same filtered MRR as rank 1000 on the small graphs in a fraction of the time.
        let (base, report, test) = try KGWorkflow.train(dataFolder: data, options: try trainingOptions(a, rank: 200))
        let kg = try KGDataset.load(folder: data)
        var qo = QuerySetOptions()
        qo.testPerType = try a.int("test-per-type", default: 100)
        qo.trainPerType = try a.int("train-per-type", default: 500)
        qo.validPerType = 0
        qo.queryFraction = try fraction(a)
        qo.seed = try a.uint64("seed", default: 0)
        let set = try QuerySet.generate(kg, options: qo, log: log)
        let cqd = try cqdOptions(a)
        log.line("CQD on \(set.test.count) test queries")
        let plain = try KGWorkflow.evaluate(base: base, queries: set.test, cqd: cqd)
        var o = CQDATrainingOptions()
        o.epochs = try a.int("adapt-epochs", default: o.epochs)
        o.learningRate = try a.float("adapt-lr", default: o.learningRate)
        o.seed = qo.seed
        o.progress = !a.has("quiet")
        let (adapter, losses) = try KGWorkflow.adapt(base: base, queries: set.train, inputs: a.string("inputs", default: "sp"),
                                                     cqd: cqd, options: o)
        log.line("CQD-A on \(set.test.count) test queries")
        let adapted = try KGWorkflow.evaluate(base: base, queries: set.test, cqd: cqd, adapter: adapter)
        if let out = a.string("out") {
            let dir = URL(fileURLWithPath: out)
            try LinkPredictorFiles.save(base, to: dir.appendingPathComponent("model"))
            try CQDAAdapterFiles.save(adapter, cqd: cqd, base: base, to: dir.appendingPathComponent("adapter"))
            try QueryFile.write(set, entities: kg.entities, relations: kg.relations, seed: qo.seed, source: data,
                                to: dir.appendingPathComponent("queries.jsonl"))
            log.line("saved model/, adapter/ and queries.jsonl under \(out)")
        }
        let share = adapter.parameterShare(of: base.model)
        let types = (Query.epfoStructures + Query.negationStructures).filter { plain.summary($0) != nil }
        var lines = ["graph \(data): \(kg.entities.count) entities, \(kg.relations.count) relations, \(kg.train.count) training triples",
                     "ComplEx-N3 rank \(base.model.rank): best epoch \(report.bestEpoch), " + String(format: "%.1fs", report.trainSeconds)
                         + (test.map { "; test link prediction \($0)" } ?? ""),
                     "CQD-A: \(share.count) parameters (\(String(format: "%.3f", share.fraction * 100))% of the link predictor), "
                         + "\(set.train.count) training queries, loss " + String(format: "%.3f → %.3f", losses.first ?? 0, losses.last ?? 0),
                     "filtered MRR on \(set.test.count) test queries (beam \(cqd.beamWidth), t-norm \(cqd.tNorm.rawValue)):",
                     complexQueryTable(types: types, cqd: plain, cqda: adapted),
                     String(format: "total %.1fs", clock.seconds)]
        if a.string("format") == "json" { lines = [] }
        let json = JSONObject([("data", .string(data)), ("link_prediction", test.map(summaryJSON) ?? .null),
                               ("adapter_parameters", .int(Int64(share.count))), ("adapter_share", .double(share.fraction)),
                               ("cqd", plain.json(types: types)), ("cqda", adapted.json(types: types)),
                               ("seconds", .double(clock.seconds))])
        try emit(a, table: lines.joined(separator: "\n"), json: .object(json))
        return 0
    }

    static func buildWordNet(_ args: [String]) throws -> Int32 {
        let a = try parse(args, Set(["out", "wordnet", "lexfiles", "valid-fraction", "test-fraction", "seed"]).union(output),
                          flags: ["with-inverses"])
        try noPositional(a, "build-wordnet")
        let out = try required(a, "out")
        var o = WordNetGraphOptions()
        o.wordnetFolder = a.string("wordnet", default: o.wordnetFolder)
        if a.string("lexfiles") != nil { o.lexicographerFiles = a.list("lexfiles", default: []) }
        o.withInverses = a.has("with-inverses")
        o.validFraction = Double(try a.float("valid-fraction", default: Float(o.validFraction)))
        o.testFraction = Double(try a.float("test-fraction", default: Float(o.testFraction)))
        o.seed = try a.uint64("seed", default: 0)
        let report = try WordNetGraph.build(o, to: URL(fileURLWithPath: out))
        let json = JSONObject([("entities", .int(Int64(report.entities))), ("train", .int(Int64(report.train))),
                               ("valid", .int(Int64(report.valid))), ("test", .int(Int64(report.test))),
                               ("relations", .object(JSONObject(report.relationCounts.map { ($0.0, JSONValue.int(Int64($0.1))) })))])
        try emit(a, table: "\(report)\nwrote \(out)/{train,valid,test}.txt", json: .object(json))
        return 0
    }
}

import Core
import Foundation
import Graph

/// `kg-query compare`: what kg-query adapts is the scoring of a frozen ComplEx link predictor
/// inside CQD's beam search, by CQD-A (`kg-query adapt`). The methods are CQD alone and CQD-A
/// with each choice of inputs to its recalibration (`cqda-phi`: the score itself; `cqda-s`,
/// `cqda-p`, `cqda-sp` — the paper's default —, `cqda-spo`: the embeddings), trained on the same
/// training queries with the same seeds and epochs and scored on the same evaluation queries:
/// MRR averaged over the query structures, with Hits@1/3/10 (same averaging) as further columns.
/// The adapter library's methods adapt `Linear` layers; the link predictor has none, so naming
/// one is reported as a skipped method with that reason.
final class KGCompareTask: CompareTask {
    let base: SavedLinkPredictor
    let train: [ComplexQueryExample]
    let eval: [ComplexQueryExample]
    let types: [String]
    let cqd: CQDOptions
    var options: CQDATrainingOptions

    init(base: SavedLinkPredictor, train: [ComplexQueryExample], eval: [ComplexQueryExample], types: [String], cqd: CQDOptions,
         options: CQDATrainingOptions) {
        self.base = base
        self.train = train
        self.eval = eval
        self.types = types
        self.cqd = cqd
        self.options = options
    }

    static let variants: [(name: String, inputs: String?)] = [
        ("cqd", nil), ("cqda-phi", ""), ("cqda-s", "s"), ("cqda-p", "p"), ("cqda-sp", "sp"), ("cqda-spo", "spo"),
    ]

    var metricName: String { "MRR" }
    var extraMetricNames: [String] { ["Hits@1", "Hits@3", "Hits@10"] }
    var stepsName: String { "epochs" }
    var targets: [String] { [] }
    var nativeMethods: [String] { Self.variants.map(\.name) }
    var defaultMethods: [String] { ["cqd", "cqda-phi", "cqda-sp", "cqda-spo"] }

    func inputs(_ method: String) throws -> String? {
        guard let v = Self.variants.first(where: { $0.name == method }) else {
            throw ArgumentError.badValue("methods", method, expected: "one of \(nativeMethods.joined(separator: ", "))")
        }
        return v.inputs
    }

    func parameterCounts(_ config: AdapterConfig) throws -> (trainable: Int, total: Int) {
        throw AdapterError.invalidSetting("the ComplEx link predictor has no Linear layers for \(config.method.rawValue) to adapt; kg-query adapts its scores with CQD-A (cqda-*)")
    }

    func run(_ config: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        _ = try parameterCounts(config)
        return CompareRun(metric: .nan, trainSeconds: 0, mergedInferenceSeconds: nil)
    }

    func nativeParameterCounts(_ method: String) throws -> (trainable: Int, total: Int) {
        let model = base.model.parameterCount
        guard let inputs = try inputs(method) else { return (0, model) }
        let n = try CQDAAdapter(rank: base.model.rank, inputs: inputs, seed: 0).parameterCounts().total
        return (n, model + n)
    }

    func runNative(_ method: String, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        var o = options
        o.seed = seed
        o.epochs = steps
        let start = Date()
        let adapter = try inputs(method).map { try KGWorkflow.adapt(base: base, queries: train, inputs: $0, cqd: cqd, options: o).0 }
        let trainSeconds = Date().timeIntervalSince(start)
        let m = try KGWorkflow.evaluate(base: base, queries: eval, cqd: cqd, adapter: adapter)
        let present = types.compactMap { m.summary($0) }
        guard !present.isEmpty else { throw GraphDataError("no evaluation query of types \(types.joined(separator: ",")) was scored") }
        func avg(_ f: ((count: Int, mrr: Double, hits1: Double, hits3: Double, hits10: Double)) -> Double) -> Double {
            present.map(f).reduce(0, +) / Double(present.count)
        }
        return CompareRun(metric: avg(\.mrr), trainSeconds: trainSeconds, mergedInferenceSeconds: nil,
                          extras: [avg(\.hits1), avg(\.hits3), avg(\.hits10)])
    }

    static let usage = """
          compare   CQD and CQD-A variants on the same queries, seeds and epochs: compare.md/json/png (MRR mean ± std
                    over seeds, Hits@1/3/10, trainable parameters, time, memory) with a computed recommendation
            --model DIR --queries FILE [--methods cqd,cqda-phi,cqda-sp,cqda-spo (also cqda-s, cqda-p)] [--seeds 1,2,3]
            [--epochs N (10)] [--budget N | Nmin] [--out DIR (runs/kg-compare)] [--split test|valid] [--types LIST]
            [--train-types LIST] [--query-fraction X] [--batch B] [--lr X] [--use-logits] [--beam K --tnorm T --norm N]
        """

    /// `kg-query compare [options]`.
    static func command(_ args: [String]) throws -> Int32 {
        let a = try KGQueryCommand.parse(args, Set(["model", "queries", "train-types", "types", "query-fraction", "split", "batch", "lr"])
            .union(KGQueryCommand.cqdFlags).union(CompareOptions.names).union(["epochs"]).subtracting(["steps"]), flags: ["use-logits", "quiet"])
        try KGQueryCommand.noPositional(a, "compare")
        let base = try LinkPredictorFiles.load(URL(fileURLWithPath: try KGQueryCommand.required(a, "model")))
        let (_, set) = try QueryFile.read(URL(fileURLWithPath: try KGQueryCommand.required(a, "queries")), entities: base.entities, relations: base.relations)
        var train = try filterStructures(set.train, try KGQueryCommand.types(a, "train-types", default: QuerySetOptions().trainTypes))
        train = subsample(train, fraction: try KGQueryCommand.fraction(a), seed: 0)
        let split = a.string("split", default: "test")
        let types = try KGQueryCommand.types(a, "types", default: Query.epfoStructures + Query.negationStructures)
        let eval = try filterStructures(try set.split(split), types)
        guard !train.isEmpty, !eval.isEmpty else {
            throw GraphDataError("the query file has no training queries or no \(split) queries of the chosen types; generate them with `kg-query queries`")
        }
        var o = CQDATrainingOptions()
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.learningRate = try a.float("lr", default: o.learningRate)
        o.useLogits = a.has("use-logits")
        o.progress = !a.has("quiet")
        let task = KGCompareTask(base: base, train: train, eval: eval, types: types, cqd: try KGQueryCommand.cqdOptions(a), options: o)
        var defaults = CompareOptions(methods: [])
        defaults.steps = o.epochs
        defaults.out = "runs/kg-compare"
        try Compare.runAndWrite(task, try CompareOptions.parse(a, defaultMethods: task.defaultMethods, stepsKey: "epochs", defaults: defaults),
                                app: "kg-query")
        return 0
    }
}

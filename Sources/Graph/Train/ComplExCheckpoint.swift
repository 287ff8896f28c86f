import Core
import Foundation

/// The resumable state of a ComplEx run in a `TrainingCheckpoint`: the embedding tables
/// (`param/entity`, `param/relation`), the Adagrad accumulators (`optim/<table>.sum_squares`),
/// the best validated tables so far (`extra/best/<table>`), the position (optimizer steps,
/// epoch, batches done in it) and `ComplExProgress` (loss sums, report, early-stopping count).
/// The data order needs no saving: each epoch reshuffles the previous order with one seeded
/// generator, so a resume replays the shuffles of the epochs before (O(epochs × examples)).
/// There are no other random draws, so checkpoints hold no generator states.
struct ComplExCheckpointing {
    static let command = "kg-query train"
    let run: GraphTrainingRun
    let config: [String: String]
    /// Hash of the initial tables (seeded from rank, init scale and vocabulary sizes).
    let baseModel: String

    init(run: GraphTrainingRun, data: KGDataset, options o: ComplExTrainingOptions, model: ComplExModel) {
        self.run = run
        config = [
            "option.rank": "\(o.rank)", "option.batch": "\(o.batchSize)", "option.lr": "\(o.learningRate)", "option.n3": "\(o.n3Weight)",
            "option.init": "\(o.initScale)", "option.epochs": "\(o.maxEpochs)", "option.valid-every": "\(o.validEvery)",
            "option.patience": "\(o.patience)", "option.min-improvement": "\(o.minImprovement)",
            "option.selection": o.selectionRule.rawValue, "option.seed": "\(o.seed)", "data": GraphHash.dataset(data),
        ]
        baseModel = GraphHash.tables(model)
    }

    /// Writes the checkpoint (rank 0 only; the ranks hold identical state).
    func write(_ position: TrainingPosition, model: ComplExModel, entity: Adagrad, relation: Adagrad,
               best: (mrr: Double, entity: [Float], relation: [Float])?, progress: ComplExProgress) throws {
        guard run.world.isLeader, let folder = run.checkpointFolder else { return }
        var extra: [String: Tensor] = [:]
        if let b = best {
            extra["best/entity"] = Tensor(b.entity, shape: [b.entity.count])
            extra["best/relation"] = Tensor(b.relation, shape: [b.relation.count])
        }
        let json = String(decoding: try JSONEncoder().encode(progress), as: UTF8.self)
        let ckpt = TrainingCheckpoint(
            command: Self.command, position: position, config: config, baseModel: baseModel,
            randomStates: Array(repeating: [:], count: run.world.size),
            parameters: ["entity": Tensor(model.entity, shape: [model.entity.count]), "relation": Tensor(model.relation, shape: [model.relation.count])],
            optimizer: ["entity.sum_squares": Tensor(entity.sumSquares, shape: [entity.sumSquares.count]),
                        "relation.sum_squares": Tensor(relation.sumSquares, shape: [relation.sumSquares.count])],
            extraTensors: extra, progress: json)
        try ckpt.write(to: folder)
    }

    /// Reads `run.resumeFrom`, refuses another run's checkpoint naming the difference, and puts
    /// the tables and accumulators back; returns the position, progress and best tables.
    func restore(into model: ComplExModel, entity: inout Adagrad, relation: inout Adagrad) throws
        -> (position: TrainingPosition, progress: ComplExProgress, best: (mrr: Double, entity: [Float], relation: [Float])?)?
    {
        guard let dir = run.resumeFrom else { return nil }
        let file = TrainingCheckpoint.file(in: dir)
        let ckpt = try TrainingCheckpoint.read(from: file)
        try ckpt.requireCompatible(command: Self.command, config: config, baseModel: baseModel, file: file.path)
        guard let e = ckpt.parameters["entity"], let r = ckpt.parameters["relation"], e.count == model.entity.count, r.count == model.relation.count,
              let es = ckpt.optimizer["entity.sum_squares"], let rs = ckpt.optimizer["relation.sum_squares"],
              let progress = try? JSONDecoder().decode(ComplExProgress.self, from: Data(ckpt.progress.utf8)) else {
            throw GraphDataError("\(file.path): not a ComplEx training checkpoint of this graph and rank; train into a new --out folder")
        }
        model.entity = e.storage
        model.relation = r.storage
        try entity.restore(sumSquares: es.storage)
        try relation.restore(sumSquares: rs.storage)
        var best: (mrr: Double, entity: [Float], relation: [Float])?
        if let mrr = progress.bestMRR {
            guard let be = ckpt.extraTensors["best/entity"], let br = ckpt.extraTensors["best/relation"],
                  be.count == model.entity.count, br.count == model.relation.count else {
                throw GraphDataError("\(file.path): the checkpoint lacks the best tables; train into a new --out folder")
            }
            best = (Double(bitPattern: mrr), be.storage, br.storage)
        }
        return (ckpt.position, progress, best)
    }
}

/// What the ComplEx loop accumulates besides weights: this epoch's loss sums, the report so far
/// and the early-stopping counter (exact bits).
struct ComplExProgress: Codable {
    var ceSum: UInt64 = 0
    var n3Sum: UInt64 = 0
    var batches = 0
    var epochLosses: [[UInt32]] = []
    var validCurve: [[UInt64]] = []
    var bestEpoch = 0
    var bestValid: RankingSummaryRecord?
    var bestMRR: UInt64?
    var badChecks = 0
    var epochsRun = 0
    var trainSeconds: UInt64 = 0
    var trainSecondsToBest: UInt64 = 0
    var validSeconds: UInt64 = 0

    init(ceSum: Double, n3Sum: Double, batches: Int, report r: ComplExTrainingReport, bestMRR: Double?, badChecks: Int) {
        self.ceSum = ceSum.bitPattern
        self.n3Sum = n3Sum.bitPattern
        self.batches = batches
        epochLosses = r.epochLosses.map { [$0.crossEntropy.bitPattern, $0.n3.bitPattern] }
        validCurve = r.validCurve.map { [UInt64($0.epoch), $0.trainSeconds.bitPattern, $0.mrr.bitPattern] }
        bestEpoch = r.bestEpoch
        bestValid = r.bestValid.map(RankingSummaryRecord.init)
        self.bestMRR = bestMRR?.bitPattern
        self.badChecks = badChecks
        epochsRun = r.epochsRun
        trainSeconds = r.trainSeconds.bitPattern
        trainSecondsToBest = r.trainSecondsToBest.bitPattern
        validSeconds = r.validSeconds.bitPattern
    }

    /// The report as it was when the checkpoint was written.
    var report: ComplExTrainingReport {
        var r = ComplExTrainingReport()
        r.epochLosses = epochLosses.compactMap { $0.count == 2 ? ComplExLoss(crossEntropy: Float(bitPattern: $0[0]), n3: Float(bitPattern: $0[1])) : nil }
        r.validCurve = validCurve.compactMap { $0.count == 3 ? (Int($0[0]), Double(bitPattern: $0[1]), Double(bitPattern: $0[2])) : nil }
        r.bestEpoch = bestEpoch
        r.bestValid = bestValid?.summary
        r.epochsRun = epochsRun
        r.trainSeconds = Double(bitPattern: trainSeconds)
        r.trainSecondsToBest = Double(bitPattern: trainSecondsToBest)
        r.validSeconds = Double(bitPattern: validSeconds)
        return r
    }
}

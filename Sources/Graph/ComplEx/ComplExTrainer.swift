import Core

/// Settings of ComplEx-N3 training. Defaults are CQD's / kbc's (rank 1000, batch 1000,
/// Adagrad lr 0.1, N3 weight 0.01, init 1e-3) with the peer's early stopping (validate every
/// 5 epochs, stop after 3 checks without improvement, keep the best).
public struct ComplExTrainingOptions: Sendable {
    public var rank = 1000
    public var batchSize = 1000
    public var learningRate: Float = 0.1
    /// λ of the N3 regulariser.
    public var n3Weight: Float = 0.01
    public var initScale: Float = 1e-3
    public var maxEpochs = 100
    /// Validate every this many epochs (and after the last); 0 never validates.
    public var validEvery = 5
    /// Validation checks without an MRR gain of `minImprovement` before stopping; 0 never stops early.
    public var patience = 3
    public var minImprovement = 1e-4
    /// Tie rule of the validation MRR used for model selection.
    public var selectionRule: TieRule = .realistic
    public var seed: UInt64 = 0
    /// Progress (epoch, loss, throughput, ETA) on stderr.
    public var progress = true

    public init() {}

    /// Checks the values a user can get wrong; the message says which and what to do.
    public func validate() throws {
        if rank < 1 { throw GraphDataError("rank must be ≥ 1 (got \(rank))") }
        if batchSize < 1 { throw GraphDataError("batch size must be ≥ 1 (got \(batchSize))") }
        if !(learningRate > 0) { throw GraphDataError("learning rate must be > 0 (got \(learningRate))") }
        if !(n3Weight >= 0) { throw GraphDataError("N3 weight must be ≥ 0 (got \(n3Weight))") }
        if !(initScale > 0) { throw GraphDataError("init scale must be > 0 (got \(initScale))") }
        if maxEpochs < 1 { throw GraphDataError("epochs must be ≥ 1 (got \(maxEpochs))") }
        if validEvery < 0 || patience < 0 { throw GraphDataError("valid-every and patience must be ≥ 0") }
    }
}

/// What happened during training.
public struct ComplExTrainingReport: Sendable {
    public var epochsRun = 0
    /// Epoch whose weights were kept (the best validation MRR, or the last epoch without validation).
    public var bestEpoch = 0
    /// Filtered validation metrics (both directions) of the kept weights.
    public var bestValid: RankingSummary?
    /// Every validation check: epoch, training seconds so far, filtered MRR (time-to-MRR benchmarks).
    public var validCurve: [(epoch: Int, trainSeconds: Double, mrr: Double)] = []
    /// Mean training loss per epoch.
    public var epochLosses: [ComplExLoss] = []
    /// Seconds spent in training steps (total, and up to the kept epoch).
    public var trainSeconds = 0.0
    public var trainSecondsToBest = 0.0
    public var validSeconds = 0.0
    public var wallSeconds = 0.0
}

/// Trains ComplEx-N3 the way CQD does: every training triple gives a tail query and a
/// reciprocal head query; each batch minimises 1-vs-all cross-entropy over all entities plus
/// N3, with Adagrad; the order is reshuffled each epoch with a seeded generator.
///
/// ```swift
/// var o = ComplExTrainingOptions(); o.rank = 200
/// let (model, report) = try ComplExTrainer.train(kg, options: o)
/// ```
public enum ComplExTrainer {
    /// `run` adds checkpoints (every N steps and at the end), resume and data parallelism: every
    /// rank shuffles the same way, takes its `DataShard` slice of each batch, and the table
    /// gradients of the mean loss over the slices are averaged weighted by slice size in one
    /// all-reduce per step, so N ranks take the single-process Adagrad steps. All ranks
    /// validate (identical weights, identical early-stopping decisions); rank 0 alone logs.
    public static func train(
        _ data: KGDataset, options: ComplExTrainingOptions, known: KnownAnswers? = nil, run: GraphTrainingRun = GraphTrainingRun()
    ) throws -> (ComplExModel, ComplExTrainingReport) {
        try options.validate()
        let world = run.world
        let log = ProgressLog(enabled: options.progress && world.isLeader, prefix: "[complex] ")
        let wall = Stopwatch()
        let relCount = data.relations.count
        let model = ComplExModel(
            entityCount: data.entities.count, relationCount: relCount, rank: options.rank,
            initScale: options.initScale, seed: options.seed)
        let known = known ?? KnownAnswers(data.allTriples, relationCount: relCount)
        var examples = LinkQuery.reciprocal(data.train, relationCount: relCount)
        var rng = SplitMix64(seed: options.seed).fork(0x5EED)
        var grads = ComplExGradients(for: model)
        var entOpt = Adagrad(parameterCount: model.entity.count, learningRate: options.learningRate)
        var relOpt = Adagrad(parameterCount: model.relation.count, learningRate: options.learningRate)
        var report = ComplExTrainingReport()
        var best: (mrr: Double, entity: [Float], relation: [Float])? = nil
        var badChecks = 0
        var step = 0
        let checkpoints = ComplExCheckpointing(run: run, data: data, options: options, model: model)
        var averager = FlatAverage()
        log.line("\(data.entities.count) entities, \(relCount) relations (×2 reciprocal), \(data.train.count) training triples; "
                 + "rank \(options.rank), batch \(options.batchSize), Adagrad \(options.learningRate), N3 \(options.n3Weight)")
        var resumed = try checkpoints.restore(into: model, entity: &entOpt, relation: &relOpt)
        if let r = resumed {
            let batches = (examples.count + options.batchSize - 1) / options.batchSize
            try r.position.require(within: TrainingExtent(epochs: options.maxEpochs, batchesPerEpoch: batches, steps: options.maxEpochs * batches),
                                   file: TrainingCheckpoint.file(in: run.resumeFrom!).path)
            report = r.progress.report
            best = r.best
            badChecks = r.progress.badChecks
            step = r.position.step
            // The epochs before the one to continue: replay their shuffles (the order is cumulative).
            for _ in 1..<max(1, min(r.position.epoch, options.maxEpochs + 1)) { examples.shuffle(using: &rng) }
            log.line("resumed from \(TrainingCheckpoint.file(in: run.resumeFrom!).path) at step \(step), epoch \(r.position.epoch)\(r.position.finished ? " (finished)" : "")")
        }
        if world.size > 1 {
            log.line("data parallel, \(world.size) ranks: each takes its slice of the \(options.batchSize)-query batch; "
                     + "\(4 * (model.parameterCount + 3)) bytes all-reduced per step")
        }
        let firstEpoch = resumed.map { $0.position.finished ? options.maxEpochs + 1 : $0.position.epoch } ?? 1
        for epoch in firstEpoch..<(options.maxEpochs + 1) {
            let clock = Stopwatch()
            examples.shuffle(using: &rng)
            var ceSum = 0.0, n3Sum = 0.0, batches = 0
            if let r = resumed, r.position.epoch == epoch {
                ceSum = Double(bitPattern: r.progress.ceSum)
                n3Sum = Double(bitPattern: r.progress.n3Sum)
                batches = r.position.batchInEpoch
            }
            resumed = nil
            var start = batches * options.batchSize
            while start < examples.count {
                let batch = Array(examples[start..<min(examples.count, start + options.batchSize)])
                let mine = DataShard.range(count: batch.count, rank: world.rank, size: world.size)
                var l = ComplExLoss(crossEntropy: 0, n3: 0)
                if !mine.isEmpty {
                    l = model.lossAndGradients(Array(batch[mine]), n3Weight: options.n3Weight, into: &grads)
                } else {
                    for i in grads.entity.indices { grads.entity[i] = 0 }
                    for i in grads.relation.indices { grads.relation[i] = 0 }
                }
                if world.size > 1 {
                    let w = Float(mine.count)
                    var tables = [grads.entity, grads.relation]
                    grads.entity = []; grads.relation = []   // one copy of each table in flight
                    let reduced = try averager.average(&tables, weight: w, extras: [l.crossEntropy * w, l.n3 * w], world: world)
                    grads.entity = tables[0]; grads.relation = tables[1]
                    l = ComplExLoss(crossEntropy: reduced.sums[0] / reduced.total, n3: reduced.sums[1] / reduced.total)
                }
                entOpt.step(&model.entity, gradient: grads.entity)
                relOpt.step(&model.relation, gradient: grads.relation)
                ceSum += Double(l.crossEntropy)
                n3Sum += Double(l.n3)
                batches += 1
                start += batch.count
                step += 1
                if start < examples.count && run.isDue(step: step) {
                    try checkpoints.write(TrainingPosition(step: step, epoch: epoch, batchInEpoch: batches), model: model, entity: entOpt, relation: relOpt,
                                          best: best, progress: ComplExProgress(ceSum: ceSum, n3Sum: n3Sum, batches: batches, report: report,
                                                                                bestMRR: best?.mrr, badChecks: badChecks))
                }
            }
            let seconds = clock.seconds
            report.trainSeconds += seconds
            report.epochsRun = epoch
            let mean = ComplExLoss(crossEntropy: Float(ceSum / Double(batches)), n3: Float(n3Sum / Double(batches)))
            report.epochLosses.append(mean)
            guard mean.total.isFinite else {
                throw GraphDataError("training diverged at epoch \(epoch) (loss \(mean.total)); lower the learning rate or raise the N3 weight")
            }
            let eta = report.trainSeconds / Double(epoch) * Double(options.maxEpochs - epoch)
            log.line("epoch \(epoch)/\(options.maxEpochs)  loss \(fmt(mean.total)) (ce \(fmt(mean.crossEntropy)) n3 \(fmt(mean.n3)))  "
                     + "\(Int(Double(examples.count) / max(seconds, 1e-9))) queries/s  ETA ≤ \(formatDuration(eta))")

            let checkNow = options.validEvery > 0 && !data.valid.isEmpty
                && (epoch % options.validEvery == 0 || epoch == options.maxEpochs)
            var stop = false
            if checkNow {
                let vclock = Stopwatch()
                let v = evaluateLinkPrediction(model, triples: data.valid, known: known).both.summary(options.selectionRule)
                report.validSeconds += vclock.seconds
                report.validCurve.append((epoch, report.trainSeconds, v.mrr))
                log.line("epoch \(epoch) valid (filtered, \(options.selectionRule.rawValue)) \(v)")
                if best == nil || v.mrr > best!.mrr + options.minImprovement {
                    best = (v.mrr, model.entity, model.relation)
                    report.bestEpoch = epoch
                    report.bestValid = v
                    report.trainSecondsToBest = report.trainSeconds
                    badChecks = 0
                } else {
                    badChecks += 1
                    if options.patience > 0 && badChecks >= options.patience {
                        log.line("no validation gain in \(badChecks) checks: stopping, keeping epoch \(report.bestEpoch)")
                        stop = true
                    }
                }
            }
            if stop { break }
            if epoch < options.maxEpochs && run.isDue(step: step) {
                try checkpoints.write(TrainingPosition(step: step, epoch: epoch + 1), model: model, entity: entOpt, relation: relOpt, best: best,
                                      progress: ComplExProgress(ceSum: 0, n3Sum: 0, batches: 0, report: report, bestMRR: best?.mrr, badChecks: badChecks))
            }
        }
        try checkpoints.write(TrainingPosition(step: step, epoch: options.maxEpochs + 1, finished: true), model: model, entity: entOpt,
                              relation: relOpt, best: best,
                              progress: ComplExProgress(ceSum: 0, n3Sum: 0, batches: 0, report: report, bestMRR: best?.mrr, badChecks: badChecks))
        if let b = best {
            model.entity = b.entity
            model.relation = b.relation
        } else {
            report.bestEpoch = report.epochsRun
            report.trainSecondsToBest = report.trainSeconds
        }
        report.wallSeconds = wall.seconds
        return (model, report)
    }
}

private func fmt(_ x: Float) -> String { round4(Double(x)) }

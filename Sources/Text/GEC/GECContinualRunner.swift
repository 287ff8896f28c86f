import Core
import Foundation

/// Trains a GEC tagger through a sequence of domains with one continual-learning method and
/// fills the accuracy matrix `a[t][i]` (F0.5 on domain i's test set after training through
/// domain t), the untrained baseline `b[i]`, and AP / BWT / FWT.
///
/// The tag vocabulary is built from all domains' training pairs up front (the label space is
/// fixed, as in domain-incremental learning; no domain's weights or scores are seen early). Each
/// domain gets a fresh AdamW and a linear warm-up/decay schedule; the method acts on the
/// gradients between `backward()` and the optimizer step, through the generic tools in
/// `Core/Continual` (replay buffer, EWC penalty, GEM/A-GEM projection, OGD basis, O-LoRA loss).
///
/// ```swift
/// let runner = GECContinualRunner(options: o) { print($0) }
/// let result = try runner.run(modelFolder: dir, domains: try data.ordered(["animals", "food"]))
/// ```
public final class GECContinualRunner {
    public let options: GECContinualOptions
    public let log: (String) -> Void
    /// Checkpoint folder and interval, the run to resume and the ranks the batches are split
    /// over (default: one process, no checkpoint, a fresh start).
    public var training = TrainingRun()
    /// The tagger after the last run (for saving or correcting).
    public private(set) var tagger: GECTagger?

    public init(options: GECContinualOptions, log: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.log = log
    }

    func limited(_ xs: [GECExample], _ n: Int?) -> [GECExample] { n.map { Array(xs.prefix($0)) } ?? xs }

    static func pairs(_ xs: [GECExample]) -> [(source: [String], target: [String])] {
        xs.flatMap { e in e.references.map { (e.sourceTokens, GECTokens.split($0)) } }
    }

    public func run(modelFolder: String, domains: [GECDomainData.Domain]) throws -> GECContinualResult {
        let o = options
        try o.validate()
        guard !domains.isEmpty else { throw GECError.badOption("--order names no domain") }
        let world = training.world
        // Rank 0 alone logs (the others would print the same lines).
        let log: (String) -> Void = world.isLeader ? self.log : { _ in }
        let started = Date()
        let trains = domains.map { limited($0.train, o.maxTrain) }
        let tests = domains.map { limited($0.test, o.maxTest) }
        let devs = domains.map { limited($0.dev, o.maxDev) }
        let vocab = GECTagVocabulary.build(pairs: trains.flatMap(Self.pairs), maxTags: o.maxTags, transforms: o.transforms, minCount: o.minTagCount)
        let firstAdapter = o.method == .olora ? "task0" : "default"
        let tagger = try GECTagger(modelFolder: modelFolder, vocabulary: vocab, options: o.resolvedModel, encoderAdapter: firstAdapter)
        tagger.keepWeight = Float(o.keepLossWeight)
        self.tagger = tagger
        let items = trains.map { Self.pairs($0).compactMap { tagger.trainingItem(source: $0.source, target: $0.target) } }
        for (d, it) in zip(domains, items) where it.isEmpty {
            throw GECError.unusable("domain '\(d.name)' has no training sentence the tokenizer can read")
        }
        let counts = tagger.model.parameterCounts()
        log("gec-cl: \(o.method.rawValue) on \(modelFolder): \(vocab.count) tags; \(tagger.trainableParameters().reduce(0) { $0 + $1.1.count }) of \(counts.total) parameters train; order \(domains.map(\.name).joined(separator: " → "))")

        let checkpointer = GECContinualCheckpointer(
            config: GECContinualCheckpointer.config(options: o, names: domains.map(\.name), splits: (0..<domains.count).map { [trains[$0], devs[$0], tests[$0]] },
                                                    labels: vocab.labels),
            baseModel: ModelFingerprint.of(tagger.model), folder: training.checkpointFolder, world: world)
        ModelRandomState.forkForRank(tagger.model, rank: world.rank)
        let state = GECContinualMethodState(options: o, items: items, world: world)
        if world.size > 1 {
            let bytes = GradientAllReduce(parameters: tagger.trainableParameters()).bytesPerStep(extras: 1)
            log("gec-cl: data parallel, \(world.size) ranks: each takes its slice of every --batch \(o.batchSize) (replay included); \(bytes) bytes all-reduced per step")
        }

        var correction = o.correction
        var lastMaxMatch: [MaxMatchCounts] = [], lastTypes: [GECErrorTypes.Report] = []
        func evaluateAll(_ label: String, maxMatch: Bool = false) throws -> [EditCounts] {
            let t0 = Date()
            lastTypes = []
            let scores = try leaderScores(world, count: tests.count * (maxMatch ? 6 : 3)) {
                try tests.flatMap { test -> [Int] in
                    let e = try tagger.evaluate(test, options: correction, maxMatch: maxMatch)
                    lastTypes.append(e.types)   // on the leader only: rank 0 alone writes the results
                    let c = e.score.counts, m = e.maxMatch?.counts ?? MaxMatchCounts()
                    return [c.tp, c.fp, c.fn] + (maxMatch ? [m.correct, m.proposed, m.gold] : [])
                }
            }
            let width = maxMatch ? 6 : 3
            let row = (0..<tests.count).map { EditCounts(tp: scores[$0 * width], fp: scores[$0 * width + 1], fn: scores[$0 * width + 2]) }
            lastMaxMatch = maxMatch ? (0..<tests.count).map {
                MaxMatchCounts(correct: scores[$0 * width + 3], proposed: scores[$0 * width + 4], gold: scores[$0 * width + 5])
            } : []
            log("gec-cl: \(label): F0.5 " + zip(domains, row).map { "\($0.name) \(String(format: "%.3f", $1.f05))" }.joined(separator: ", ")
                + String(format: " (%.1fs)", Date().timeIntervalSince(t0)))
            return row
        }

        var p = GECContinualProgress()
        var globalStep = 0
        var resumed: (optimizer: [String: Tensor], best: [[Float]])?
        if let dir = training.resumeFrom {
            let file = TrainingCheckpoint.file(in: dir).path
            let (ckpt, saved) = try checkpointer.read(dir, domains: domains.count)
            if o.method == .olora { for k in 1..<saved.oloraAdapters { try tagger.addEncoderAdapter("task\(k)") } }
            let best = try checkpointer.restore(ckpt, progress: saved, file: file, tagger: tagger, params: tagger.trainableParameters(), state: state)
            p = saved
            lastMaxMatch = saved.lastMaxMatch
            lastTypes = saved.lastTypes ?? []
            if let c = saved.correction { correction = c }
            globalStep = ckpt.position.step
            if saved.started { resumed = (ckpt.optimizer, best) }
            log("gec-cl: resumed from \(file) at step \(globalStep): " + (saved.domain == domains.count ? "all domains done"
                : "domain \(saved.domain + 1)/\(domains.count) '\(domains[saved.domain].name)', epoch \(saved.cursor.epoch), batch \(saved.cursor.batch)"))
        } else {
            p.baseline = try evaluateAll("untrained")
        }
        /// A checkpoint of everything now (every rank calls it; rank 0 writes).
        func save(_ progress: GECContinualProgress, step: Int, params: [(String, Tensor)], optimizer: (any Optimizer)?, best: [[Float]], finished: Bool = false) throws {
            var q = progress
            q.lastMaxMatch = lastMaxMatch
            q.lastTypes = lastTypes
            let position = TrainingPosition(step: step, epoch: q.started ? q.cursor.epoch : 1, batchInEpoch: q.started ? q.cursor.batch : 0, finished: finished)
            try checkpointer.write(position: position, progress: q, tagger: tagger, params: params, optimizer: optimizer, best: best, state: state)
        }

        while p.domain < domains.count {
            let t = p.domain, domain = domains[t]
            if !p.started {
                if o.method == .olora, t > 0 {
                    try tagger.addEncoderAdapter("task\(t)")
                    // The new adapter's dropout streams, like the model's, differ per rank.
                    for (_, a) in tagger.peft.adapters(named: "task\(t)") { ModelRandomState.forkForRank(a, rank: world.rank) }
                }
                p.started = true
                p.cursor = GECDomainCursor()
                p.cursor.bestEpoch = o.epochs
            }
            let params = tagger.trainableParameters()
            p.trainable = max(p.trainable, params.reduce(0) { $0 + $1.1.count })
            let t0 = Date()
            let snapshot = p
            let choice = try trainDomain(t, domain.name, items[t], dev: devs[t], tagger: tagger, params: params, state: state,
                                         cursor: &p.cursor, resumed: resumed, globalStep: &globalStep) { cursor, optimizer, best, step in
                var q = snapshot
                q.cursor = cursor
                try save(q, step: step, params: params, optimizer: optimizer, best: best)
            }
            resumed = nil
            p.kept.append(choice.epoch); p.devScores.append(choice.devF05)
            try state.finishDomain(t, tagger: tagger, params: params)
            if o.tuneCorrection, !devs[t].isEmpty {
                // Every rank tunes on the same dev split with the same weights: same result.
                let tuned = try tagger.tuneCorrection(on: devs[t], base: o.correction)
                correction = tuned.options
                p.correction = correction
                log(String(format: "  %@: keep bias %.2f, min confidence %.2f (dev F0.5 %.4f)", domain.name, correction.keepBias, correction.minConfidence, tuned.f05))
            }
            p.trainSeconds += Date().timeIntervalSince(t0)
            p.rows.append(try evaluateAll("after \(domain.name) (\(t + 1)/\(domains.count))", maxMatch: t == domains.count - 1))
            p.domain = t + 1
            p.started = false
            p.cursor = GECDomainCursor()
            // Between domains (matrix row done, method memory updated): a resume continues with the next domain.
            if training.checkpointEvery > 0, p.domain < domains.count { try save(p, step: globalStep, params: params, optimizer: nil, best: []) }
        }
        if training.checkpointFolder != nil {
            try save(p, step: globalStep, params: tagger.trainableParameters(), optimizer: nil, best: [], finished: true)
            try Self.faultAfterCheckpoint("finished", world: world, log: log)
        }
        tagger.model.eval()
        let rows = p.rows
        let matrix = rows.map { $0.map(\.f05) }
        let metrics = try ContinualMetrics(matrix: matrix, baseline: p.baseline.map(\.f05))
        let result = GECContinualResult(
            method: o.method.rawValue, domains: domains.map(\.name), matrix: matrix, baseline: p.baseline.map(\.f05),
            averagePerformance: metrics.averagePerformance, backwardTransfer: metrics.backwardTransfer, forwardTransfer: metrics.forwardTransfer,
            final: zip(domains, rows.last ?? []).enumerated().map { i, d in
                .init(domain: d.0.name, counts: d.1, maxMatch: i < lastMaxMatch.count ? lastMaxMatch[i] : nil,
                      types: i < lastTypes.count ? lastTypes[i] : nil)
            },
            trainableParameters: p.trainable, totalParameters: counts.total, tags: vocab.count,
            trainSeconds: p.trainSeconds, wallSeconds: Date().timeIntervalSince(started), seed: o.seed,
            gemProjections: state.projections, keptEpochs: p.kept, devF05: p.devScores)
        log("gec-cl: " + result.summary)
        return result
    }

    /// Integer scores computed by rank 0 alone (the other ranks wait) and shared with every rank
    /// through one all-reduce (exact: counts below 2^24), so all ranks take the same decisions
    /// (dev selection) and return the same result, and evaluation is not repeated N times.
    /// ERRANT's corpus scoring picks each sentence's best reference against the running totals,
    /// so it cannot be split over ranks and summed.
    func leaderScores(_ world: any Distributed, count: Int, _ compute: () throws -> [Int]) throws -> [Int] {
        guard world.size > 1 else { return try compute() }
        var buffer = [Float](repeating: 0, count: count)
        if world.isLeader {
            let values = try compute()
            guard values.count == count else { throw GECError.unusable("internal: \(values.count) scores, expected \(count)") }
            buffer = values.map(Float.init)
        }
        try world.allReduceSum(&buffer)
        return buffer.map { Int($0.rounded()) }
    }

    /// Fault injection for the resume tests, right after the checkpoint of global step `point`
    /// (or of the end, `finished`) is on disk. `PEFTKIT_FAULT_STOP_AFTER_STEP=<point>`: every
    /// rank stops with an error. `PEFTKIT_FAULT_HANG_AFTER_STEP=<point>`: the process announces
    /// it on stderr and blocks, so a test's `kill -9` lands at exactly this point whatever the
    /// machine's load (a kill timed by the step lines alone can arrive after the run ended).
    static func faultAfterCheckpoint(_ point: String, world: any Distributed, log: (String) -> Void) throws {
        let env = ProcessInfo.processInfo.environment
        if env["PEFTKIT_FAULT_STOP_AFTER_STEP"] == point {
            try world.barrier()   // rank 0 has finished writing before any rank aborts the job
            throw GECError.unusable("stopped after the checkpoint of step \(point) (PEFTKIT_FAULT_STOP_AFTER_STEP)")
        }
        if env["PEFTKIT_FAULT_HANG_AFTER_STEP"] == point {
            try world.barrier()
            log("gec-cl: blocked after the checkpoint of step \(point) (PEFTKIT_FAULT_HANG_AFTER_STEP); waiting to be killed")
            while true { sleep(3600) }
        }
    }

    /// Masks each `$KEEP` label with probability 1 − share. The start slot and edits stay, and so
    /// do the keeps of the words right before and after an edit: without them the tagger never
    /// learns which of two neighbours to edit and rewrites both (it deleted both copies of a
    /// doubled word).
    /// The epoch's visiting order: a Fisher–Yates shuffle drawn from `rng` (the same draws on every rank).
    static func seededOrder(_ count: Int, rng: inout SplitMix64) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return order
    }

    /// One global batch on this rank: its `DataShard` slice's loss (weighted by labelled tokens,
    /// `penalty` added), backward, gradients averaged over the ranks by that weight. Returns the
    /// world's mean loss. Shared by the domain epochs and the head warm-up.
    static func shardStep(_ batch: [GECTrainingItem], tagger: GECTagger, reducer: GradientAllReduce, world: any Distributed,
                          penalty: (Tensor) -> Tensor = { $0 }) throws -> Double {
        let mine = DataShard.slice(batch, rank: world.rank, size: world.size)
        let weight = tagger.lossWeight(mine)
        var value = 0.0
        if weight > 0 {
            let loss = penalty(try tagger.loss(mine))
            value = Double(loss.item)
            loss.backward()
        }
        let reduced = try reducer.average(localWeight: weight, extras: [Float(value * weight)], over: world)
        if world.size > 1 { value = Double(reduced.sums[0]) / reduced.total }
        return value
    }

    static func maskKeep(_ items: [GECTrainingItem], share: Double, rng: inout SplitMix64) -> [GECTrainingItem] {
        items.map { item in
            var it = item
            let labelled = it.labels.indices.filter { it.labels[$0] != LabelAlignment.ignoreIndex }
            var kept = Set<Int>()
            for (k, i) in labelled.enumerated() where it.labels[i] != GECTagVocabulary.keepID {
                if k > 0 { kept.insert(labelled[k - 1]) }
                if k + 1 < labelled.count { kept.insert(labelled[k + 1]) }
            }
            for i in 1..<max(it.labels.count, 1) where it.labels[i] == GECTagVocabulary.keepID && !kept.contains(i) {
                if Double(rng.next() >> 11) / Double(1 << 53) >= share { it.labels[i] = LabelAlignment.ignoreIndex }
            }
            return it
        }
    }

    /// GECToR's cold epochs: `headWarmupEpochs` epochs over the first domain in which only the
    /// head trains (encoder parameters are frozen, so the backward pass stops at the head), with
    /// its own AdamW at the head's learning rate, constant, and its own seeded shuffles. The
    /// random head otherwise sends large, noisy gradients into the adapter in the first steps.
    func warmUpHead(_ name: String, _ items: [GECTrainingItem], tagger: GECTagger, params: [(String, Tensor)]) throws {
        let o = options
        let world = training.world
        let log: (String) -> Void = world.isLeader ? self.log : { _ in }
        let isHead = { (n: String) in n.hasPrefix("classifier.") }
        let head = params.filter { isHead($0.0) }, encoder = params.filter { !isHead($0.0) }
        guard !head.isEmpty else { return }
        for (_, p) in encoder { p.requiresGrad = false }
        defer { for (_, p) in encoder { p.requiresGrad = true } }
        let optimizer = AdamW(learningRate: o.effectiveLearningRate * o.headLearningRateScale, weightDecay: o.weightDecay, decayRule: .excludeBiasAndNorm)
        let reducer = GradientAllReduce(parameters: head)
        for epoch in 1...o.headWarmupEpochs {
            var rng = SplitMix64(seed: o.seed).fork(UInt64(900_000 + epoch))
            let order = Self.seededOrder(items.count, rng: &rng)
            var lossSum = 0.0, n = 0
            for start in stride(from: 0, to: order.count, by: o.batchSize) {
                tagger.model.train()
                var batch = order[start..<min(start + o.batchSize, order.count)].map { items[$0] }
                if o.keepLabelShare < 1 { batch = Self.maskKeep(batch, share: o.keepLabelShare, rng: &rng) }
                let value = try Self.shardStep(batch, tagger: tagger, reducer: reducer, world: world)
                guard value.isFinite else { throw GECError.badOption("head warm-up diverged on domain '\(name)' (loss \(value)); lower --lr") }
                _ = clipGradNorm(head, maxNorm: o.maxGradNorm)
                optimizer.step(head)
                optimizer.zeroGrad(head)
                lossSum += value; n += 1
            }
            log(String(format: "  %@ head warm-up %d/%d loss %.4f", name, epoch, o.headWarmupEpochs, lossSum / Double(max(n, 1))))
        }
    }

    /// One domain's epochs from `cursor` on; with dev selection the weights of the best dev
    /// epoch are restored at the end. Returns the kept epoch and its dev F0.5 (nil without dev
    /// selection). `save` is called with the position after every step a checkpoint is due.
    ///
    /// Data parallelism: every rank builds the same global batch (the seeded order, replay
    /// samples, `$KEEP` masking — so every generator advances as in one process), takes its
    /// `DataShard` slice and its mean loss over the slice's labelled tokens; the gradients are
    /// averaged weighted by those token counts (one all-reduce), which is the gradient of the
    /// mean loss over the whole batch. The method's adjustment, clipping and AdamW then run
    /// identically on every rank.
    func trainDomain(_ t: Int, _ name: String, _ items: [GECTrainingItem], dev: [GECExample], tagger: GECTagger,
                     params: [(String, Tensor)], state: GECContinualMethodState, cursor: inout GECDomainCursor,
                     resumed: (optimizer: [String: Tensor], best: [[Float]])?, globalStep: inout Int,
                     save: (GECDomainCursor, any Optimizer, [[Float]], Int) throws -> Void) throws -> (epoch: Int, devF05: Double?) {
        let o = options
        let world = training.world
        let log: (String) -> Void = world.isLeader ? self.log : { _ in }
        let selecting = o.selectOnDev && !dev.isEmpty
        var bestF = cursor.bestF, bestEpoch = cursor.bestEpoch
        var bestWeights: [[Float]] = resumed?.best ?? []
        let batches = (items.count + o.batchSize - 1) / o.batchSize
        let steps = batches * o.epochs
        let schedule = LRSchedule.linear(warmup: Int((Double(steps) * o.warmupRatio).rounded()), total: steps)
        let isHead = { (n: String) in n.hasPrefix("classifier.") }
        let optimizer = OptimizerGroups([
            .init(AdamW(learningRate: o.effectiveLearningRate, weightDecay: o.weightDecay, decayRule: .excludeBiasAndNorm)) { !isHead($0) },
            .init(AdamW(learningRate: o.effectiveLearningRate * o.headLearningRateScale, weightDecay: o.weightDecay, decayRule: .excludeBiasAndNorm),
                  scale: o.headLearningRateScale, owns: isHead),
        ])
        // The messages name the checkpoint file (the cursor comes from its progress record).
        let checkpointFile = training.resumeFrom.map { TrainingCheckpoint.file(in: $0).path } ?? "the checkpoint"
        if let saved = resumed?.optimizer, !saved.isEmpty {
            do { try optimizer.loadStateDict(saved, for: params) } catch {
                throw TrainingCheckpointError.mismatch(file: checkpointFile, differences: ["\(error)"])
            }
        }
        guard (1...o.epochs).contains(cursor.epoch), (0...batches).contains(cursor.batch), cursor.step >= 0 else {
            throw TrainingCheckpointError.beyondRun(file: checkpointFile, detail: "its domain cursor is at epoch \(cursor.epoch), batch \(cursor.batch), but a domain of this run has \(o.epochs) epochs of \(batches) batches")
        }
        if t == 0, o.headWarmupEpochs > 0, cursor.step == 0, cursor.batch == 0, cursor.epoch == 1 {
            // A resumed run is past this point (checkpoints come after steps), so it never repeats it.
            try warmUpHead(name, items, tagger: tagger, params: params)
        }
        let reducer = GradientAllReduce(parameters: params)
        var step = cursor.step
        let resumeAt = cursor
        for epoch in resumeAt.epoch...o.epochs {
            var rng = SplitMix64(seed: o.seed).fork(UInt64(1000 * t + epoch))
            let order = Self.seededOrder(items.count, rng: &rng)
            var lossSum = 0.0, n = 0, first = 0
            if epoch == resumeAt.epoch, resumeAt.batch > 0 {
                // Mid-epoch: the order is rebuilt from the seed, the generator continues where it was.
                rng.state = resumeAt.rng
                lossSum = resumeAt.lossSum; n = resumeAt.lossCount; first = resumeAt.batch
            }
            for b in first..<batches {
                tagger.model.train()
                let start = b * o.batchSize
                var batch = order[start..<min(start + o.batchSize, order.count)].map { items[$0] }
                batch += state.replaySample()
                if o.keepLabelShare < 1 { batch = Self.maskKeep(batch, share: o.keepLabelShare, rng: &rng) }
                let value = try Self.shardStep(batch, tagger: tagger, reducer: reducer, world: world) { loss in
                    guard o.method == .olora, t > 0, o.oloraLambda > 0,
                          let orth = OrthogonalLoRA.loss(peft: tagger.peft, current: "task\(t)", previous: (0..<t).map { "task\($0)" }) else { return loss }
                    return loss + orth * o.oloraLambda
                }
                guard value.isFinite else { throw GECError.badOption("training diverged on domain '\(name)' (loss \(value)); lower --lr") }
                try state.adjustGradients(tagger: tagger, params: params)
                _ = clipGradNorm(params, maxNorm: o.maxGradNorm)
                optimizer.learningRate = schedule.learningRate(at: step, base: o.effectiveLearningRate)
                optimizer.step(params)
                optimizer.zeroGrad(params)
                step += 1
                globalStep += 1
                lossSum += value; n += 1
                if step % max(o.logEvery, 1) == 0 || step == steps {
                    log(String(format: "  %@ epoch %d/%d step %d/%d loss %.4f", name, epoch, o.epochs, step, steps, lossSum / Double(n)))
                }
                cursor = GECDomainCursor(epoch: epoch, batch: b + 1, step: step, rng: rng.state, lossSumBits: lossSum.bitPattern, lossCount: n,
                                         bestFBits: bestF.bitPattern, bestEpoch: bestEpoch)
                if training.isDue(step: globalStep) {
                    try save(cursor, optimizer, bestWeights, globalStep)
                    try Self.faultAfterCheckpoint("\(globalStep)", world: world, log: log)
                }
            }
            guard selecting else { continue }
            let c = try leaderScores(world, count: 3) {
                let s = try tagger.evaluate(dev, options: o.correction).score.counts
                return [s.tp, s.fp, s.fn]
            }
            let f = EditCounts(tp: c[0], fp: c[1], fn: c[2]).f05
            log(String(format: "  %@ epoch %d dev F0.5 %.4f", name, epoch, f))
            // Ties go to the later epoch: on a small dev split F0.5 is coarse (often 0 early on),
            // and among equal scores the longer-trained weights are the better bet.
            if f >= bestF {
                bestF = f; bestEpoch = epoch
                bestWeights = params.map { $0.1.storage }
            } else if o.patience > 0, epoch - bestEpoch >= o.patience {
                log("  \(name): no better dev F0.5 for \(o.patience) epochs; stopping at epoch \(epoch)")
                break
            }
        }
        guard selecting else { return (o.epochs, nil) }
        for (k, (_, p)) in params.enumerated() { p.storage = bestWeights[k] }
        log(String(format: "  %@: kept epoch %d (dev F0.5 %.4f)", name, bestEpoch, bestF))
        return (bestEpoch, bestF)
    }
}

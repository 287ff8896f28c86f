import Core
import Foundation

/// Settings of CQD-A adapter training (the link predictor stays frozen).
public struct CQDATrainingOptions: Sendable {
    public var epochs = 10
    /// Queries per optimiser step.
    public var batchSize = 64
    /// Adagrad learning rate. adaptive-cqd's bundled (evaluation-only) command passes 0.1; on UMLS
    /// 0.1 overshoots (Adagrad's first step moves every weight by ≈ lr, shifting α by lr·Σ|e_j|
    /// over 2k embedding inputs) and costs EPFO MRR, while 0.01 improves every type but 3p.
    public var learningRate: Float = 0.01
    /// Map the [0, 1] query scores to `log(ε + s − min)` before the softmax (`--use-logits`).
    public var useLogits = false
    public var epsilon: Float = 1e-6
    public var seed: UInt64 = 0
    public var progress = true

    public init() {}
}

/// Trains a `CQDAAdapter` on labelled complex queries with 1-vs-all cross-entropy over all
/// entities of the final query score; each query contributes one of its answers per epoch,
/// drawn with a seeded generator (as BetaE-style training samples one positive per query).
public enum CQDATrainer {
    /// Returns the mean loss of every epoch.
    ///
    /// `run` adds checkpoints (every N steps and at the end), resume and data parallelism: every
    /// rank shuffles and draws each query's target answer exactly as one process (so the
    /// generator stays in step), then scores only its `DataShard` slice of the batch's usable
    /// queries; the adapter gradients of the mean loss over the slices are averaged weighted by
    /// slice size in one all-reduce, so N ranks take the single-process Adagrad steps. Rank 0
    /// alone logs and writes. `configExtras` (the link predictor's and the queries' hashes, the
    /// CQD options) join the options in the config a resume must match.
    @discardableResult
    public static func train(
        _ adapter: CQDAAdapter, cqd: CQDBeam, queries: [ComplexQueryExample], options: CQDATrainingOptions,
        run: GraphTrainingRun = GraphTrainingRun(), configExtras: [String: String] = [:]
    ) throws -> [Float] {
        guard options.epochs >= 1, options.batchSize >= 1, options.learningRate > 0 else {
            throw GraphDataError("CQD-A training needs epochs ≥ 1, batch size ≥ 1 and a positive learning rate")
        }
        guard !queries.isEmpty else { throw GraphDataError("CQD-A training: no training queries") }
        guard cqd.adapter === adapter else { throw GraphDataError("CQD-A training: attach the adapter to the CQDBeam first") }
        let world = run.world
        let log = ProgressLog(enabled: options.progress && world.isLeader, prefix: "[cqd-a] ")
        let named = adapter.trainableParameters()
        let optimizer = AdagradOptimizer(learningRate: options.learningRate)
        var config = configExtras
        config["option.epochs"] = "\(options.epochs)"; config["option.batch"] = "\(options.batchSize)"
        config["option.lr"] = "\(options.learningRate)"; config["option.use-logits"] = "\(options.useLogits)"
        config["option.epsilon"] = "\(options.epsilon)"; config["option.seed"] = "\(options.seed)"
        config["option.inputs"] = adapter.inputs
        config["cqd"] = "beam \(cqd.options.beamWidth), t-norm \(cqd.options.tNorm.rawValue), \(cqd.options.normalization.rawValue)"
        config["queries"] = GraphHash.queries(queries)
        config["link-predictor"] = GraphHash.tables(cqd.model)
        let session = try TrainingSession(command: "kg-query adapt", model: adapter, parameters: named, optimizer: optimizer, config: config,
                                          folder: run.checkpointFolder, every: run.checkpointEvery, world: world)
        var rng = SplitMix64(seed: options.seed).fork(0xCDA)
        var order = Array(queries.indices)
        var losses: [Float] = []
        var position = TrainingPosition()
        var resumed: CQDAProgress?
        if let dir = run.resumeFrom {
            let file = TrainingCheckpoint.file(in: dir).path
            let batches = (queries.count + options.batchSize - 1) / options.batchSize
            let checkpoint = try session.resume(from: dir, within: TrainingExtent(epochs: options.epochs, batchesPerEpoch: batches, steps: options.epochs * batches))
            guard let p = try? JSONDecoder().decode(CQDAProgress.self, from: Data(checkpoint.progress.utf8)),
                  let state = UInt64(p.rng, radix: 16), p.order.sorted() == Array(queries.indices) else {
                throw GraphDataError("\(file): the checkpoint's progress record is not kg-query adapt's; train into a new --out folder")
            }
            position = checkpoint.position
            rng.state = state
            order = p.order
            losses = p.losses.map(Float.init(bitPattern:))
            resumed = p
            log.line("resumed from \(file) at step \(position.step), epoch \(min(position.epoch, options.epochs))")
        }
        let share = adapter.parameterShare(of: cqd.model)
        log.line("\(queries.count) training queries, adapter \(share.count) parameters (\(String(format: "%.4f", share.fraction * 100))% of the link predictor)")
        if world.size > 1 {
            log.line("data parallel, \(world.size) ranks: each scores its slice of the \(options.batchSize)-query batch; \(session.reducer.bytesPerStep(extras: 1)) bytes all-reduced per step")
        }
        var steps = position.step
        let firstEpoch = position.finished ? options.epochs + 1 : position.epoch
        for epoch in firstEpoch..<(options.epochs + 1) {
            let clock = Stopwatch()
            var total = 0.0, epochSteps = 0, batch = 0
            if let p = resumed, position.batchInEpoch > 0 {
                // Mid-epoch: `order` and the generator are already this epoch's, after its batches so far.
                total = Double(bitPattern: p.total)
                epochSteps = p.epochSteps
                batch = position.batchInEpoch
            } else {
                order.shuffle(using: &rng)
            }
            resumed = nil
            var start = batch * options.batchSize
            while start < order.count {
                let idx = order[start..<min(order.count, start + options.batchSize)]
                // Every rank draws every target, in order, so the generator advances as in one process.
                var usable: [(query: Int, target: Int)] = []
                for i in idx {
                    let answers = queries[i].hard + queries[i].easy
                    guard !answers.isEmpty else { continue }
                    usable.append((i, answers[Int(rng.next() % UInt64(answers.count))]))
                }
                start += idx.count
                batch += 1
                guard !usable.isEmpty else { continue }
                let mine = session.shard(usable)
                for (_, p) in named { p.zeroGrad() }
                var localLoss: Float = 0
                if !mine.isEmpty {
                    let rows = try mine.map { try cqd.truth(queries[$0.query].query) }
                    let loss = queryLoss(Tensor.concat(rows, axis: 0), targets: mine.map(\.target), options: options)
                    loss.backward()
                    localLoss = loss.item
                }
                let reduced = try session.averageGradients(localWeight: Double(mine.count), extras: [localLoss * Float(mine.count)])
                let stepLoss = world.size > 1 ? reduced.sums[0] / Float(reduced.total) : localLoss
                optimizer.step(named)
                total += Double(stepLoss)
                epochSteps += 1
                steps += 1
                if start < order.count && session.isDue(step: steps) {
                    try session.checkpoint(TrainingPosition(step: steps, epoch: epoch, batchInEpoch: batch),
                                           progress: CQDAProgress(rng: rng.state, order: order, total: total, epochSteps: epochSteps, losses: losses).json())
                }
            }
            let mean = Float(total / Double(max(epochSteps, 1)))
            losses.append(mean)
            log.line("epoch \(epoch)/\(options.epochs)  loss \(round4(Double(mean)))  \(Int(Double(queries.count) / max(clock.seconds, 1e-9))) queries/s")
            if epoch < options.epochs && session.isDue(step: steps) {
                try session.checkpoint(TrainingPosition(step: steps, epoch: epoch + 1),
                                       progress: CQDAProgress(rng: rng.state, order: order, total: 0, epochSteps: 0, losses: losses).json())
            }
        }
        try session.checkpoint(TrainingPosition(step: steps, epoch: options.epochs + 1, finished: true),
                               progress: CQDAProgress(rng: rng.state, order: order, total: 0, epochSteps: 0, losses: losses).json())
        return losses
    }

    /// 1-vs-all cross-entropy of query scores `[B, N]` in [0, 1] against one answer per row;
    /// with `useLogits` the scores first become `log(ε + s − min_row s)`.
    public static func queryLoss(_ scores: Tensor, targets: [Int], options: CQDATrainingOptions) -> Tensor {
        var s = scores
        if options.useLogits {
            // Not detached: the row minimum maps to log(ε) exactly, so its entry must get
            // zero gradient (s − min is constant there); detaching would scale it by 1/ε.
            let lo = -(-s).max(axis: -1, keepDims: true)
            s = (s - lo + options.epsilon).log()
        }
        return s.crossEntropy(targets: targets)
    }
}

/// What the CQD-A loop holds besides weights and Adagrad state: the generator (shuffles and
/// target draws share it), the cumulative query order, this epoch's loss sum and step count,
/// and the mean loss of every finished epoch (exact bits).
struct CQDAProgress: Codable {
    var rng: String
    var order: [Int]
    var total: UInt64
    var epochSteps: Int
    var losses: [UInt32]

    init(rng: UInt64, order: [Int], total: Double, epochSteps: Int, losses: [Float]) {
        self.rng = String(format: "%016llx", rng)
        self.order = order
        self.total = total.bitPattern
        self.epochSteps = epochSteps
        self.losses = losses.map(\.bitPattern)
    }

    func json() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }
}

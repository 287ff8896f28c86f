import Core

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
    @discardableResult
    public static func train(
        _ adapter: CQDAAdapter, cqd: CQDBeam, queries: [ComplexQueryExample], options: CQDATrainingOptions
    ) throws -> [Float] {
        guard options.epochs >= 1, options.batchSize >= 1, options.learningRate > 0 else {
            throw GraphDataError("CQD-A training needs epochs ≥ 1, batch size ≥ 1 and a positive learning rate")
        }
        guard !queries.isEmpty else { throw GraphDataError("CQD-A training: no training queries") }
        guard cqd.adapter === adapter else { throw GraphDataError("CQD-A training: attach the adapter to the CQDBeam first") }
        let log = ProgressLog(enabled: options.progress, prefix: "[cqd-a] ")
        let params = adapter.trainableParameters().map(\.1)
        var opts = params.map { Adagrad(parameterCount: $0.count, learningRate: options.learningRate) }
        var rng = SplitMix64(seed: options.seed).fork(0xCDA)
        var order = Array(queries.indices)
        var losses: [Float] = []
        let share = adapter.parameterShare(of: cqd.model)
        log.line("\(queries.count) training queries, adapter \(share.count) parameters (\(String(format: "%.4f", share.fraction * 100))% of the link predictor)")
        for epoch in 1...options.epochs {
            let clock = Stopwatch()
            order.shuffle(using: &rng)
            var total = 0.0, steps = 0
            var start = 0
            while start < order.count {
                let idx = order[start..<min(order.count, start + options.batchSize)]
                var rows: [Tensor] = []
                var targets: [Int] = []
                for i in idx {
                    let ex = queries[i]
                    let answers = ex.hard + ex.easy
                    guard !answers.isEmpty else { continue }
                    rows.append(try cqd.truth(ex.query))
                    targets.append(answers[Int(rng.next() % UInt64(answers.count))])
                }
                start += idx.count
                guard !rows.isEmpty else { continue }
                let loss = queryLoss(Tensor.concat(rows, axis: 0), targets: targets, options: options)
                for p in params { p.zeroGrad() }
                loss.backward()
                for (j, p) in params.enumerated() {
                    if let g = p.gradStorage { opts[j].step(&p.storage, gradient: g) }
                }
                total += Double(loss.item)
                steps += 1
            }
            let mean = Float(total / Double(max(steps, 1)))
            losses.append(mean)
            log.line("epoch \(epoch)/\(options.epochs)  loss \(round4(Double(mean)))  \(Int(Double(queries.count) / max(clock.seconds, 1e-9))) queries/s")
        }
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

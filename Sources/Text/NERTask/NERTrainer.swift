import Core
import Foundation

/// Trains a token classifier for NER: AdamW with linear warmup and decay, gradient clipping,
/// length-grouped batches, evaluation on dev after every epoch, the best-dev checkpoint
/// written to the output folder whenever dev F1 improves (so an interrupted run still leaves
/// its best model), early stopping after `patience` epochs without improvement, and a final
/// test evaluation with the best weights.
///
/// ```swift
/// let trainer = NERTrainer(options: options) { line in print(line) }
/// let result = try trainer.run(modelFolder: dir, train: train, dev: dev, test: test, output: out)
/// ```
public final class NERTrainer {
    public let options: NERTrainingOptions
    /// Receives progress lines (the command sends them to stderr).
    public let log: (String) -> Void
    /// A training checkpoint (`TrainingCheckpoint`) is written into the output folder every
    /// this many optimizer steps and at the end; 0 writes only the final one.
    public var checkpointEvery = 200
    /// A run folder (or checkpoint file) to continue from; its config must match.
    public var resumeFrom: URL?
    /// The ranks training together. `--batch` stays the global batch: each step's windows are
    /// split over the ranks, so any number of ranks follows the single-process trajectory.
    public var world: any Distributed = SingleProcess()

    public init(options: NERTrainingOptions, log: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.log = log
    }

    /// Runs training and writes `output/{adapter_config.json, adapter_model.safetensors,
    /// label_map.json, results.json}`. Returns the tagger holding the best weights.
    @discardableResult
    public func run(modelFolder: String, train: CoNLLFile, dev: CoNLLFile, test: CoNLLFile?, output: URL) throws -> (tagger: NERTagger, results: NERRunResults) {
        let o = options
        try o.validate()
        // Rank 0 alone logs (the others report only errors, by throwing).
        let log = world.isLeader ? self.log : { _ in }
        let labels = NERLabels(inferredFrom: train)
        guard !labels.entityTypes.isEmpty else {
            throw CoNLLError.malformed(path: train.path, line: train.sentences.first?.lines.first ?? 1, problem: "the training file has no entity tags (only O); nothing to learn")
        }
        try labels.validate(dev, trainingPath: train.path)
        if let test { try labels.validate(test, trainingPath: train.path) }

        let tagger = try NERTagger(modelFolder: modelFolder, labels: labels, options: o)
        tagger.batchSize = o.evalBatchSize
        let model = tagger.model
        let params = tagger.peft.trainableParameters()
        let counts = model.parameterCounts()
        log("ner-tune: \(o.method.rawValue) on \(modelFolder): \(counts.trainable) of \(counts.total) parameters train (\(String(format: "%.2f", 100 * Double(counts.trainable) / Double(max(counts.total, 1))))%); labels \(labels.labels.joined(separator: " "))")

        let trainIDs = try train.sentences.map { s -> [Int] in
            guard let ids = labels.ids(of: s.tags) else { throw NERTaskError.noTrainingTokens(path: train.path) }
            return ids
        }
        let windows = NERFeatures.windows(train.sentences.map(\.tokens), labels: trainIDs, tokenizer: tagger.tokenizer,
                                          maxLength: o.maxLength, overlap: o.windowOverlap)
        guard windows.contains(where: { $0.labels.contains { $0 != LabelAlignment.ignoreIndex } }) else {
            throw NERTaskError.noTrainingTokens(path: train.path)
        }
        let stepsPerEpoch = (windows.count + o.batchSize - 1) / o.batchSize
        let totalSteps = stepsPerEpoch * o.epochs
        let schedule = LRSchedule.linear(warmup: Int((Double(totalSteps) * o.warmupRatio).rounded()), total: totalSteps)
        let optimizer = AdamW(learningRate: o.effectiveLearningRate, weightDecay: o.weightDecay, decayRule: .excludeBiasAndNorm)
        let session = try TrainingSession(command: "ner-tune train", model: model, parameters: params, optimizer: optimizer,
                                          config: Self.checkpointConfig(o, labels: labels, train: train, dev: dev),
                                          folder: output, every: checkpointEvery, world: world)
        if world.size > 1 {
            log("ner-tune: data parallel, \(world.summary); batch \(o.batchSize) split over the ranks, \(session.reducer.bytesPerStep(extras: 2)) bytes all-reduced per step")
        }
        log("ner-tune: \(train.sentences.count) training sentences → \(windows.count) windows (max length \(o.maxLength)), \(stepsPerEpoch) steps/epoch × \(o.epochs) epochs, lr \(o.effectiveLearningRate), batch \(o.batchSize), seed \(o.seed)")

        var history: [NERRunResults.Epoch] = []
        var best: (f1: Double, epoch: Int, evaluation: NEREvaluation, weights: [[Float]])?
        var sinceBest = 0, step = 0, stoppedEarly = false
        var trainedTokens = 0, trainSeconds = 0.0
        let started = Date()
        var start = TrainingPosition()
        var allReduceSeconds = 0.0
        var resumed: NERResumeState?
        if let resumeFrom {
            let ckpt = try session.resume(from: resumeFrom, within: TrainingExtent(epochs: o.epochs, batchesPerEpoch: stepsPerEpoch, steps: totalSteps))
            let state = try NERResumeState.decode(ckpt.progress, file: TrainingCheckpoint.file(in: resumeFrom).path)
            start = ckpt.position
            (history, sinceBest, step, stoppedEarly) = (state.history, state.sinceBest, ckpt.position.step, state.stoppedEarly)
            (trainedTokens, trainSeconds) = (state.trainedTokens, state.trainSeconds)
            if let epoch = state.bestEpoch, let f1 = state.bestF1, let weights = Self.bestWeights(params, from: ckpt) {
                // The best epoch's dev evaluation, recomputed from its saved weights (deterministic) for results.json.
                let current = params.map { $0.1.storage }
                for ((_, p), w) in zip(params, weights) { p.storage = w }
                let (devEval, _) = try tagger.evaluate(dev, labelSource: train.path)
                for ((_, p), w) in zip(params, current) { p.storage = w }
                best = (f1, epoch, devEval, weights)
            }
            resumed = state
            log("ner-tune: resumed from \(TrainingCheckpoint.file(in: resumeFrom).path) at step \(step) (epoch \(start.epoch), batch \(start.batchInEpoch))"
                + (start.finished ? "; training had finished" : ""))
        }
        /// The progress record of a checkpoint written now.
        func progress(_ lossSum: Double, _ lossCount: Int, _ windowTokens: Int) throws -> String {
            try NERResumeState(history: history, bestEpoch: best?.epoch, bestF1: best?.f1, sinceBest: sinceBest, stoppedEarly: stoppedEarly,
                               lossSum: lossSum, lossCount: lossCount, windowTokens: windowTokens,
                               trainedTokens: trainedTokens, trainSeconds: trainSeconds).json()
        }
        for epoch in 1...o.epochs where epoch >= start.epoch && !start.finished && !stoppedEarly {
            var rng = SplitMix64(seed: o.seed).fork(UInt64(epoch))
            let batches = NERFeatures.trainingBatches(windows, batchSize: o.batchSize, rng: &rng)
            model.train()
            var lossSum = 0.0, lossCount = 0, windowTokens = 0
            if epoch == start.epoch, let r = resumed { (lossSum, lossCount, windowTokens) = (r.lossSum, r.lossCount, r.windowTokens) }
            let epochStart = Date()
            for (b, global) in batches.enumerated() where !start.alreadyTrained(epoch: epoch, batch: b) {
                let indices = session.shard(global)
                optimizer.learningRate = schedule.learningRate(at: step, base: o.effectiveLearningRate)
                var value = 0.0, tokens = 0
                var input: BertInput?, targets: [Int] = [], batchTokens = 0
                if !indices.isEmpty {
                    let batch = try NERFeatures.batch(windows, indices, tokenizer: tagger.tokenizer)
                    (input, targets, batchTokens) = (batch.input, batch.labels, batch.tokens)
                }
                let labelled = targets.reduce(0) { $0 + ($1 == LabelAlignment.ignoreIndex ? 0 : 1) }
                // With several ranks a slice without labelled tokens sits the step out (weight 0).
                if let input, world.size == 1 || labelled > 0 {
                    let loss = try model.loss(logits: try model.logits(input), labels: targets)
                    value = Double(loss.item)
                    guard value.isFinite else {
                        throw NERTaskError.badOption("training diverged (loss \(value) at epoch \(epoch), step \(b + 1)); lower --lr (now \(o.effectiveLearningRate))")
                    }
                    loss.backward()
                    tokens = batchTokens
                }
                if world.size > 1 {
                    let reduceStart = Date()
                    defer { allReduceSeconds += Date().timeIntervalSince(reduceStart) }
                    // Weighted by labelled tokens: the mean loss of the whole global batch, as in one process.
                    let (total, sums) = try session.averageGradients(localWeight: Double(labelled), extras: [Float(value) * Float(labelled), Float(tokens)])
                    value = Double(sums[0]) / total
                    tokens = Int(sums[1])
                }
                _ = clipGradNorm(params, maxNorm: o.maxGradNorm)
                optimizer.step(params)
                optimizer.zeroGrad(params)
                step += 1
                lossSum += value; lossCount += 1
                windowTokens += tokens
                try session.checkpointIfDue(TrainingPosition(step: step, epoch: epoch, batchInEpoch: b + 1),
                                            progress: try progress(lossSum, lossCount, windowTokens),
                                            extraTensors: Self.bestTensors(params, best?.weights))
                if (b + 1) % max(o.logEvery, 1) == 0 || b + 1 == batches.count {
                    let elapsed = Date().timeIntervalSince(epochStart)
                    let perStep = (trainSeconds + elapsed) / Double(max(step - start.step, 1))
                    log(String(format: "epoch %d/%d step %d/%d loss %.4f lr %.2e %.0f tok/s", epoch, o.epochs, b + 1, batches.count,
                               lossSum / Double(lossCount), optimizer.learningRate, Double(windowTokens) / max(elapsed, 1e-9))
                        + " ETA " + Self.duration(perStep * Double(totalSteps - step)))
                }
            }
            let epochSeconds = Date().timeIntervalSince(epochStart)
            if world.size > 1 {
                log(String(format: "ner-tune: time in all-reduce (including waits for the other ranks) %.3f s over %d steps, %.2f ms per step", allReduceSeconds, step - start.step,
                           1000 * allReduceSeconds / Double(max(step - start.step, 1))))
            }
            trainSeconds += epochSeconds
            trainedTokens += windowTokens

            let evalStart = Date()
            let (devEval, _) = try tagger.evaluate(dev, labelSource: train.path)
            let improved = best.map { devEval.f1 > $0.f1 } ?? true
            history.append(.init(epoch: epoch, trainLoss: lossSum / Double(max(lossCount, 1)), devF1: devEval.f1, devStrictF1: devEval.strict.micro.f1,
                                 trainSeconds: epochSeconds, tokensPerSecond: Double(windowTokens) / max(epochSeconds, 1e-9)))
            log("epoch \(epoch)/\(o.epochs) dev " + devEval.summary + String(format: " (%.1fs)", Date().timeIntervalSince(evalStart))
                + (improved ? ", best so far: saved" : ""))
            if improved {
                best = (devEval.f1, epoch, devEval, params.map { $0.1.storage })
                if world.isLeader { try tagger.save(to: output) }
                sinceBest = 0
            } else {
                sinceBest += 1
                if o.patience > 0 && sinceBest >= o.patience && epoch < o.epochs {
                    log("ner-tune: dev F1 did not improve for \(sinceBest) epoch(s); stopping early (--patience \(o.patience))")
                    stoppedEarly = true
                    break
                }
            }
        }
        // The final checkpoint: resuming from it only re-runs the test evaluation.
        try session.checkpoint(TrainingPosition(step: step, epoch: o.epochs + 1, finished: true), progress: try progress(0, 0, 0),
                               extraTensors: Self.bestTensors(params, best?.weights))
        guard let best else { throw NERTaskError.badOption("no epoch ran") }
        // Back to the best weights (the saved checkpoint) for the test score and the caller.
        for ((_, p), w) in zip(params, best.weights) { p.storage = w }
        var testEval: NEREvaluation?
        if let test {
            let e = try tagger.evaluate(test, labelSource: train.path).evaluation
            log("ner-tune: test " + e.summary)
            testEval = e
        }
        let results = NERRunResults(
            model: modelFolder, method: o.method.rawValue, labels: labels.labels, options: .init(o),
            trainableParameters: counts.trainable, totalParameters: counts.total,
            trainFile: train.path, devFile: dev.path, testFile: test?.path,
            epochs: history, bestEpoch: best.epoch, stoppedEarly: stoppedEarly,
            dev: best.evaluation.json, test: testEval?.json,
            trainSeconds: trainSeconds, wallSeconds: Date().timeIntervalSince(started),
            trainTokensPerSecond: Double(trainedTokens) / max(trainSeconds, 1e-9))
        if world.isLeader { try AtomicFile.write(try NERJSON.encode(results), to: output.appendingPathComponent("results.json")) }
        DistributedWorld.markCompleted()
        return (tagger, results)
    }

    /// `1h02m`, `3m05s`, `42s`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(max(s, 0))s"
    }
}

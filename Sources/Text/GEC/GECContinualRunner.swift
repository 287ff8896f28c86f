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
        let started = Date()
        let trains = domains.map { limited($0.train, o.maxTrain) }
        let tests = domains.map { limited($0.test, o.maxTest) }
        let devs = domains.map { limited($0.dev, o.maxDev) }
        let vocab = GECTagVocabulary.build(pairs: trains.flatMap(Self.pairs), maxTags: o.maxTags, transforms: o.transforms, minCount: o.minTagCount)
        let firstAdapter = o.method == .olora ? "task0" : "default"
        let tagger = try GECTagger(modelFolder: modelFolder, vocabulary: vocab, options: o.resolvedModel, encoderAdapter: firstAdapter)
        self.tagger = tagger
        let items = trains.map { Self.pairs($0).compactMap { tagger.trainingItem(source: $0.source, target: $0.target) } }
        for (d, it) in zip(domains, items) where it.isEmpty {
            throw GECError.unusable("domain '\(d.name)' has no training sentence the tokenizer can read")
        }
        let counts = tagger.model.parameterCounts()
        log("gec-cl: \(o.method.rawValue) on \(modelFolder): \(vocab.count) tags; \(tagger.trainableParameters().reduce(0) { $0 + $1.1.count }) of \(counts.total) parameters train; order \(domains.map(\.name).joined(separator: " → "))")

        var correction = o.correction
        var lastMaxMatch: [MaxMatchCounts] = [], lastTypes: [GECErrorTypes.Report] = []
        func evaluateAll(_ label: String, maxMatch: Bool = false) throws -> [EditCounts] {
            let t0 = Date()
            let evals = try tests.map { try tagger.evaluate($0, options: correction, maxMatch: maxMatch) }
            let row = evals.map(\.score.counts)
            lastMaxMatch = evals.compactMap { $0.maxMatch?.counts }
            lastTypes = evals.map(\.types)
            log("gec-cl: \(label): F0.5 " + zip(domains, row).map { "\($0.name) \(String(format: "%.3f", $1.f05))" }.joined(separator: ", ")
                + String(format: " (%.1fs)", Date().timeIntervalSince(t0)))
            return row
        }
        let baseline = try evaluateAll("untrained")
        var kept: [Int] = [], devScores: [Double?] = []
        var rows: [[EditCounts]] = []
        var state = MethodState(options: o)
        var trainSeconds = 0.0
        var trainable = 0
        for (t, domain) in domains.enumerated() {
            if o.method == .olora, t > 0 { try tagger.addEncoderAdapter("task\(t)") }
            let params = tagger.trainableParameters()
            trainable = max(trainable, params.reduce(0) { $0 + $1.1.count })
            let t0 = Date()
            let choice = try trainDomain(t, domain.name, items[t], dev: devs[t], tagger: tagger, params: params, state: &state)
            kept.append(choice.epoch); devScores.append(choice.devF05)
            try state.finishDomain(t, items[t], tagger: tagger, params: params)
            if o.tuneCorrection, !devs[t].isEmpty {
                let tuned = try tagger.tuneCorrection(on: devs[t], base: o.correction)
                correction = tuned.options
                log(String(format: "  %@: keep bias %.2f, min confidence %.2f (dev F0.5 %.4f)", domain.name, correction.keepBias, correction.minConfidence, tuned.f05))
            }
            trainSeconds += Date().timeIntervalSince(t0)
            rows.append(try evaluateAll("after \(domain.name) (\(t + 1)/\(domains.count))", maxMatch: t == domains.count - 1))
        }
        tagger.model.eval()
        let matrix = rows.map { $0.map(\.f05) }
        let metrics = try ContinualMetrics(matrix: matrix, baseline: baseline.map(\.f05))
        let result = GECContinualResult(
            method: o.method.rawValue, domains: domains.map(\.name), matrix: matrix, baseline: baseline.map(\.f05),
            averagePerformance: metrics.averagePerformance, backwardTransfer: metrics.backwardTransfer, forwardTransfer: metrics.forwardTransfer,
            final: zip(domains, rows.last ?? []).enumerated().map { i, p in
                .init(domain: p.0.name, counts: p.1, maxMatch: i < lastMaxMatch.count ? lastMaxMatch[i] : nil,
                      types: i < lastTypes.count ? lastTypes[i] : nil)
            },
            trainableParameters: trainable, totalParameters: counts.total, tags: vocab.count,
            trainSeconds: trainSeconds, wallSeconds: Date().timeIntervalSince(started), seed: o.seed,
            gemProjections: state.projections, keptEpochs: kept, devF05: devScores)
        log("gec-cl: " + result.summary)
        return result
    }

    /// Masks each `$KEEP` label with probability 1 − share. The start slot and edits stay, and so
    /// do the keeps of the words right before and after an edit: without them the tagger never
    /// learns which of two neighbours to edit and rewrites both (it deleted both copies of a
    /// doubled word).
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

    /// One domain's epochs; with dev selection the weights of the best dev epoch are restored at
    /// the end. Returns the kept epoch and its dev F0.5 (nil without dev selection).
    func trainDomain(_ t: Int, _ name: String, _ items: [GECTrainingItem], dev: [GECExample], tagger: GECTagger,
                     params: [(String, Tensor)], state: inout MethodState) throws -> (epoch: Int, devF05: Double?) {
        let o = options
        let selecting = o.selectOnDev && !dev.isEmpty
        var bestF = -1.0, bestEpoch = o.epochs
        var bestWeights: [[Float]] = []
        let steps = ((items.count + o.batchSize - 1) / o.batchSize) * o.epochs
        let schedule = LRSchedule.linear(warmup: Int((Double(steps) * o.warmupRatio).rounded()), total: steps)
        let isHead = { (n: String) in n.hasPrefix("classifier.") }
        let optimizer = OptimizerGroups([
            .init(AdamW(learningRate: o.effectiveLearningRate, weightDecay: o.weightDecay, decayRule: .excludeBiasAndNorm)) { !isHead($0) },
            .init(AdamW(learningRate: o.effectiveLearningRate * o.headLearningRateScale, weightDecay: o.weightDecay, decayRule: .excludeBiasAndNorm),
                  scale: o.headLearningRateScale, owns: isHead),
        ])
        var step = 0
        for epoch in 1...o.epochs {
            var rng = SplitMix64(seed: o.seed).fork(UInt64(1000 * t + epoch))
            var order = Array(items.indices)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var lossSum = 0.0, n = 0
            for start in stride(from: 0, to: order.count, by: o.batchSize) {
                tagger.model.train()
                var batch = order[start..<min(start + o.batchSize, order.count)].map { items[$0] }
                if o.method == .replay { batch += state.replay.sample(o.replayPerBatch) }
                if o.keepLabelShare < 1 { batch = Self.maskKeep(batch, share: o.keepLabelShare, rng: &rng) }
                var loss = try tagger.loss(batch)
                if o.method == .olora, t > 0, o.oloraLambda > 0,
                   let orth = OrthogonalLoRA.loss(peft: tagger.peft, current: "task\(t)", previous: (0..<t).map { "task\($0)" }) {
                    loss = loss + orth * o.oloraLambda
                }
                let value = Double(loss.item)
                guard value.isFinite else { throw GECError.badOption("training diverged on domain '\(name)' (loss \(value)); lower --lr") }
                loss.backward()
                try state.adjustGradients(tagger: tagger, params: params)
                _ = clipGradNorm(params, maxNorm: o.maxGradNorm)
                optimizer.learningRate = schedule.learningRate(at: step, base: o.effectiveLearningRate)
                optimizer.step(params)
                optimizer.zeroGrad(params)
                step += 1
                lossSum += value; n += 1
                if step % max(o.logEvery, 1) == 0 || step == steps {
                    log(String(format: "  %@ epoch %d/%d step %d/%d loss %.4f", name, epoch, o.epochs, step, steps, lossSum / Double(n)))
                }
            }
            guard selecting else { continue }
            let f = try tagger.evaluate(dev, options: o.correction).score.counts.f05
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

/// What each method keeps between domains and how it changes a gradient.
struct MethodState {
    let options: GECContinualOptions
    var replay: ReservoirBuffer<GECTrainingItem>
    let ewc: EWCPenalty
    var memories: [[GECTrainingItem]] = []
    let basis: OrthogonalBasis
    var projections = 0
    var rng: SplitMix64

    init(options: GECContinualOptions) {
        self.options = options
        replay = ReservoirBuffer(capacity: options.replayCapacity, seed: options.seed &+ 11)
        ewc = EWCPenalty(lambda: options.ewcLambda)
        basis = OrthogonalBasis(maxSize: options.ogdMaxBasis)
        rng = SplitMix64(seed: options.seed &+ 29)
    }

    /// Called after `backward()` on the current batch.
    mutating func adjustGradients(tagger: GECTagger, params: [(String, Tensor)]) throws {
        switch options.method {
        case .ewc:
            if ewc.isActive { ewc.addGradient(params) }
        case .gem where !memories.isEmpty:
            let g = ParameterVector.gradients(params)
            var memGrads: [[Float]] = []
            for m in memories { memGrads.append(try Self.gradient(of: m, tagger: tagger, params: params)) }
            let r = GradientEpisodicMemory.project(g, memories: memGrads, margin: options.gemMargin)
            if r.projected { projections += 1 }
            ParameterVector.setGradients(params, r.gradient)
        case .agem where !memories.isEmpty:
            let g = ParameterVector.gradients(params)
            let pool = memories.flatMap { $0 }
            let sample = (0..<min(options.memoryPerDomain, pool.count)).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }
            let ref = try Self.gradient(of: sample, tagger: tagger, params: params)
            let r = GradientEpisodicMemory.projectAveraged(g, reference: ref)
            if r.projected { projections += 1 }
            ParameterVector.setGradients(params, r.gradient)
        case .ogd where !basis.vectors.isEmpty:
            ParameterVector.setGradients(params, basis.project(ParameterVector.gradients(params)))
        default:
            break
        }
    }

    /// The loss gradient of `items` as a flat vector (gradients cleared before and after).
    static func gradient(of items: [GECTrainingItem], tagger: GECTagger, params: [(String, Tensor)]) throws -> [Float] {
        for (_, p) in params { p.zeroGrad() }
        try tagger.loss(items).backward()
        let g = ParameterVector.gradients(params)
        for (_, p) in params { p.zeroGrad() }
        return g
    }

    /// Called when a domain's training ends.
    mutating func finishDomain(_ t: Int, _ items: [GECTrainingItem], tagger: GECTagger, params: [(String, Tensor)]) throws {
        var r = SplitMix64(seed: options.seed).fork(UInt64(500 + t))
        var order = Array(items.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(r.next() % UInt64(i + 1))) }
        let wasTraining = tagger.model.isTraining
        tagger.model.eval()
        defer { tagger.model.train(wasTraining) }
        switch options.method {
        case .replay:
            for i in order { replay.offer(items[i]) }
        case .ewc:
            // Empirical Fisher from single-example gradients, dropout off.
            for i in order.prefix(options.fisherSamples) {
                for (_, p) in params { p.zeroGrad() }
                try tagger.loss([items[i]]).backward()
                ewc.accumulate(params)
            }
            for (_, p) in params { p.zeroGrad() }
            ewc.consolidate(params)
        case .gem, .agem:
            memories.append(order.prefix(options.memoryPerDomain).map { items[$0] })
        case .ogd:
            for i in order.prefix(options.ogdSamplesPerDomain) {
                basis.add(try Self.gradient(of: [items[i]], tagger: tagger, params: params))
            }
        default:
            break
        }
    }
}

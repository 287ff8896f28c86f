import Core
import Foundation

/// Settings of one domain-adaptive pre-training run (`ner-tune dapt`). Defaults follow OpenMed
/// NER's DAPT (methods.md §7): LoRA r 16, alpha 32, dropout 0.05 on the attention layers, MLM
/// with 15% of tokens picked.
public struct DAPTOptions: Sendable, Equatable {
    public var rank = 16
    public var alpha: Float = 32
    public var dropout: Float = 0.05
    public var targets = ["query", "key", "value", "attention.output.dense"]
    /// Model positions per packed sequence, `[CLS]`/`[SEP]` included.
    public var maxLength = 128
    public var batchSize = 16
    public var epochs = 1
    /// Stop after this many optimizer steps (nil: all epochs). The demo's fixed budget.
    public var maxSteps: Int?
    /// Steps that fit the MLM head alone (encoder frozen) before "perplexity before" is measured
    /// and LoRA training starts; for checkpoints whose head is new (0: none).
    public var headWarmupSteps = 0
    public var learningRate = 5e-4
    public var warmupRatio = 0.06
    public var weightDecay = 0.01
    public var maxGradNorm: Float = 1
    public var mlmProbability = 0.15
    public var wholeWordMask = false
    /// Share of the lines held out for perplexity (at least one line, at most `maxHeldOutLines`).
    public var heldOutFraction = 0.05
    public var maxHeldOutLines = 500
    public var seed: UInt64 = 42
    public var logEvery = 20

    public init() {}

    /// Throws a one-line message for a value out of range.
    public func validate() throws {
        func bad(_ s: String) -> DAPTError { DAPTError(s) }
        if rank < 1 { throw bad("--r must be at least 1 (got \(rank))") }
        if !(alpha > 0) { throw bad("--alpha must be positive (got \(alpha))") }
        if !(dropout >= 0 && dropout < 1) { throw bad("--dropout must be in [0, 1) (got \(dropout))") }
        if targets.isEmpty { throw bad("--target needs at least one module name (e.g. query,key,value,attention.output.dense)") }
        if maxLength < 8 { throw bad("--max-len must be at least 8 (got \(maxLength))") }
        if batchSize < 1 || batchSize > 4096 { throw bad("--batch must be in 1…4096 (got \(batchSize))") }
        if epochs < 1 { throw bad("--epochs must be at least 1 (got \(epochs))") }
        if let s = maxSteps, s < 1 { throw bad("--max-steps must be at least 1 (got \(s))") }
        if headWarmupSteps < 0 { throw bad("--head-warmup must not be negative (got \(headWarmupSteps))") }
        if !(learningRate > 0 && learningRate < 1) { throw bad("--lr must be in (0, 1) (got \(learningRate))") }
        if !(0..<1).contains(warmupRatio) { throw bad("--warmup must be in [0, 1) (got \(warmupRatio))") }
        if !(weightDecay >= 0 && weightDecay < 1) { throw bad("--weight-decay must be in [0, 1) (got \(weightDecay))") }
        if !(mlmProbability > 0 && mlmProbability < 1) { throw bad("--mlm-probability must be in (0, 1) (got \(mlmProbability))") }
        if !(heldOutFraction > 0 && heldOutFraction < 1) { throw bad("--held-out must be in (0, 1) (got \(heldOutFraction))") }
    }
}

/// What a DAPT run measured.
public struct DAPTResult: Sendable {
    public var trainSequences: Int
    public var heldOutSequences: Int
    public var trainTokens: Int
    /// Lines longer than one sequence, split across sequences (never truncated).
    public var splitLines: Int
    public var steps: Int
    public var perplexityBefore: Double
    public var perplexityAfter: Double
    public var heldOutPositions: Int
    public var merge: MergeCheck
    public var trainSeconds: Double
    public var tokensPerSecond: Double
    public var trainableParameters: Int

    /// `(before − after) / before`.
    public var perplexityReduction: Double { (perplexityBefore - perplexityAfter) / perplexityBefore }
}

/// Domain-adaptive pre-training with LoRA (OpenMed NER's middle step): masked-LM training of
/// LoRA on the attention layers plus the MLM head's transform, perplexity on a fixed held-out
/// split before and after, a verified merge of the LoRA into the encoder, and the merged
/// encoder written as a plain Hugging Face BERT folder (`BertFolderExport`).
///
/// ```swift
/// let r = try DAPTTrainer(options: o, log: { print($0) }).run(modelFolder: dir, lines: text, output: out)
/// print(r.perplexityBefore, r.perplexityAfter)
/// ```
public final class DAPTTrainer {
    public let options: DAPTOptions
    public let log: (String) -> Void
    /// A training checkpoint of the LoRA phase is written into the output folder every this
    /// many steps and at the end (0: only at the end). The head warm-up is not checkpointed: a
    /// resumed run repeats it (it is deterministic) and then loads the checkpoint.
    public var checkpointEvery = 200
    /// A folder (or checkpoint file) to continue from; its config must match.
    public var resumeFrom: URL?
    /// The ranks training together; `--batch` stays the global batch.
    public var world: any Distributed = SingleProcess()

    public init(options: DAPTOptions, log: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.log = log
    }

    /// Runs DAPT on `lines` and writes the merged model folder to `output`.
    @discardableResult
    public func run(modelFolder: String, lines: [String], output: URL) throws -> DAPTResult {
        let o = options
        try o.validate()
        // Rank 0 alone logs.
        let log = world.isLeader ? self.log : { _ in }
        let (model, tokenizer, checkpoint) = try BertForMaskedLM.load(folder: modelFolder, seed: o.seed)
        guard o.maxLength <= model.bert.config.maxPositionEmbeddings else {
            throw DAPTError("--max-len \(o.maxLength) is more than the model's \(model.bert.config.maxPositionEmbeddings) positions; use at most that")
        }
        let split = try DAPTSplit(lines: lines, fraction: o.heldOutFraction, maxLines: o.maxHeldOutLines, seed: o.seed)
        let train = try PackedSequences(lines: split.train, tokenizer: tokenizer, maxLength: o.maxLength)
        let held = try PackedSequences(lines: split.heldOut, tokenizer: tokenizer, maxLength: o.maxLength)
        guard !train.sequences.isEmpty, !held.sequences.isEmpty else {
            throw DAPTError("the text gives no token the model's vocabulary can read; check the files' encoding and language")
        }
        let splitLines = train.splitLines + held.splitLines
        if splitLines > 0 {
            log("dapt: \(splitLines) line(s) are longer than \(o.maxLength - 2) tokens and were split across sequences (not truncated)")
        }
        var masking = try MLMMasking(tokenizer: tokenizer, seed: o.seed, vocabularySize: model.bert.config.vocabSize)
        masking.probability = o.mlmProbability
        masking.wholeWord = o.wholeWordMask
        // Held-out masks come from their own fixed stream family, independent of training.
        var fixed = masking
        fixed.seed = SplitMix64(seed: o.seed).fork(0x4845_4C44).state
        let perplexity = MLMPerplexity(sequences: held.sequences, masking: fixed)

        if o.headWarmupSteps > 0 {
            // A checkpoint without an MLM head (all-MiniLM-L6-v2) starts from a random head whose
            // gradients carry no signal about the text; fit the head alone first, so that the
            // encoder's LoRA starts from useful gradients and "before" measures the original
            // encoder with a fitted head rather than a random one.
            let head = model.cls.predictions.transform.namedParameters(prefix: "cls.predictions.transform")
            let n = o.headWarmupSteps
            log("dapt: fitting the MLM head alone for \(n) steps (encoder frozen)")
            let headSession = try TrainingSession(command: "ner-tune dapt head", model: model, parameters: head, optimizer: SGD(learningRate: 0),
                                                  config: [:], folder: nil, every: 0, world: world)
            _ = try trainLoop(model, params: head, sequences: train.sequences, masking: masking, steps: n,
                              schedule: .linear(warmup: Int((Double(n) * o.warmupRatio).rounded()), total: n), salt: 1 << 20, label: "dapt head",
                              session: headSession, log: log)
        }
        let before = try perplexity.evaluate(model)
        log(String(format: "dapt: held-out perplexity before %.3f (%d masked positions in %d sequences)", before.perplexity,
                   before.positions, held.sequences.count))

        let peft = PeftModel(model)
        var config = AdapterConfig.lora(r: o.rank, alpha: o.alpha, targets: o.targets, dropout: o.dropout)
        config.modulesToSave = ["transform"]
        config.seed = o.seed
        config.baseModelNameOrPath = modelFolder
        let report = try peft.addAdapter(config)
        let params = peft.trainableParameters()
        let trainable = params.reduce(0) { $0 + $1.1.count }
        log("dapt: \(report)")

        let perEpoch = (train.sequences.count + o.batchSize - 1) / o.batchSize
        let totalSteps = min(o.maxSteps ?? Int.max, perEpoch * o.epochs)
        let schedule = LRSchedule.linear(warmup: Int((Double(totalSteps) * o.warmupRatio).rounded()), total: totalSteps)
        log("dapt: \(split.train.count) training lines → \(train.sequences.count) sequences of ≤ \(o.maxLength) (\(train.tokenCount) tokens); \(totalSteps) steps, batch \(o.batchSize), lr \(o.learningRate), seed \(o.seed)")

        let optimizer = AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay, decayRule: .excludeBiasAndNorm)
        let session = try TrainingSession(command: "ner-tune dapt", model: model, parameters: params, optimizer: optimizer,
                                          config: Self.checkpointConfig(o, lines: lines), folder: output, every: checkpointEvery, world: world)
        var resumeStep = 0
        if let resumeFrom {
            resumeStep = try session.resume(from: resumeFrom, within: TrainingExtent(steps: totalSteps)).position.step
            log("dapt: resumed from \(TrainingCheckpoint.file(in: resumeFrom).path) at step \(resumeStep)")
        }
        let started = Date()
        let (step, tokens) = try trainLoop(model, params: params, sequences: train.sequences, masking: masking, steps: totalSteps,
                                           schedule: schedule, salt: 0, label: "dapt", session: session, optimizer: optimizer,
                                           startStep: resumeStep, log: log)
        try session.checkpoint(TrainingPosition(step: step, finished: true))
        let trainSeconds = Date().timeIntervalSince(started)
        model.eval()
        let after = try perplexity.evaluate(model)
        log(String(format: "dapt: held-out perplexity after %.3f (before %.3f, %.1f%% lower)", after.perplexity, before.perplexity,
                   100 * (before.perplexity - after.perplexity) / before.perplexity))

        // Merge, checking on a held-out batch that the merged encoder computes what the
        // adapted one did.
        let probeBatch = try fixed.batch(Array(held.sequences.prefix(8)), streams: (0..<UInt64(min(8, held.sequences.count))).map { $0 })
        let check = try peft.verifiedMerge { (try? model.bert(probeBatch.input).lastHiddenState) ?? Tensor.zeros([1]) }
        log("dapt: \(check)")
        guard check.withinGoal else {
            throw DAPTError("the merged encoder deviates from the adapted one by \(check.relativeDeviation) (relative) on a held-out batch; nothing was exported")
        }
        try peft.mergeAndUnload()
        if world.isLeader { try BertFolderExport.write(model.bert, source: checkpoint, tokenizer: tokenizer, to: output) }
        DistributedWorld.markCompleted()
        log("dapt: wrote the merged encoder to \(output.path) (config.json, model.safetensors, vocab.txt)")
        return DAPTResult(
            trainSequences: train.sequences.count, heldOutSequences: held.sequences.count, trainTokens: train.tokenCount,
            splitLines: splitLines, steps: step, perplexityBefore: before.perplexity, perplexityAfter: after.perplexity,
            heldOutPositions: after.positions, merge: check, trainSeconds: trainSeconds,
            tokensPerSecond: Double(tokens) / max(trainSeconds, 1e-9), trainableParameters: trainable)
    }

    /// `steps` optimizer steps of masked-LM training on `params` (AdamW, linear `schedule`,
    /// gradient clipping), cycling through `sequences` in seeded shuffled epochs. Masks are
    /// dynamic (fresh per epoch) and reproducible: stream = salt + epoch·2³² + sequence index.
    func trainLoop(_ model: BertForMaskedLM, params: [(String, Tensor)], sequences: [[Int]], masking: MLMMasking, steps totalSteps: Int,
                   schedule: LRSchedule, salt: UInt64, label: String, session: TrainingSession,
                   optimizer given: AdamW? = nil, startStep: Int = 0, log: (String) -> Void) throws -> (steps: Int, tokens: Int) {
        let o = options
        let optimizer = given ?? AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay, decayRule: .excludeBiasAndNorm)
        let world = session.world
        model.train()
        defer { model.eval() }
        var step = 0, tokens = 0, lossSum = 0.0, lossCount = 0, epoch: UInt64 = 0
        let started = Date()
        while step < totalSteps {
            var order = Array(sequences.indices)
            var rng = SplitMix64(seed: o.seed).fork(salt + epoch + 1)
            WordNetNERBuilder.shuffle(&order, &rng)
            for b in stride(from: 0, to: order.count, by: o.batchSize) where step < totalSteps {
                // Steps a resumed run already did: same order and stream numbers, no work.
                if step < startStep { step += 1; continue }
                // Each rank masks its slice with the per-sequence streams, so the masks are the
                // single-process ones whatever the number of ranks.
                let idx = session.shard(Array(order[b..<min(b + o.batchSize, order.count)]))
                let streams = idx.map { salt + (epoch << 32 | UInt64($0)) }
                let batch: MaskedBatch? = try idx.isEmpty ? nil : masking.batch(idx.map { sequences[$0] }, streams: streams)
                optimizer.learningRate = schedule.learningRate(at: step, base: o.learningRate)
                step += 1
                let picked = batch?.positions.count ?? 0
                var value = 0.0, batchTokens = batch?.input.attentionMask.reduce(0, +) ?? 0
                if world.size == 1 {
                    guard picked > 0 else { continue }
                } else {
                    // Every rank must take part in the all-reduce, also without masked positions.
                    if let batch, picked > 0 { value = try Self.backward(model, batch, step: step, lr: o.learningRate) }
                    let (total, sums) = try session.averageGradients(localWeight: Double(picked), extras: [Float(value) * Float(picked), Float(batchTokens)])
                    value = Double(sums[0]) / total
                    batchTokens = Int(sums[1])
                }
                if world.size == 1, let batch { value = try Self.backward(model, batch, step: step, lr: o.learningRate) }
                _ = clipGradNorm(params, maxNorm: o.maxGradNorm)
                optimizer.step(params)
                optimizer.zeroGrad(params)
                tokens += batchTokens
                lossSum += value; lossCount += 1
                try session.checkpointIfDue(TrainingPosition(step: step))
                if step % max(o.logEvery, 1) == 0 || step == totalSteps {
                    let elapsed = Date().timeIntervalSince(started)
                    log(label + String(format: ": step %d/%d loss %.4f lr %.2e %.0f tok/s", step, totalSteps, lossSum / Double(max(lossCount, 1)),
                               optimizer.learningRate, Double(tokens) / max(elapsed, 1e-9)))
                    lossSum = 0; lossCount = 0
                }
            }
            epoch += 1
        }
        return (step, tokens)
    }

    /// Masked-LM loss of one batch, backward; returns the loss (one-line error when not finite).
    static func backward(_ model: BertForMaskedLM, _ batch: MaskedBatch, step: Int, lr: Double) throws -> Double {
        let loss = try model.loss(batch).loss
        let value = Double(loss.item)
        guard value.isFinite else {
            throw DAPTError("training diverged (loss \(value) at step \(step)); lower --lr (now \(lr))")
        }
        loss.backward()
        return value
    }

    /// The settings a resumed DAPT run must share with its checkpoint, plus a hash of the text.
    static func checkpointConfig(_ o: DAPTOptions, lines: [String]) -> [String: String] {
        ["r": "\(o.rank)", "alpha": "\(o.alpha)", "dropout": "\(o.dropout)", "target": o.targets.joined(separator: ","),
         "max-len": "\(o.maxLength)", "batch": "\(o.batchSize)", "epochs": "\(o.epochs)", "max-steps": o.maxSteps.map { "\($0)" } ?? "none",
         "head-warmup": "\(o.headWarmupSteps)", "lr": "\(o.learningRate)", "warmup": "\(o.warmupRatio)", "weight-decay": "\(o.weightDecay)",
         "max-grad-norm": "\(o.maxGradNorm)", "mlm-probability": "\(o.mlmProbability)", "whole-word": "\(o.wholeWordMask)",
         "held-out": "\(o.heldOutFraction)", "seed": "\(o.seed)", "text": ModelFingerprint.of(strings: lines)]
    }
}

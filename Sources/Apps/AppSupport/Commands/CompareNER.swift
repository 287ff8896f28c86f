import Core
import Foundation
import Text

/// `ner-tune compare`: every method trains the same token classifier (a fresh head plus the
/// method's adapter on the encoder) on the same CoNLL data for the same number of steps with
/// the same seeds, scored by entity F1 (seqeval default mode) on the dev file. Built from the
/// NER task's public pieces (tagger, windows, batches, evaluation); the loop is a plain
/// fixed-step AdamW loop with linear warmup/decay and clipping — no early stopping or
/// checkpointing, so every method gets exactly the same budget.
struct NERCompareTask: CompareTask {
    let modelFolder: String
    let train: CoNLLFile
    let dev: CoNLLFile
    let labels: NERLabels
    var options = NERTrainingOptions()
    var learningRate = 2e-3

    var metricName: String { "dev entity F1" }
    var defaultMethods: [String] { ["lora", "dora", "randlora", "lokr", "loldu", "paca", "dylora", "hydra"] }
    var targets: [String] { options.targets }

    static let usage = """
          compare        run several adapter methods with the same data, seeds and step budget and
                         write a table (trainable parameters, dev F1 mean ± std, time, memory) with
                         a computed recommendation
            --methods LIST (lora,dora,randlora,lokr,loldu,paca,dylora,hydra; any of \(Compare.knownMethods.joined(separator: ",")))
            --seeds LIST (1,2,3) --steps N (100) --r N (8) --budget N | Nmin (trainable parameters or minutes; fits each method's size)
            --train F --dev F --model DIR --lr X (2e-3) --batch B --max-length N --target LIST --out DIR (runs/compare)
        """

    /// A tagger with a trainable head (`default`) and the method's adapter (`compare`) active.
    func tagger(_ config: AdapterConfig, seed: UInt64) throws -> NERTagger {
        var o = options
        o.method = .head
        o.seed = seed
        let t = try NERTagger(modelFolder: modelFolder, labels: labels, options: o)
        if PeftMethod.zooNames.contains(where: { $0.method == config.method }) {
            try t.peft.addZooAdapter(config, name: "compare")
        } else {
            try t.peft.addAdapter(config, name: "compare")
        }
        try t.peft.setActiveAdapters(["default", "compare"])
        return t
    }

    func parameterCounts(_ config: AdapterConfig) throws -> (trainable: Int, total: Int) {
        try tagger(config, seed: 0).model.parameterCounts()
    }

    func run(_ config: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        let t = try tagger(config, seed: seed)
        let model = t.model
        let ids = try train.sentences.map { s -> [Int] in
            guard let i = labels.ids(of: s.tags) else { throw NERTaskError.noTrainingTokens(path: train.path) }
            return i
        }
        let windows = NERFeatures.windows(train.sentences.map(\.tokens), labels: ids, tokenizer: t.tokenizer,
                                          maxLength: options.maxLength, overlap: options.windowOverlap)
        let params = t.peft.trainableParameters()
        let optimizer = AdamW(learningRate: learningRate, weightDecay: options.weightDecay, decayRule: .excludeBiasAndNorm)
        let schedule = LRSchedule.linear(warmup: Int((Double(steps) * options.warmupRatio).rounded()), total: steps)
        var step = 0, epoch = 0
        let start = Date()
        model.train()
        while step < steps {
            epoch += 1
            var rng = SplitMix64(seed: seed).fork(UInt64(epoch))
            for indices in NERFeatures.trainingBatches(windows, batchSize: options.batchSize, rng: &rng) where step < steps {
                let (input, targets, _) = try NERFeatures.batch(windows, indices, tokenizer: t.tokenizer)
                optimizer.learningRate = schedule.learningRate(at: step, base: learningRate)
                let loss = try model.loss(logits: try model.logits(input), labels: targets)
                guard loss.item.isFinite else {
                    throw NERTaskError.badOption("\(config.method.rawValue) diverged at step \(step + 1) (loss \(loss.item)); lower --lr (now \(learningRate))")
                }
                loss.backward()
                _ = clipGradNorm(params, maxNorm: options.maxGradNorm)
                optimizer.step(params)
                optimizer.zeroGrad(params)
                step += 1
            }
        }
        let trainSeconds = Date().timeIntervalSince(start)
        model.eval()
        let mergeable = t.peft.adapters(named: "compare").allSatisfy { $0.adapter.isMergeable }
        if mergeable { try t.peft.merge(["compare"]) }
        let evalStart = Date()
        let evaluation = try t.evaluate(dev, labelSource: train.path).evaluation
        let evalSeconds = Date().timeIntervalSince(evalStart)
        return CompareRun(metric: evaluation.f1, trainSeconds: trainSeconds, mergedInferenceSeconds: mergeable ? evalSeconds : nil)
    }

    /// `ner-tune compare [options]`.
    static func command(_ args: [String]) throws -> Int32 {
        let extra: Set<String> = ["train", "dev", "model", "lr", "batch", "max-length", "target"]
        let p = try Arguments(args, options: CompareOptions.names.union(extra), flags: [])
        let reader = CoNLLReader()
        let train = try reader.read(path: p.string("train", default: "data/text/train.conll"))
        let dev = try reader.read(path: p.string("dev", default: "data/text/dev.conll"))
        let labels = NERLabels(inferredFrom: train)
        try labels.validate(dev, trainingPath: train.path)
        var task = NERCompareTask(modelFolder: try p.string("model") ?? DefaultModels.miniLM(), train: train, dev: dev, labels: labels)
        task.options.batchSize = try p.int("batch", default: task.options.batchSize)
        task.options.maxLength = try p.int("max-length", default: task.options.maxLength)
        task.options.targets = p.list("target", default: task.options.targets)
        task.learningRate = try NERTuneCommand.double(p, "lr", default: task.learningRate)
        try task.options.validate()
        return try Compare.command(args, task: task, app: "ner-tune", extraOptions: extra)
    }
}

import Core
import Foundation

/// Settings of the white-box upper bound.
public struct WhiteBoxLoRAOptions: Sendable, Equatable {
    public var rank = 8
    public var alpha: Float = 16
    /// Linear layers of each encoder block that get a LoRA pair (BERT names).
    public var targets = ["query", "value"]
    public var epochs = 10
    public var learningRate = 1e-3
    public var batchSize = 16
    /// Longest token sequence; longer texts are truncated.
    public var maxLength = 128
    public var seed: UInt64 = 42
    /// Any adapter-library config (LoRA, DoRA, the zoo) in place of the LoRA pairs; used by
    /// `crosstune compare`. Target names as in `targets`. nil: LoRA with `rank` and `alpha`.
    public var adapterOverride: AdapterConfig?
    public init() {}
}

/// The white-box upper bound of `crosstune compare`: the same encoder, now with its weights in
/// hand, fine-tuned with LoRA (through the adapter library) plus a linear head on the masked
/// mean of its last hidden state, on the same K-shot split, keeping the epoch with the best dev
/// accuracy. It is what CrossTune gives up by staying behind the API.
///
/// ```swift
/// let c = try WhiteBoxLoRAClassifier(folder: dir, classes: 10, options: WhiteBoxLoRAOptions())
/// try c.fit(train: texts, trainLabels: ys, dev: devTexts, devLabels: devYs)
/// let predicted = try c.predict(testTexts)
/// ```
public final class WhiteBoxLoRAClassifier {
    public let model: BertModel
    public let tokenizer: WordPieceTokenizer
    public let peft: PeftModel
    public let head: Linear
    public let options: WhiteBoxLoRAOptions
    public let injection: InjectionReport

    public init(folder: String, classes: Int, options: WhiteBoxLoRAOptions) throws {
        guard classes >= 2, options.rank >= 1, options.epochs >= 1, options.batchSize >= 1, options.maxLength >= 8 else {
            throw CrossTuneError("lora-finetune: needs at least 2 classes and positive rank, epochs, batch and length")
        }
        (model, tokenizer) = try BertModel.load(folder: folder, seed: options.seed)
        self.options = options
        peft = PeftModel(model)
        var config = options.adapterOverride ?? AdapterConfig.lora(r: options.rank, alpha: options.alpha, targets: options.targets)
        config.seed = options.seed
        config.baseModelNameOrPath = folder
        injection = try peft.addAdapter(config)
        head = try Linear(inFeatures: model.config.hiddenSize, outFeatures: classes, at: WeightStore.random(seed: options.seed &+ 1).root)
    }

    /// Adapter and head parameters: the only ones that train.
    public var trainableParameters: [(String, Tensor)] {
        peft.trainableParameters() + head.trainableParameters().map { ("head.\($0.0)", $0.1) }
    }

    public var trainableCount: Int { trainableParameters.reduce(0) { $0 + $1.1.count } }

    /// `[B, classes]` logits of a batch of texts (padded to the longest, masked mean pooling).
    func logits(_ texts: [String]) throws -> Tensor {
        let batch = tokenizer.encodeBatch(texts, truncation: Truncation(maxLength: min(options.maxLength, model.config.maxPositionEmbeddings)))
        let h = try model(BertInput(batch)).lastHiddenState
        return head(h.maskedMeanPooled(mask: batch.attentionMask))
    }

    /// Trains on `train`, keeping the parameters of the epoch with the best dev accuracy.
    public func fit(train: [String], trainLabels: [Int], dev: [String], devLabels: [Int], log: (String) -> Void = { _ in }) throws {
        guard train.count == trainLabels.count, dev.count == devLabels.count, !train.isEmpty else {
            throw CrossTuneError("lora-finetune: \(train.count) texts for \(trainLabels.count) labels")
        }
        let params = trainableParameters
        let optimizer = AdamW(learningRate: options.learningRate, weightDecay: 0.01)
        var rng = SplitMix64(seed: options.seed)
        var best: (acc: Double, weights: [[Float]])?
        for epoch in 1...options.epochs {
            model.train()
            var order = Array(train.indices)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var total = 0.0
            var start = 0
            while start < order.count {
                let idx = Array(order[start..<min(start + options.batchSize, order.count)])
                start += idx.count
                let loss = try logits(idx.map { train[$0] }).crossEntropyLoss(targets: idx.map { trainLabels[$0] })
                loss.backward()
                _ = clipGradNorm(params, maxNorm: 1)
                optimizer.step(params)
                optimizer.zeroGrad(params)
                total += Double(loss.storage[0]) * Double(idx.count)
            }
            let devAcc = ClassificationScores(predictions: try predict(dev), targets: devLabels, classes: head.outFeatures).accuracy
            log(String(format: "crosstune: lora-finetune epoch %d train loss %.4f dev acc %.3f", epoch, total / Double(train.count), devAcc))
            if best == nil || devAcc > best!.acc { best = (devAcc, params.map { $0.1.storage }) }
        }
        if let best { for (p, w) in zip(params, best.weights) { p.1.storage = w } }
    }

    /// Predicted class of each text (inference mode, batches of 32).
    public func predict(_ texts: [String]) throws -> [Int] {
        model.eval()
        var out: [Int] = []
        var start = 0
        while start < texts.count {
            let chunk = Array(texts[start..<min(start + 32, texts.count)])
            start += chunk.count
            out += try withoutGrad { try logits(chunk).argmaxLastAxis() }
        }
        return out
    }
}

/// The teacher for the switch: the encoder fine-tuned with LoRA on the K-shot set,
/// read through the softmax of its head.
extension WhiteBoxLoRAClassifier: AugmentationTeacher {
    public func probabilities(_ texts: [String]) throws -> [[Float]] {
        model.eval()
        var out: [[Float]] = []
        var start = 0
        while start < texts.count {
            let chunk = Array(texts[start..<min(start + 32, texts.count)])
            start += chunk.count
            let p = try withoutGrad { try logits(chunk).softmax() }
            let c = p.shape[1]
            out += (0..<chunk.count).map { Array(p.storage[($0 * c)..<(($0 + 1) * c)]) }
        }
        return out
    }
}

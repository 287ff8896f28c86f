import Core

/// BERT with a per-token linear head (`BertForTokenClassification`): `classifier(dropout(h))`.
/// Module keys are Hugging Face's — `bert.…` for the encoder, `classifier.weight` /
/// `classifier.bias` for the head — so a peft adapter with `modules_to_save=["classifier"]`
/// saved here loads onto a transformers `BertForTokenClassification` and back.
///
/// ```swift
/// let model = try BertForTokenClassification.load(folder: dir, numLabels: 9, seed: 1).model
/// let logits = try model.logits(input)                 // [B, T, 9]
/// let loss = model.loss(logits: logits, labels: labels) // -100 ignored
/// ```
public final class BertForTokenClassification: Module {
    public let bert: BertModel
    public let dropout: Dropout
    public let classifier: Linear
    /// Label names by id, when known (from the config or the caller).
    public var labels: [String]

    /// Wraps an encoder and a head (`classifier.weight [numLabels, hidden]`).
    public init(bert: BertModel, classifier: Linear, labels: [String] = [], seed: UInt64 = 0) {
        precondition(classifier.inFeatures == bert.config.hiddenSize,
                     "BertForTokenClassification: head input \(classifier.inFeatures) vs hidden \(bert.config.hiddenSize)")
        self.bert = bert
        self.classifier = classifier
        self.labels = labels
        self.dropout = Dropout(p: bert.config.classifierDropout ?? bert.config.hiddenDropoutProb, seed: seed)
        super.init()
    }

    /// A fresh, trainable head as transformers initialises one: weight N(0, initializer_range²),
    /// bias zeros; seeded.
    public static func freshHead(config: BertConfig, numLabels: Int, seed: UInt64) -> Linear {
        var rng = SplitMix64(seed: seed)
        let w = Tensor.normal([numLabels, config.hiddenSize], std: config.initializerRange, using: &rng)
        w.requiresGrad = true
        return Linear(weight: w, bias: Tensor.zeros([numLabels], requiresGrad: true))
    }

    public var numLabels: Int { classifier.outFeatures }

    override public func namedChildren() -> [(String, Module)] { [("bert", bert), ("classifier", classifier)] }

    /// `[B, T, numLabels]` token logits.
    public func logits(_ input: BertInput) throws -> Tensor {
        classifier(dropout.apply(try bert(input).lastHiddenState, training: isTraining))
    }

    /// Mean cross-entropy over tokens whose label is not `ignoreIndex` (-100: special tokens,
    /// padding and non-first sub-tokens). `labels` has one entry per token, `[B·T]`; a label outside
    /// `0..<numLabels` (other than the ignore index) is an error.
    public func loss(logits: Tensor, labels: [Int], ignoreIndex: Int = LabelAlignment.ignoreIndex) throws -> Tensor {
        let rows = logits.count / max(numLabels, 1)
        guard labels.count == rows else { throw BertError.badInput("\(labels.count) labels for \(rows) tokens") }
        if let bad = labels.firstIndex(where: { $0 != ignoreIndex && ($0 < 0 || $0 >= numLabels) }) {
            throw BertError.badInput("label \(labels[bad]) at token \(bad) is outside 0..<\(numLabels)")
        }
        return logits.crossEntropyLoss(targets: labels, ignoreIndex: ignoreIndex)
    }

    /// Forward and, with `labels`, the loss.
    public func callAsFunction(_ input: BertInput, labels: [Int]? = nil) throws -> (logits: Tensor, loss: Tensor?) {
        let l = try logits(input)
        return (l, try labels.map { try loss(logits: l, labels: $0) })
    }

    /// The most likely label id for every token, `[B·T]`.
    public func predict(_ input: BertInput) throws -> [Int] {
        try withoutGrad { try logits(input).argmaxLastAxis() }
    }
}

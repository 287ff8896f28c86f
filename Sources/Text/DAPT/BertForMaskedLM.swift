import Core
import Foundation

/// BERT's masked-LM head transform (`cls.predictions.transform`): `LayerNorm(act(dense(h)))`.
/// Checkpoint keys `dense.{weight,bias}`, `LayerNorm.{weight,bias}`. In domain-adaptive
/// pre-training it is trained in full (peft's `modules_to_save=["transform"]`).
public final class MLMHeadTransform: Module {
    public let dense: Linear
    public let activation: Activation
    public let layerNorm: LayerNorm

    public init(dense: Linear, activation: Activation, layerNorm: LayerNorm) {
        self.dense = dense
        self.activation = activation
        self.layerNorm = layerNorm
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("dense", dense), ("LayerNorm", layerNorm)] }

    public func callAsFunction(_ h: Tensor) -> Tensor { layerNorm(activation(dense(h))) }
}

/// BERT's prediction head (`cls.predictions`, transformers' `BertLMPredictionHead`): the
/// transform, then a decoder whose weight *is* the encoder's word-embedding table (tied, so it is
/// neither stored nor trained here) plus a per-token `bias [vocab]`. Transformers saves the bias
/// twice (`cls.predictions.bias` and `cls.predictions.decoder.bias`, one shared tensor); both
/// names are read and written.
public final class MLMPredictionHead: Module {
    public let transform: MLMHeadTransform
    /// `[vocab]` output bias (frozen during DAPT, as in the reference: only the transform trains).
    public let bias: Tensor
    /// The tied decoder weight `[vocab, hidden]` (the word embeddings).
    public let decoderWeight: Tensor

    public init(transform: MLMHeadTransform, bias: Tensor, decoderWeight: Tensor) {
        precondition(bias.shape == [decoderWeight.shape[0]], "MLMPredictionHead: bias \(bias.shape) vs decoder \(decoderWeight.shape)")
        self.transform = transform
        self.bias = bias
        self.decoderWeight = decoderWeight
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("transform", transform)] }
    override public func namedLocalParameters() -> [(String, Tensor)] { [("bias", bias)] }

    /// `[N, hidden]` → `[N, vocab]` logits.
    public func callAsFunction(_ h: Tensor) -> Tensor {
        transform(h).linear(weight: decoderWeight, bias: bias)
    }
}

/// `cls` of transformers' `BertForMaskedLM` (`BertOnlyMLMHead`): holds `predictions`.
public final class MLMHead: Module {
    public let predictions: MLMPredictionHead
    public init(predictions: MLMPredictionHead) {
        self.predictions = predictions
        super.init()
    }
    override public func namedChildren() -> [(String, Module)] { [("predictions", predictions)] }
}

/// BERT with its masked-language-model head (`BertForMaskedLM`), module keys exactly
/// transformers' (`bert.encoder.layer.0.attention.self.query`, `cls.predictions.transform.dense`),
/// so peft adapters for a `BertForMaskedLM` load onto it unchanged.
///
/// Logits are computed only at the positions that carry a label (the picked positions): the
/// loss and its gradients are the same as from full `[B, T, vocab]` logits, at a small part of the
/// cost of the 30522-wide decoder.
///
/// ```swift
/// let mlm = try BertForMaskedLM.load(folder: dir, seed: 0)
/// let loss = try mlm.loss(batch)          // batch: MaskedBatch from MLMMasking
/// ```
public final class BertForMaskedLM: Module {
    public let bert: BertModel
    public let cls: MLMHead

    public init(bert: BertModel, cls: MLMHead) {
        self.bert = bert
        self.cls = cls
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("bert", bert), ("cls", cls)] }

    public var head: MLMPredictionHead { cls.predictions }

    /// Builds the head for `bert` from `path` (`cls` of a checkpoint store) when it holds
    /// `predictions.transform.dense.weight`, otherwise fresh as transformers initialises it
    /// (`_init_weights`: dense N(0, initializer_range²), biases 0, LayerNorm 1/0), seeded.
    /// The transform is trainable either way; the output bias stays frozen.
    public static func makeHead(for bert: BertModel, from path: ParamPath?, seed: UInt64) throws -> MLMHead {
        let c = bert.config, d = c.hiddenSize
        let decoder = bert.embeddings.wordEmbeddings.weight
        let p = path?.pp("predictions")
        if let p, p.contains("transform.dense.weight") {
            let t = p.pp("transform")
            let dense = try Linear(inFeatures: d, outFeatures: d, at: t.pp("dense"))
            let norm = try LayerNorm(dim: d, eps: c.layerNormEps, at: t.pp("LayerNorm"))
            let bias = try p.contains("bias") ? p.get([c.vocabSize], "bias") : p.get([c.vocabSize], "decoder.bias")
            if p.contains("bias"), p.contains("decoder.bias") { _ = try p.get([c.vocabSize], "decoder.bias") }  // the shared copy
            let transform = MLMHeadTransform(dense: dense, activation: c.hiddenAct, layerNorm: norm)
            for (_, t) in transform.namedParameters() { t.requiresGrad = true }
            return MLMHead(predictions: MLMPredictionHead(transform: transform, bias: bias, decoderWeight: decoder))
        }
        var rng = SplitMix64(seed: seed)
        let w = Tensor.normal([d, d], std: c.initializerRange, using: &rng)
        let dense = Linear(weight: w, bias: Tensor.zeros([d]))
        let norm = LayerNorm(weight: Tensor.ones([d]), bias: Tensor.zeros([d]), eps: c.layerNormEps)
        let transform = MLMHeadTransform(dense: dense, activation: c.hiddenAct, layerNorm: norm)
        for (_, t) in transform.namedParameters() { t.requiresGrad = true }
        return MLMHead(predictions: MLMPredictionHead(transform: transform, bias: Tensor.zeros([c.vocabSize]), decoderWeight: decoder))
    }

    /// Loads a model folder (a bare `BertModel` such as all-MiniLM-L6-v2, or a `BertForMaskedLM`
    /// with `bert.` keys) with its MLM head when the checkpoint has one, else a fresh seeded
    /// head. Strict: unknown leftover tensors are an error. The pooler is kept when present so
    /// the exported folder has the same keys as the input one.
    public static func load(folder: String, seed: UInt64 = 0) throws -> (model: BertForMaskedLM, tokenizer: WordPieceTokenizer, checkpoint: BertCheckpoint) {
        let ckpt = try BertCheckpoint(folder: folder)
        let tokenizer = try ckpt.tokenizer()
        var seeds = SplitMix64(seed: seed)
        let bert = try BertModel(config: ckpt.config, addPooler: ckpt.hasPooler, seed: seeds.next(), at: ckpt.encoderPath)
        let head = try makeHead(for: bert, from: ckpt.store.root.pp("cls"), seed: seeds.next())
        try ckpt.verifyAllUsed()
        return (BertForMaskedLM(bert: bert, cls: head), tokenizer, ckpt)
    }

    /// `[N, vocab]` logits at the flat positions `positions` (indices into `[B·T]`).
    public func logits(_ input: BertInput, at positions: [Int]) throws -> Tensor {
        let h = try bert(input).lastHiddenState
        let c = bert.config.hiddenSize
        for p in positions where p < 0 || p >= input.batch * input.length {
            throw BertError.badInput("masked position \(p) is outside the [\(input.batch), \(input.length)] batch")
        }
        let rows = h.reshaped([input.batch * input.length, c]).indexSelect(axis: 0, positions)
        return head(rows)
    }

    /// Mean cross-entropy over the picked positions of `batch` and their logits.
    public func loss(_ batch: MaskedBatch) throws -> (loss: Tensor, logits: Tensor) {
        guard !batch.positions.isEmpty else { throw BertError.badInput("the batch has no masked position to predict") }
        let logits = try self.logits(batch.input, at: batch.positions)
        return (logits.crossEntropy(targets: batch.targets), logits)
    }
}

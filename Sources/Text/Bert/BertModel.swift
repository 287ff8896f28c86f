import Core

/// What `BertModel` returns.
public struct BertOutput {
    /// `[B, T, C]` output of the last encoder layer.
    public var lastHiddenState: Tensor
    /// With `outputHiddenStates`: the embedding output, then each layer's output (HF's
    /// `hidden_states`, `numHiddenLayers + 1` entries); empty otherwise.
    public var hiddenStates: [Tensor]
    /// `[B, C]` `tanh(dense(h[CLS]))` when the model has a pooler.
    public var pooled: Tensor?
}

/// BERT's pooler: `tanh(dense(h[:, 0]))` (checkpoint key `pooler.dense`).
public final class BertPooler: Module {
    public let dense: Linear
    public init(config c: BertConfig, at path: ParamPath) throws {
        dense = try Linear(inFeatures: c.hiddenSize, outFeatures: c.hiddenSize, at: path.pp("dense"))
        super.init()
    }
    override public func namedChildren() -> [(String, Module)] { [("dense", dense)] }
    /// `[B, T, C]` → `[B, C]` from the first ([CLS]) position.
    public func callAsFunction(_ hidden: Tensor) -> Tensor {
        let (b, c) = (hidden.shape[0], hidden.shape[2])
        return dense(hidden.slice(axis: 1, 0..<1).reshaped([b, c])).tanh()
    }
}

/// A BERT-family encoder (`BertModel`): embeddings, a post-norm encoder stack with erf-GELU
/// (Core's `TransformerEncoder` in the `.bert` layout) and an optional pooler. Its module tree
/// has exactly the keys of a Hugging Face `BertModel` (`embeddings.word_embeddings.weight`,
/// `encoder.layer.3.attention.self.query.weight`, `pooler.dense.weight`), so peft adapter files
/// saved for a `BertModel` load onto it unchanged.
///
/// ```swift
/// let (model, tokenizer) = try BertModel.load(folder: try DefaultModels.miniLM())
/// let input = try BertInput(tokenizer.encodeBatch(["Hello!"]))
/// let h = try model(input).lastHiddenState
/// ```
public final class BertModel: Module {
    public let config: BertConfig
    public let embeddings: BertEmbeddings
    public let encoder: TransformerEncoder
    public let pooler: BertPooler?

    /// Builds the model at `path` (`""` for BertModel checkpoints, `bert` inside BertForX ones).
    /// `seed` derives every dropout stream; weights absent from the store are an error unless the
    /// store initialises randomly.
    public init(config: BertConfig, addPooler: Bool = false, seed: UInt64 = 0, at path: ParamPath) throws {
        try config.validate()
        self.config = config
        var seeds = SplitMix64(seed: seed)
        embeddings = try BertEmbeddings(config: config, seed: seeds.next(), at: path.pp("embeddings"))
        encoder = try TransformerEncoder(config: config.layerConfig, layout: .bert, numLayers: config.numHiddenLayers,
                                         seed: seeds.next(), at: path.pp("encoder"))
        pooler = addPooler ? try BertPooler(config: config, at: path.pp("pooler")) : nil
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = [("embeddings", embeddings), ("encoder", encoder)]
        if let p = pooler { out.append(("pooler", p)) }
        return out
    }

    /// Runs the encoder. Ids outside the vocabulary, over-long sequences and bad token types are
    /// thrown errors (they come from outside data).
    public func callAsFunction(_ input: BertInput, outputHiddenStates: Bool = false) throws -> BertOutput {
        let x = try embeddings(input)
        // An unpadded batch needs no mask: the attention kernel then skips the additive pass.
        let mask = input.isUnpadded ? nil : input.maskTensor
        let out = encoder(x, attentionMask: mask, outputHiddenStates: outputHiddenStates)
        return BertOutput(lastHiddenState: out.lastHiddenState, hiddenStates: out.hiddenStates,
                          pooled: pooler.map { $0(out.lastHiddenState) })
    }

    /// Mean over attended tokens, L2-normalised: the sentence embedding sentence-transformers
    /// computes for all-MiniLM-L6-v2 (`Pooling(mean)` + `Normalize`). `[B, C]`.
    public func sentenceEmbeddings(_ input: BertInput) throws -> Tensor {
        let h = try self(input).lastHiddenState
        return h.maskedMeanPooled(mask: input.attentionMask).l2Normalized()
    }
}

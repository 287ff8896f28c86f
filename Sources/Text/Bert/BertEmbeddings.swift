import Core

/// BERT's input embeddings (`BertEmbeddings`): word + absolute position + token type, then
/// LayerNorm and dropout. Checkpoint keys: `word_embeddings.weight`,
/// `position_embeddings.weight`, `token_type_embeddings.weight`, `LayerNorm.{weight,bias}`
/// (the `position_ids` buffer some checkpoints carry is not a parameter).
public final class BertEmbeddings: Module {
    public let wordEmbeddings: Embedding
    public let positionEmbeddings: Embedding
    public let tokenTypeEmbeddings: Embedding
    public let layerNorm: LayerNorm
    public let dropout: Dropout

    /// Builds the tables at `path` (e.g. `embeddings` or `bert.embeddings`).
    public init(config c: BertConfig, seed: UInt64, at path: ParamPath) throws {
        let std = c.initializerRange
        wordEmbeddings = try Embedding(count: c.vocabSize, dim: c.hiddenSize, initStd: std, at: path.pp("word_embeddings"))
        positionEmbeddings = try Embedding(count: c.maxPositionEmbeddings, dim: c.hiddenSize, initStd: std,
                                           at: path.pp("position_embeddings"))
        tokenTypeEmbeddings = try Embedding(count: c.typeVocabSize, dim: c.hiddenSize, initStd: std,
                                            at: path.pp("token_type_embeddings"))
        layerNorm = try LayerNorm(dim: c.hiddenSize, eps: c.layerNormEps, at: path.pp("LayerNorm"))
        dropout = Dropout(p: c.hiddenDropoutProb, seed: seed)
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("word_embeddings", wordEmbeddings), ("position_embeddings", positionEmbeddings),
         ("token_type_embeddings", tokenTypeEmbeddings), ("LayerNorm", layerNorm)]
    }

    /// `[B, T, C]` embeddings of `input`. Positions are `0..<T` in every row (HF's default
    /// `position_ids`), so padding at the end does not shift the real tokens.
    public func callAsFunction(_ input: BertInput) throws -> Tensor {
        let (b, t) = (input.batch, input.length)
        guard t <= positionEmbeddings.count else {
            throw BertError.badInput("sequence length \(t) exceeds the model's \(positionEmbeddings.count) positions; truncate or use sliding windows")
        }
        let words = try wordEmbeddings(input.inputIDs, shape: [b, t])
        let types = try tokenTypeEmbeddings(input.tokenTypeIDs, shape: [b, t])
        // One [1, T, C] slice of the position table, broadcast over the batch.
        let positions = positionEmbeddings.weight.slice(axis: 0, 0..<t).reshaped([1, t, positionEmbeddings.dim])
        return dropout.apply(layerNorm(words + types + positions), training: isTraining)
    }
}

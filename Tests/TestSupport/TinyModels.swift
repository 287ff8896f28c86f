import Core

/// PEFT's test MLP (`tests/testing_common` `MLP`): `lin0` (10→20) → ReLU → dropout → `lin1` (20→2)
/// → log-softmax. LoRA tests target `lin0`/`lin1` by name exactly as PEFT's own tests do.
public final class TinyMLP: Module {
    public let lin0: Linear
    public let drop: Dropout
    public let lin1: Linear

    public init(store: WeightStore = .random(seed: 0), inFeatures: Int = 10, hidden: Int = 20, outFeatures: Int = 2,
                bias: Bool = true, dropout: Float = 0, seed: UInt64 = 0) throws {
        let root = store.root
        lin0 = try Linear(inFeatures: inFeatures, outFeatures: hidden, bias: bias, at: root.pp("lin0"))
        drop = Dropout(p: dropout, seed: seed)
        lin1 = try Linear(inFeatures: hidden, outFeatures: outFeatures, bias: bias, at: root.pp("lin1"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("lin0", lin0), ("drop", drop), ("lin1", lin1)] }

    /// `x [N, in]` → log-probabilities `[N, out]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = lin1(drop(lin0(x).relu()))
        let shift = y.max(axis: -1, keepDims: true).detached()
        return y - shift - (y - shift).exp().sum(axis: -1, keepDims: true).log()
    }
}

/// A tiny BERT-style sequence classifier: word + position embeddings (`embeddings.*`), an
/// encoder of any layout (`encoder.<stack>.N.*`), a final LayerNorm for pre-norm layouts
/// (`final_layer_norm`), and `classifier` on the first token.
public final class TinyEncoderClassifier: Module {
    public let wordEmbeddings: Embedding
    public let positionEmbeddings: Embedding
    public let embeddingNorm: LayerNorm
    public let encoder: TransformerEncoder
    public let finalNorm: LayerNorm?
    public let classifier: Linear
    public let embeddingDropout: Dropout

    public init(vocab: Int, maxLength: Int, config: TransformerLayerConfig, layout: TransformerLayerLayout = .bert,
                numLayers: Int = 2, numClasses: Int = 2, store: WeightStore, seed: UInt64 = 0) throws {
        let root = store.root
        wordEmbeddings = try Embedding(count: vocab, dim: config.dim, initStd: 0.5, at: root.pp("embeddings.word_embeddings"))
        positionEmbeddings = try Embedding(count: maxLength, dim: config.dim, initStd: 0.5, at: root.pp("embeddings.position_embeddings"))
        embeddingNorm = try LayerNorm(dim: config.dim, eps: config.normEps, at: root.pp("embeddings.LayerNorm"))
        embeddingDropout = Dropout(p: config.hiddenDropout, seed: seed ^ 0x5EED)
        encoder = try TransformerEncoder(config: config, layout: layout, numLayers: numLayers, seed: seed, at: root.pp("encoder"))
        finalNorm = layout.placement == .preNorm ? try LayerNorm(dim: config.dim, eps: config.normEps, at: root.pp("final_layer_norm")) : nil
        classifier = try Linear(inFeatures: config.dim, outFeatures: numClasses, at: root.pp("classifier"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        let embeddings = ModuleTree([("word_embeddings", wordEmbeddings), ("position_embeddings", positionEmbeddings),
                                     ("LayerNorm", embeddingNorm)])
        var out: [(String, Module)] = [("embeddings", embeddings), ("encoder", encoder)]
        if let f = finalNorm { out.append(("final_layer_norm", f)) }
        out.append(("classifier", classifier))
        return out
    }

    /// `ids` row-major `[batch, length]` → class logits `[batch, numClasses]` from the first token.
    public func callAsFunction(_ ids: [Int], batch: Int, length: Int, attentionMask: Tensor? = nil) throws -> Tensor {
        let positions = (0..<batch).flatMap { _ in Array(0..<length) }
        var h = try wordEmbeddings(ids, shape: [batch, length]) + positionEmbeddings(positions, shape: [batch, length])
        h = embeddingDropout(embeddingNorm(h))
        h = encoder(h, attentionMask: attentionMask).lastHiddenState
        if let f = finalNorm { h = f(h) }
        return classifier(h.slice(axis: 1, 0..<1).reshaped([batch, h.shape[2]]))
    }
}

/// A seeded toy task that needs attention and positions: each sequence is `[CLS] t1 … tn` with
/// exactly one `A` and one `B` among filler tokens; the label is 1 when A comes before B.
public enum OrderTask {
    public static let cls = 0, tokenA = 1, tokenB = 2
    /// Vocabulary size (CLS, A, B and fillers).
    public static let vocab = 8

    /// A batch of `size` sequences of `length` tokens (including CLS): ids row-major and labels.
    public static func batch(size: Int, length: Int, using rng: inout SplitMix64) -> (ids: [Int], labels: [Int]) {
        precondition(length >= 3, "OrderTask: length must leave room for A and B")
        var ids: [Int] = [], labels: [Int] = []
        for _ in 0..<size {
            var row = [cls] + (1..<length).map { _ in 3 + Int(rng.next() % UInt64(vocab - 3)) }
            let a = 1 + Int(rng.next() % UInt64(length - 1))
            var b = 1 + Int(rng.next() % UInt64(length - 2))
            if b >= a { b += 1 }
            row[a] = tokenA
            row[b] = tokenB
            ids += row
            labels.append(a < b ? 1 : 0)
        }
        return (ids, labels)
    }
}

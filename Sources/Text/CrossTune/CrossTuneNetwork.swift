import Core
import Foundation

/// The label-enhanced cross-attention network of CrossTune (methods.md §9), the only part that
/// trains. For each class c a label query comes from its description's features,
/// `q_c = mean(H_c) W_q` (d → h); multi-head cross-attention from the C label queries over the
/// input's token features gives `z_c = MHA(q_c, H_x W_k, H_x W_v) W_o`; the score is
/// `s_c = wᵀ tanh(z_c + q_c) + b + z_c·q_c / √h`, and a softmax over classes gives p(c | x).
///
/// The residual `+ q_c` lets the score use the label query itself next to what it retrieved
/// from the input, and the scaled dot product `z_c·q_c / √h` scores the relatedness of the
/// label-conditioned summary with the label itself (the design card leaves the scorer open:
/// "wᵀ tanh(W_o z_c) or cosine with Q_c"; with only the first term the network overfit 16 shots
/// and scored below the nearest-class-mean baseline). Dropout on the input token features
/// (training only) regularises further. Ablation: `learnedLabels` replaces the description queries by free `[C, h]` vectors.
///
/// Checkpoint keys: `label_proj.{weight,bias}` (or `label_vectors`), `attention.{q,k,v,out}_proj.*`,
/// `scorer.{weight,bias}`.
public final class CrossTuneNetwork: Module {
    public let featureDim: Int
    public let hiddenDim: Int
    public let numClasses: Int
    /// `[C, d]` pooled description features (constant inputs, not parameters).
    public let labelFeatures: Tensor?
    public let labelProjection: Linear?
    public let labelVectors: Tensor?
    public let attention: MultiHeadAttention
    public let scorer: Linear
    /// Dropout on the input token features (training mode only).
    public let inputDropout: Dropout

    /// A freshly initialised network. With `labelFeatures` (`[C, d]`) the queries come from the
    /// descriptions; without, from learned vectors.
    public init(featureDim d: Int, hiddenDim h: Int, heads: Int, numClasses: Int, labelFeatures: Tensor?, dropout: Float = 0, seed: UInt64) throws {
        guard d > 0, h > 0, heads > 0, h % heads == 0, numClasses >= 2 else {
            throw CrossTuneError("CrossTune network: hidden size \(h) must be positive and divisible by \(heads) heads, with at least 2 classes")
        }
        if let f = labelFeatures, f.shape != [numClasses, d] {
            throw CrossTuneError("CrossTune network: label features \(f.shape) must be [\(numClasses), \(d)]")
        }
        featureDim = d
        hiddenDim = h
        self.numClasses = numClasses
        self.labelFeatures = labelFeatures
        let store = WeightStore.random(seed: seed)
        if labelFeatures != nil {
            labelProjection = try Linear(inFeatures: d, outFeatures: h, at: store.root.pp("label_proj"))
            labelVectors = nil
        } else {
            labelProjection = nil
            var rng = SplitMix64(seed: seed ^ 0x1abe1)
            labelVectors = Tensor.normal([numClasses, h], std: 1 / Float(h).squareRoot(), using: &rng, requiresGrad: true)
        }
        attention = try MultiHeadAttention(dim: h, numHeads: heads, contextDim: d, at: store.root.pp("attention"))
        scorer = try Linear(inFeatures: h, outFeatures: 1, at: store.root.pp("scorer"))
        inputDropout = Dropout(p: dropout, seed: seed ^ 0xd40)
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = [("input_dropout", inputDropout), ("attention", attention), ("scorer", scorer)]
        if let p = labelProjection { out.insert(("label_proj", p), at: 0) }
        return out
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        labelVectors.map { [("label_vectors", $0)] } ?? []
    }

    /// `[C, h]` label queries.
    public func labelQueries() -> Tensor {
        if let p = labelProjection, let f = labelFeatures { return p(f) }
        return labelVectors!
    }

    /// Logits `[B, C]` for token features `[B, T, d]` with an optional `[B, T]` 1/0 mask.
    public func callAsFunction(_ x: Tensor, mask: Tensor?) -> Tensor {
        let b = x.shape[0]
        let q = labelQueries().reshaped([1, numClasses, hiddenDim]).expand(to: [b, numClasses, hiddenDim])
        let z = attention(q, context: inputDropout(x), attentionMask: mask)
        let related = (z * q).sum(axis: 2) / Float(hiddenDim).squareRoot()
        return scorer((z + q).tanh()).reshaped([b, numClasses]) + related
    }

    /// Number of trainable scalars.
    public var trainableCount: Int { trainableParameters().reduce(0) { $0 + $1.1.count } }
}

/// Packs feature sets into one padded batch: `[B, T, d]` values (zeros in padding) and the
/// `[B, T]` 1/0 mask (nil when no row is padded).
public func paddedFeatureBatch(_ items: [TokenFeatures]) -> (features: Tensor, mask: Tensor?) {
    let b = items.count, d = items.first?.dim ?? 0
    let t = items.map(\.tokens).max() ?? 0
    var values = [Float](repeating: 0, count: b * t * d)
    var mask = [Float](repeating: 0, count: b * t)
    for (i, f) in items.enumerated() {
        precondition(f.dim == d, "paddedFeatureBatch: widths \(f.dim) and \(d) differ")
        for k in 0..<(f.tokens * d) { values[i * t * d + k] = f.values[k] }
        for k in 0..<f.tokens { mask[i * t + k] = 1 }
    }
    let padded = items.contains { $0.tokens < t }
    return (Tensor(values, shape: [b, t, d]), padded ? Tensor(mask, shape: [b, t]) : nil)
}

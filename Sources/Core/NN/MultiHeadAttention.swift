/// Checkpoint keys of the four attention projections, relative to the module that owns them
/// (dotted paths allowed, e.g. BERT's `attention.self.query` relative to the layer).
public struct AttentionKeys: Sendable, Equatable {
    public var query: String, key: String, value: String, output: String
    public init(query: String, key: String, value: String, output: String) {
        self.query = query; self.key = key; self.value = value; self.output = output
    }
    /// `q_proj`, `k_proj`, `v_proj`, `out_proj` (CLIP, Whisper, BART-style).
    public static let projections = AttentionKeys(query: "q_proj", key: "k_proj", value: "v_proj", output: "out_proj")
}

/// Which of the four projections carry a bias (Whisper's `k_proj` has none).
public struct AttentionBias: Sendable, Equatable {
    public var query = true, key = true, value = true, output = true
    public init(query: Bool = true, key: Bool = true, value: Bool = true, output: Bool = true) {
        self.query = query; self.key = key; self.value = value; self.output = output
    }
    public static let all = AttentionBias()
}

/// Multi-head scaled dot-product attention with separate Q/K/V/output `Linear`s (each one an
/// adapter slot, so LoRA can target `query`/`value` by name).
///
/// Shapes: `x [B, Tq, C]` → heads `[B, H, Tq, D]` (C = H·D) → attention → `[B, Tq, C]` → output
/// projection. Keys and values come from `x` (self-attention) or from `context [B, Tk, Ckv]`
/// (cross-attention). Masks are additive: an attention mask `[B, Tk]` of 1 (attend) / 0 (padding)
/// becomes 0 / `maskValue`, and `causal` hides keys after each query.
///
/// Prefix tuning (`prefix`): learned `[B, P, C]` keys and values are concatenated in front of the
/// projected keys/values, so they bypass the projections; the mask is extended with P visible
/// columns. Attention is order-free over keys, so "in front" versus "after position 0" gives the
/// same result.
public final class MultiHeadAttention: Module {
    public let query: Linear, key: Linear, value: Linear, output: Linear
    public let numHeads: Int
    public let headDim: Int
    /// Dropout on the attention probabilities (training only).
    public let attentionDropout: Dropout
    /// Keys of the projections when this module stands alone in a tree.
    public let keys: AttentionKeys
    /// Prefix-tuning hook; registered under `prefixKey`.
    public var prefix: (any AttentionPrefix)?
    public var prefixKey = "prefix"

    /// Additive value for hidden positions. Large but finite, so a row with every key hidden
    /// gives a uniform softmax instead of NaN.
    public static let maskValue: Float = -1e9

    /// Wraps existing projections. `query`/`key`/`value` output `numHeads · headDim` features.
    public init(query: Linear, key: Linear, value: Linear, output: Linear, numHeads: Int,
                attentionDropout: Dropout = Dropout(p: 0, seed: 0), keys: AttentionKeys = .projections) {
        let inner = query.outFeatures
        precondition(numHeads > 0 && inner % numHeads == 0, "MultiHeadAttention: width \(inner) is not divisible by \(numHeads) heads")
        precondition(key.outFeatures == inner && value.outFeatures == inner && output.inFeatures == inner,
                     "MultiHeadAttention: projection widths differ (q \(query.weight.shape), k \(key.weight.shape), v \(value.weight.shape), o \(output.weight.shape))")
        self.query = query; self.key = key; self.value = value; self.output = output
        self.numHeads = numHeads
        self.headDim = inner / numHeads
        self.attentionDropout = attentionDropout
        self.keys = keys
        super.init()
    }

    /// Builds the four projections under `path` with the given keys. `contextDim` is the width
    /// of the key/value input for cross-attention (defaults to `dim`).
    public convenience init(dim: Int, numHeads: Int, contextDim: Int? = nil, bias: AttentionBias = .all,
                            attentionDropout: Float = 0, seed: UInt64 = 0,
                            keys: AttentionKeys = .projections, at path: ParamPath) throws {
        let kv = contextDim ?? dim
        let q = try Linear(inFeatures: dim, outFeatures: dim, bias: bias.query, at: path.pp(keys.query))
        let k = try Linear(inFeatures: kv, outFeatures: dim, bias: bias.key, at: path.pp(keys.key))
        let v = try Linear(inFeatures: kv, outFeatures: dim, bias: bias.value, at: path.pp(keys.value))
        let o = try Linear(inFeatures: dim, outFeatures: dim, bias: bias.output, at: path.pp(keys.output))
        self.init(query: q, key: k, value: v, output: o, numHeads: numHeads,
                  attentionDropout: Dropout(p: attentionDropout, seed: seed), keys: keys)
    }

    /// The projections under `keys` (plus the prefix), as `(path, module)` leaves.
    public var leaves: [(String, Module)] {
        var out: [(String, Module)] = [(keys.query, query), (keys.key, key), (keys.value, value), (keys.output, output)]
        if let p = prefix { out.append((prefixKey, p)) }
        return out
    }

    override public func namedChildren() -> [(String, Module)] { ModuleTree(leaves).namedChildren() }

    /// Attention in this module's own mode.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, attentionMask: Tensor? = nil, causal: Bool = false) -> Tensor {
        forward(x, context: context, attentionMask: attentionMask, causal: causal, training: isTraining)
    }

    /// `x [B, Tq, C]`, optional `context [B, Tk, Ckv]`, optional `attentionMask [B, Tk]` (1 attend,
    /// 0 padding, over the context or self keys, without prefix positions). Returns `[B, Tq, C]`.
    public func forward(_ x: Tensor, context: Tensor? = nil, attentionMask: Tensor? = nil, causal: Bool = false,
                        training: Bool) -> Tensor {
        precondition(x.rank == 3, "MultiHeadAttention: input must be [B, T, C], got \(x.shape)")
        let batch = x.shape[0], tq = x.shape[1]
        let source = context ?? x
        precondition(source.rank == 3 && source.shape[0] == batch, "MultiHeadAttention: context \(source.shape) vs input \(x.shape)")
        var k = key(source), v = value(source)
        var prefixLength = 0
        if let p = prefix {
            let (pk, pv) = p.keysValues(batch: batch)
            precondition(pk.rank == 3 && pk.shape[0] == batch && pk.shape[2] == k.shape[2] && pv.shape == pk.shape,
                         "MultiHeadAttention: prefix keys \(pk.shape) / values \(pv.shape) must be [\(batch), P, \(k.shape[2])]")
            prefixLength = pk.shape[1]
            k = Tensor.concat([pk, k], axis: 1)
            v = Tensor.concat([pv, v], axis: 1)
        }
        let tk = k.shape[1]
        if let m = attentionMask {
            precondition(m.shape == [batch, tk - prefixLength], "MultiHeadAttention: attention mask \(m.shape) must be [\(batch), \(tk - prefixLength)]")
        }
        let mask = Self.additiveMask(attentionMask: attentionMask, batch: batch, queryLength: tq, keyLength: tk,
                                     prefixLength: prefixLength, causal: causal)
        let scale = 1 / Float(headDim).squareRoot()
        let dropout = training ? attentionDropout.p : 0
        // Fused path: heads read in place from the [B, T, H·D] projections, dropout inside.
        let q = query(x)
        if dropout < 1, let out = Tensor.headAttention(q: q, k: k, v: v, heads: numHeads, mask: mask, scale: scale,
                                          dropout: dropout, rng: &attentionDropout.rngState) {
            return output(out)
        }
        let qh = splitHeads(q), kh = splitHeads(k), vh = splitHeads(v)
        let context: Tensor
        if training && attentionDropout.p > 0 {
            // The fused kernel has no dropout on probabilities, so compose this path.
            var scores = qh.matmul(kh.transposed(-2, -1)) * scale
            if let m = mask { scores = scores + m }
            context = attentionDropout.apply(scores.softmax(), training: true).matmul(vh)
        } else {
            context = Tensor.scaledDotProductAttention(q: qh, k: kh, v: vh, mask: mask, scale: scale)
        }
        return output(mergeHeads(context))
    }

    /// `[B, T, H·D]` → `[B, H, T, D]`.
    func splitHeads(_ t: Tensor) -> Tensor {
        t.reshaped([t.shape[0], t.shape[1], numHeads, headDim]).permuted([0, 2, 1, 3])
    }

    /// `[B, H, T, D]` → `[B, T, H·D]`.
    func mergeHeads(_ t: Tensor) -> Tensor {
        t.permuted([0, 2, 1, 3]).reshaped([t.shape[0], t.shape[2], numHeads * headDim])
    }

    /// The additive mask for padding (`attentionMask [B, Tk − P]`, 1/0) and causality, with the
    /// first `prefixLength` key columns always visible: `[B, 1, 1, Tk]` for padding alone (one row
    /// broadcast over queries and heads), `[B or 1, 1, Tq, Tk]` with causality; nil when nothing is hidden.
    public static func additiveMask(attentionMask: Tensor?, batch: Int, queryLength tq: Int, keyLength tk: Int,
                                    prefixLength p: Int = 0, causal: Bool) -> Tensor? {
        if attentionMask == nil && !causal { return nil }
        let rows = attentionMask == nil ? 1 : batch
        let queries = causal ? tq : 1
        let selfKeys = tk - p
        var values = [Float](repeating: 0, count: rows * queries * tk)
        for b in 0..<rows {
            for i in 0..<queries {
                let base = (b * queries + i) * tk
                for j in 0..<selfKeys {
                    var hidden = false
                    if let m = attentionMask, m.storage[b * selfKeys + j] == 0 { hidden = true }
                    if causal && j > i { hidden = true }
                    if hidden { values[base + p + j] = maskValue }
                }
            }
        }
        return Tensor(values, shape: [rows, 1, queries, tk])
    }
}

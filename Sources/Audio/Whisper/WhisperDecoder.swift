import Core
import Foundation

/// The Whisper text decoder with Hugging Face's keys (relative to `model.decoder`):
/// `embed_tokens` (unscaled) + learned `embed_positions` → pre-norm `layers.N`
/// (`WhisperDecoderLayer`) → final `layer_norm`; logits are `h · embed_tokensᵀ` (the output
/// projection `proj_out` is tied to the token embedding, no bias).
///
/// ```swift
/// let hidden = try decoder.forward(tokens: ids, batch: 1, memory: encoderStates)  // teacher forcing
/// let logits = decoder.logits(hidden)                                              // [1, T, vocab]
/// ```
public final class WhisperDecoder: Module {
    public let config: WhisperConfig
    public let embedTokens: Embedding
    public let embedPositions: Embedding
    public let layers: ModuleList<WhisperDecoderLayer>
    public let layerNorm: LayerNorm

    /// Builds the decoder from weights at `path` (usually `store.root.pp("model.decoder")`).
    public init(config c: WhisperConfig, at path: ParamPath) throws {
        config = c
        embedTokens = try Embedding(count: c.vocabSize, dim: c.dModel, initStd: 0.02, at: path.pp("embed_tokens"))
        embedPositions = try Embedding(count: c.maxTargetPositions, dim: c.dModel, initStd: 0.02, at: path.pp("embed_positions"))
        layers = ModuleList(try (0..<c.decoderLayers).map {
            try WhisperDecoderLayer(config: c, at: path.pp("layers").pp(String($0)))
        })
        layerNorm = try LayerNorm(dim: c.dModel, eps: c.normEps, at: path.pp("layer_norm"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("embed_tokens", embedTokens), ("embed_positions", embedPositions), ("layers", layers), ("layer_norm", layerNorm)]
    }

    /// Token plus position embeddings of `tokens` (row-major `[batch, T]`) at positions
    /// `offset..<offset+T`. Throws for ids outside the vocabulary or positions past the table.
    public func embed(tokens: [Int], batch: Int, offset: Int = 0) throws -> Tensor {
        guard batch > 0, tokens.count % batch == 0 else {
            throw WhisperDecodeError("\(tokens.count) token ids do not split into \(batch) equal rows")
        }
        let t = tokens.count / batch
        guard offset + t <= config.maxTargetPositions else {
            throw WhisperDecodeError("\(offset + t) decoder positions exceed the model's \(config.maxTargetPositions); shorten the prompt or the maximum length")
        }
        let positions = embedPositions.weight.slice(axis: 0, offset..<(offset + t)).reshaped([1, t, config.dModel])
        return try embedTokens(tokens, shape: [batch, t]) + positions
    }

    /// Teacher-forced forward of whole sequences: `tokens [batch, T]` (row-major), `memory [batch, S, d]`,
    /// optional `memoryMask [batch, S]` (1 attend / 0 padding). Returns the final-normed states `[batch, T, d]`.
    public func forward(tokens: [Int], batch: Int, memory: Tensor, memoryMask: Tensor? = nil) throws -> Tensor {
        var h = try embed(tokens: tokens, batch: batch)
        for layer in layers.items { h = layer(h, memory: memory, memoryMask: memoryMask) }
        return layerNorm(h)
    }

    /// `hidden [..., d]` → logits `[..., vocab]` through the tied embedding.
    public func logits(_ hidden: Tensor) -> Tensor { hidden.linear(weight: embedTokens.weight) }

    /// Logits for decoding (no autograd): `hidden [rows, d]` → `[rows · vocab]` row-major. Up to
    /// `FewRowsProduct.maximumRows` rows (beam search, a few greedy windows) go row by row
    /// through sgemv over cache-sized blocks of the embedding instead of one sgemm that packs the
    /// whole 80 MB table every step (about a fifth less time for 5 beams; see `FewRowsProduct`).
    /// A row's logits then do not depend on how many hypotheses share the step.
    public func decodingLogits(_ hidden: Tensor) -> [Float] {
        let rows = hidden.shape.dropLast().reduce(1, *)
        if rows <= FewRowsProduct.maximumRows { return FewRowsProduct.multiply(hidden, weight: embedTokens.weight) }
        return withoutGrad { logits(hidden).storage }
    }

    /// A cache for incremental decoding whose cross-attention keys/values are computed now, once.
    /// `source[n]` is the memory item of hypothesis n (default: one row per item); `capacity`
    /// bounds the positions (default: the model's maximum).
    public func makeCache(memory: Tensor, memoryLengths: [Int]? = nil, source: [Int]? = nil, capacity: Int? = nil) -> WhisperKVCache {
        precondition(memory.rank == 3 && memory.shape[2] == config.dModel, "WhisperDecoder: memory must be [B, S, \(config.dModel)], got \(memory.shape)")
        let rows = source ?? Array(0..<memory.shape[0])
        precondition(rows.allSatisfy { $0 >= 0 && $0 < memory.shape[0] }, "WhisperDecoder: cache source outside the memory batch")
        return WhisperKVCache(decoder: self, memory: memory, memoryLengths: memoryLengths, source: rows,
                              capacity: min(capacity ?? config.maxTargetPositions, config.maxTargetPositions))
    }

    /// Feeds `tokens` (`[cache.rows, T]` row-major: T new positions per hypothesis) through the
    /// decoder against `cache`, extending it. Returns the final-normed states `[rows, T, d]`.
    public func step(tokens: [Int], cache: WhisperKVCache) throws -> Tensor {
        try withoutGrad {
            guard cache.rows > 0 else { throw WhisperDecodeError("the cache holds no hypotheses") }
            let t = tokens.count / cache.rows
            guard t > 0, cache.length + t <= cache.capacity else {
                throw WhisperDecodeError("cannot add \(t) positions to a cache at \(cache.length) of \(cache.capacity)")
            }
            var h = try embed(tokens: tokens, batch: cache.rows, offset: cache.length)
            for (i, layer) in layers.items.enumerated() { h = layer.step(h, cache: cache, index: i) }
            cache.advance(by: t)
            return layerNorm(h)
        }
    }
}

/// Decoding that cannot proceed (bad ids, too long), with what to change.
public struct WhisperDecodeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// What an encoder returns.
public struct EncoderOutput {
    /// Output of the last layer, `[B, T, C]` (prompt tokens removed unless kept).
    public var lastHiddenState: Tensor
    /// With `outputHiddenStates`: the input followed by every layer's output (HF's `hidden_states`,
    /// `numLayers + 1` entries); empty otherwise.
    public var hiddenStates: [Tensor]
    /// Number of prompt tokens that were in the sequence while the layers ran.
    public var promptLength: Int
}

/// A stack of encoder layers under `<stackKey>.N` (`encoder.layer.3…` for BERT/ViT/DINOv2,
/// `encoder.layers.3…` for CLIP/Whisper), with the prompt-tuning hook.
///
/// Prompt tuning: the `promptProvider`'s tokens for layer 0 are inserted at `promptPosition`
/// (0 = in front, 1 = after a class token) before the first layer and the attention mask gets
/// as many ones (shallow prompts). Before each later layer, a provider that returns tokens for
/// that layer overwrites those positions (deep prompts). Outputs drop the prompt positions unless
/// `keepPrompts` is set.
///
/// ```swift
/// let enc = try TransformerEncoder(config: cfg, layout: .bert, numLayers: 2, at: root.pp("encoder"))
/// let out = enc(x, attentionMask: mask).lastHiddenState
/// ```
public final class TransformerEncoder: Module {
    public let layers: ModuleList<TransformerEncoderLayer>
    public let stackKey: String
    /// Prompt-tuning hook, registered under `promptKey`.
    public var promptProvider: (any PromptProvider)?
    public var promptKey = "prompts"
    /// Sequence index where prompt tokens are inserted.
    public var promptPosition = 0

    /// A stack over existing layers.
    public init(layers: [TransformerEncoderLayer], stackKey: String) {
        self.layers = ModuleList(layers)
        self.stackKey = stackKey
        super.init()
    }

    /// Builds `numLayers` layers at `path.<layout.stackKey>.i`; each layer's dropout streams are
    /// derived from `seed` and its index.
    public convenience init(config: TransformerLayerConfig, layout: TransformerLayerLayout, numLayers: Int,
                            seed: UInt64 = 0, at path: ParamPath) throws {
        let root = SplitMix64(seed: seed)
        var built: [TransformerEncoderLayer] = []
        for i in 0..<numLayers {
            var g = root.fork(UInt64(i + 1))
            built.append(try TransformerEncoderLayer(config: config, layout: layout, seed: g.next(),
                                                     at: path.pp(layout.stackKey).pp(String(i))))
        }
        self.init(layers: built, stackKey: layout.stackKey)
    }

    override public func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = [(stackKey, layers)]
        if let p = promptProvider { out.append((promptKey, p)) }
        return out
    }

    /// Runs every layer. `x [B, T, C]`, `attentionMask [B, T]` of 1/0.
    public func callAsFunction(_ x: Tensor, attentionMask: Tensor? = nil, causal: Bool = false,
                               outputHiddenStates: Bool = false, keepPrompts: Bool = false) -> EncoderOutput {
        precondition(x.rank == 3, "TransformerEncoder: input must be [B, T, C], got \(x.shape)")
        let batch = x.shape[0]
        var h = x
        var mask = attentionMask
        var promptLength = 0
        var hidden: [Tensor] = outputHiddenStates ? [x] : []
        for (i, layer) in layers.items.enumerated() {
            if let provider = promptProvider, let prompts = provider.prompts(layer: i, batch: batch) {
                precondition(prompts.rank == 3 && prompts.shape[0] == batch && prompts.shape[2] == x.shape[2],
                             "TransformerEncoder: prompts \(prompts.shape) must be [\(batch), P, \(x.shape[2])]")
                if i == 0 || promptLength == 0 {
                    precondition(promptPosition >= 0 && promptPosition <= h.shape[1],
                                 "TransformerEncoder: prompt position \(promptPosition) outside 0...\(h.shape[1])")
                    promptLength = prompts.shape[1]
                    h = Self.insert(prompts, into: h, at: promptPosition)
                    mask = mask.map { Self.insert(Tensor.ones([batch, promptLength, 1]), into: $0.reshaped([batch, -1, 1]), at: promptPosition).reshaped([batch, -1]) }
                } else {
                    precondition(prompts.shape[1] == promptLength, "TransformerEncoder: deep prompts for layer \(i) have \(prompts.shape[1]) tokens, expected \(promptLength)")
                    h = Self.insert(prompts, into: Self.remove(promptLength, from: h, at: promptPosition), at: promptPosition)
                }
            }
            h = layer(h, attentionMask: mask, causal: causal)
            if outputHiddenStates { hidden.append(keepPrompts ? h : Self.remove(promptLength, from: h, at: promptPosition)) }
        }
        let last = keepPrompts ? h : Self.remove(promptLength, from: h, at: promptPosition)
        return EncoderOutput(lastHiddenState: last, hiddenStates: hidden, promptLength: promptLength)
    }

    /// `tokens [B, P, C]` placed at sequence index `position` of `x [B, T, C]`.
    static func insert(_ tokens: Tensor, into x: Tensor, at position: Int) -> Tensor {
        let t = x.shape[1]
        var parts: [Tensor] = []
        if position > 0 { parts.append(x.slice(axis: 1, 0..<position)) }
        parts.append(tokens)
        if position < t { parts.append(x.slice(axis: 1, position..<t)) }
        return Tensor.concat(parts, axis: 1)
    }

    /// `x` without the `count` tokens starting at `position`.
    static func remove(_ count: Int, from x: Tensor, at position: Int) -> Tensor {
        guard count > 0 else { return x }
        let t = x.shape[1]
        var parts: [Tensor] = []
        if position > 0 { parts.append(x.slice(axis: 1, 0..<position)) }
        if position + count < t { parts.append(x.slice(axis: 1, (position + count)..<t)) }
        if parts.isEmpty { return x.slice(axis: 1, 0..<0) }
        return parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 1)
    }
}

/// Hook points where adapters that are not attached to a single `Linear` plug into the
/// transformer layers. Core's layers call these; the concrete adapters live in `Adapters/`.

/// Where in a transformer layer a sequence adapter sits.
public enum SublayerSite: String, Sendable, CaseIterable {
    /// After the self-attention block's output projection.
    case attention
    /// After the feed-forward block's output projection.
    case feedForward
}

/// An adapter acting on a sublayer's output sequence `[B, T, C]`: bottleneck adapters
/// (series: `output + f(output)`; parallel: `output + f(input)`), FiLM/SSF scale-shift.
/// The layer calls it on the sublayer output *before* the residual add (and before the
/// post-norm LayerNorm in BERT-style layers).
public protocol SequenceAdapter: Module {
    /// `input`: the sublayer's input; `output`: the sublayer's output. Returns the new output.
    func forward(input: Tensor, output: Tensor) -> Tensor
}

/// Prefix tuning: learned key/value vectors prepended to a layer's attention keys and values
/// *after* the K/V projections (so they bypass them), visible to every query.
public protocol AttentionPrefix: Module {
    /// Prefix keys and values for a batch, each `[B, P, C]` with C the model width.
    func keysValues(batch: Int) -> (keys: Tensor, values: Tensor)
}

/// Prompt tuning: learned tokens prepended to the layer input sequence. Shallow prompts are
/// inserted once before the first layer; deep prompts replace the previous layer's prompt
/// tokens before every layer.
public protocol PromptProvider: Module {
    /// Number of prompt tokens.
    var length: Int { get }
    /// Prompt tokens for layer `layer` (nil: keep what is there), `[B, P, C]`.
    func prompts(layer: Int, batch: Int) -> Tensor?
}

/// How learned prompt/prefix vectors start.
public enum PromptInit: Equatable, Sendable {
    /// U(−bound, bound). VPT / PETL-AST: bound = √(6 / (3·16·16 + d)) (Xavier over patch dims).
    case uniform(bound: Float)
    /// N(0, std²). peft's `nn.Embedding` default is std 1.
    case normal(std: Float)

    /// VPT's bound for patch size `patch` and width `d`.
    public static func vpt(patch: Int = 16, width d: Int) -> PromptInit {
        .uniform(bound: (6 / Float(3 * patch * patch + d)).squareRoot())
    }

    func make(_ shape: [Int], rng: inout SplitMix64) -> Tensor {
        switch self {
        case let .uniform(b): return Tensor.uniform(shape, low: -b, high: b, using: &rng, requiresGrad: true)
        case let .normal(s): return Tensor.normal(shape, std: s, using: &rng, requiresGrad: true)
        }
    }
}

/// Prompt tuning (Lester et al. 2021; VPT, Jia et al. 2022): P learned tokens put into the
/// sequence. Shallow: one set inserted before the first layer (peft's `PROMPT_TUNING`).
/// Deep: a set per layer; layer 0's set is inserted and each later layer overwrites the prompt
/// positions with its own set (VPT-deep, PETL-AST).
///
/// Where the tokens go (in front, or after a class token) and the attention-mask extension
/// are the encoder's job (`TransformerEncoder.promptPosition`).
/// Key: `prompt_embeddings`, `[P, C]` (shallow, as peft) or `[L, P, C]` (deep).
///
/// ```swift
/// let prompts = PromptTuning(length: 25, width: 768, layers: 12, initialization: .vpt(width: 768), seed: 10)
/// encoder.promptProvider = prompts
/// ```
public final class PromptTuning: Module, PromptProvider {
    /// `[P, C]` (shallow) or `[L, P, C]` (deep).
    public let embeddings: Tensor
    public let isDeep: Bool
    public var length: Int { isDeep ? embeddings.shape[1] : embeddings.shape[0] }
    public var width: Int { embeddings.shape.last! }

    /// `layers: nil` for shallow prompts, or the number of layers for deep prompts.
    public init(length: Int, width: Int, layers: Int? = nil, initialization: PromptInit = .normal(std: 1), seed: UInt64) {
        precondition(length > 0 && width > 0 && (layers ?? 1) > 0, "PromptTuning: sizes must be positive")
        var rng = SplitMix64(seed: seed)
        isDeep = layers != nil
        embeddings = initialization.make(layers.map { [$0, length, width] } ?? [length, width], rng: &rng)
        super.init()
    }

    /// Shallow prompts initialised from rows of a (frozen) token embedding matrix, as peft's
    /// `prompt_tuning_init="TEXT"` does with the tokenised init text.
    public init(copyingRows rows: [Int], of tokenEmbeddings: Tensor) {
        precondition(tokenEmbeddings.rank == 2 && rows.allSatisfy { $0 >= 0 && $0 < tokenEmbeddings.shape[0] }, "PromptTuning: rows outside the embedding matrix")
        embeddings = tokenEmbeddings.detached().indexSelect(axis: 0, rows)
        embeddings.requiresGrad = true
        isDeep = false
        super.init()
    }

    override public func namedLocalParameters() -> [(String, Tensor)] { [("prompt_embeddings", embeddings)] }

    public func prompts(layer: Int, batch: Int) -> Tensor? {
        let set: Tensor
        if isDeep {
            guard layer < embeddings.shape[0] else { return nil }
            set = embeddings.slice(axis: 0, layer..<(layer + 1)).reshaped([length, width])
        } else {
            guard layer == 0 else { return nil }
            set = embeddings
        }
        return set.reshaped([1, length, width]).expand(to: [batch, length, width])
    }
}

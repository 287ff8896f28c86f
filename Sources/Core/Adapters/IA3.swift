/// (IA)³ (Liu et al. 2022) as peft's `ia3.Linear`: a learned vector `l` rescales either the
/// layer's output (keys, values: `y = (W·x + b) ⊙ l`, `l [out, 1]`) or, for feed-forward
/// modules, its input (`y = W·(x ⊙ l) + b`, `l [1, in]`). `l` starts at ones, so the model
/// starts unchanged. Key: `ia3_l`, shaped as peft saves it.
///
/// ```swift
/// value.attach(IA3(layer: value, feedforward: false))
/// ```
public final class IA3: Module, ManagedLinearAdapter {
    /// The scaling vector, `[out, 1]` (output scaling) or `[1, in]` (feed-forward input scaling).
    public let scale: Tensor
    public let isFeedforward: Bool
    public var adapterName = "default"

    public init(layer: Linear, feedforward: Bool) {
        isFeedforward = feedforward
        scale = Tensor.ones(feedforward ? [1, layer.inFeatures] : [layer.outFeatures, 1], requiresGrad: true)
        super.init()
    }

    public func stateEntries() -> [(String, Tensor)] { [("ia3_l", scale)] }
    override public func namedLocalParameters() -> [(String, Tensor)] { taggedEntries() }
    public var isMergeable: Bool { true }

    public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        if isFeedforward {
            // The base output cannot be reused: the scaling acts before the weight.
            return (input * scale.reshaped([layer.inFeatures])).linear(weight: layer.weight, bias: layer.bias)
        }
        return baseOutput * scale.reshaped([layer.outFeatures])
    }

    /// peft: feed-forward scales the weight's columns; otherwise its rows and the bias.
    public func merge(into layer: Linear) { apply(to: layer, inverse: false) }

    /// peft divides by `l + 1e-8`; dividing by `l` itself restores the weight exactly up to
    /// rounding and fails loudly only when an entry is exactly zero.
    public func unmerge(from layer: Linear) { apply(to: layer, inverse: true) }

    private func apply(to layer: Linear, inverse: Bool) {
        let out = layer.outFeatures, inF = layer.inFeatures
        let l = scale.storage
        let f: (Float) -> Float = { inverse ? 1 / $0 : $0 }
        for i in 0..<out {
            for j in 0..<inF { layer.weight.storage[i * inF + j] *= f(isFeedforward ? l[j] : l[i]) }
        }
        if !isFeedforward, let b = layer.bias {
            for i in 0..<out { b.storage[i] *= f(l[i]) }
        }
    }
}

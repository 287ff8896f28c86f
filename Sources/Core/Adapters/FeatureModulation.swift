/// Per-channel scale and shift, one pair per condition: `y = γ[c] ⊙ x + β[c]` (SSF, Lian et
/// al. 2022; FiLM, Perez et al. 2018). The condition id of each sample is set before the
/// forward (`conditions = [0, 2, …]`, one per batch row), e.g. which modality is missing.
///
/// Used at a transformer `SublayerSite` (acts on the sublayer output) or after a `Linear`
/// (acts on its output; mergeable when there is a single condition and the layer has a bias).
/// Keys: `scale` and `shift`, each `[conditions, C]`.
///
/// ```swift
/// let film = FeatureModulation(width: 768, conditions: 3)
/// layer.setAdapter(film, at: .feedForward); film.conditions = [0, 2]
/// ```
public final class FeatureModulation: Module, SequenceAdapter, ManagedLinearAdapter {
    /// γ `[conditions, C]`.
    public let scale: Tensor
    /// β `[conditions, C]`.
    public let shift: Tensor
    /// Condition id per batch row; nil means condition 0 for every row.
    public var conditions: [Int]?
    public var adapterName = "default"

    public enum Initialization: Equatable, Sendable {
        /// γ = 1, β = 0: the model starts unchanged.
        case identity
        /// SSF's init: γ ~ N(1, std²), β ~ N(0, std²) (std 0.02 in the paper).
        case ssf(std: Float)
    }

    public init(width: Int, conditions: Int = 1, initialization: Initialization = .identity, seed: UInt64 = 0) {
        precondition(width > 0 && conditions > 0, "FeatureModulation: width and conditions must be positive")
        switch initialization {
        case .identity:
            scale = Tensor.ones([conditions, width], requiresGrad: true)
            shift = Tensor.zeros([conditions, width], requiresGrad: true)
        case let .ssf(std):
            var rng = SplitMix64(seed: seed)
            scale = Tensor.normal([conditions, width], mean: 1, std: std, using: &rng, requiresGrad: true)
            shift = Tensor.normal([conditions, width], std: std, using: &rng, requiresGrad: true)
        }
        super.init()
    }

    public var conditionCount: Int { scale.shape[0] }
    public var width: Int { scale.shape[1] }

    public func stateEntries() -> [(String, Tensor)] { [("scale", scale), ("shift", shift)] }
    override public func namedLocalParameters() -> [(String, Tensor)] { taggedEntries() }
    public var isMergeable: Bool { conditionCount == 1 }

    /// Modulates `x [B, …, C]` with each row's condition.
    public func modulate(_ x: Tensor) -> Tensor {
        precondition(x.shape.last == width, "FeatureModulation: input \(x.shape) does not end in \(width)")
        guard let ids = conditions else {
            return x * scale.slice(axis: 0, 0..<1).reshaped([width]) + shift.slice(axis: 0, 0..<1).reshaped([width])
        }
        precondition(ids.count == x.shape[0], "FeatureModulation: \(ids.count) condition ids for batch \(x.shape[0])")
        precondition(ids.allSatisfy { $0 >= 0 && $0 < conditionCount }, "FeatureModulation: condition ids \(ids) outside 0..<\(conditionCount)")
        let shape = [x.shape[0]] + [Int](repeating: 1, count: x.rank - 2) + [width]
        let g = scale.indexSelect(axis: 0, ids).reshaped(shape)
        let b = shift.indexSelect(axis: 0, ids).reshaped(shape)
        return x * g + b
    }

    public func forward(input: Tensor, output: Tensor) -> Tensor { modulate(output) }

    public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor { modulate(baseOutput) }

    /// `W ← diag(γ)·W`, `b ← γ ⊙ b + β` (single condition, layer with a bias).
    public func merge(into layer: Linear) {
        precondition(isMergeable && layer.bias != nil, "FeatureModulation: merging needs one condition and a layer bias")
        let out = layer.outFeatures, inF = layer.inFeatures
        for i in 0..<out {
            for j in 0..<inF { layer.weight.storage[i * inF + j] *= scale.storage[i] }
            layer.bias!.storage[i] = layer.bias!.storage[i] * scale.storage[i] + shift.storage[i]
        }
    }

    public func unmerge(from layer: Linear) {
        let out = layer.outFeatures, inF = layer.inFeatures
        for i in 0..<out {
            for j in 0..<inF { layer.weight.storage[i * inF + j] /= scale.storage[i] }
            layer.bias!.storage[i] = (layer.bias!.storage[i] - shift.storage[i]) / scale.storage[i]
        }
    }
}

/// Weight-decomposed LoRA (Liu et al. 2024), computed exactly as peft's `DoraLinearLayer`:
///
///     W' = m ⊙ (W + s·B·A) / ‖W + s·B·A‖_row
///
/// `m [out]` is trainable and starts at the row norms of `W + s·B·A` (the norm of each output
/// row, over the input axis; with B = 0 that is `‖W_row‖`, so the model starts unchanged).
/// The norm is treated as a constant in the backward pass (the paper's §4.3 and peft's
/// `weight_norm.detach()`), so gradients reach `m`, A and B only through
/// `y = b + (m / ‖·‖) ⊙ (W·x + s·B·A·x)`.
///
/// Keys: `lora_A.weight`, `lora_B.weight`, `lora_magnitude_vector` (as peft saves them).
///
/// ```swift
/// let dora = try DoRA(layer: query, rank: 8, scaling: 2, seed: 1)
/// query.attach(dora)
/// ```
public final class DoRA: LoRA {
    /// Per-output-row magnitude `[out]` (trainable).
    public let magnitude: Tensor
    /// The scale `m / ‖W + ΔW‖` used by the last merge, so unmerge divides by the same numbers.
    private var mergedFactor: [Float]?

    /// DoRA over existing factors and magnitude (loading, tests).
    public init(a: Tensor, b: Tensor, magnitude: Tensor, scaling: Float, dropout: Float = 0, seed: UInt64 = 0) {
        precondition(magnitude.shape == [b.shape[0]], "DoRA: magnitude \(magnitude.shape) must be [\(b.shape[0])]")
        self.magnitude = magnitude
        super.init(a: a, b: b, scaling: scaling, dropout: dropout, dropoutSite: .input, seed: seed)
        magnitude.requiresGrad = true
    }

    /// Fresh factors as in `LoRA`, magnitude = row norms of `layer.weight + s·B·A`.
    public convenience init(
        layer: Linear, rank: Int, scaling: Float, dropout: Float = 0, initialization: LoRAInit = .kaimingA,
        seed: UInt64, key: String = "DoRA"
    ) throws {
        let lora = try LoRA(
            inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, rank: rank, scaling: scaling, dropout: dropout,
            initialization: initialization, seed: seed, key: key)
        let m = Tensor(DoRA.weightNorms(layer: layer, a: lora.loraA, b: lora.loraB, scaling: scaling), shape: [layer.outFeatures])
        self.init(a: lora.loraA, b: lora.loraB, magnitude: m, scaling: scaling, dropout: dropout, seed: seed &+ 1)
    }

    override public func stateEntries() -> [(String, Tensor)] {
        super.stateEntries() + [("lora_magnitude_vector", magnitude)]
    }

    /// `‖W + s·B·A‖` per output row (no gradient).
    static func weightNorms(layer: Linear, a: Tensor, b: Tensor, scaling: Float) -> [Float] {
        var w = layer.weight.storage
        addProduct(&w, b.storage, a.storage, m: layer.outFeatures, n: layer.inFeatures, k: a.shape[0], alpha: scaling)
        return rowNorms(w, rows: layer.outFeatures, cols: layer.inFeatures)
    }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        checkShapes(layer)
        let norms = Tensor(DoRA.weightNorms(layer: layer, a: loraA, b: loraB, scaling: scaling), shape: [layer.outFeatures])
        let scale = magnitude / norms  // [out]; gradient to m only (the norm is a constant)
        let dropped = layer.isTraining && dropout > 0
        let x = dropped ? seededDropout(input, p: dropout, rng: &dropoutRNG) : input
        // peft reuses the base result without its bias when there is no dropout, and
        // recomputes W·x on the dropped-out input otherwise.
        let plain: Tensor
        if dropped {
            plain = x.linear(weight: layer.weight)
        } else if let bias = layer.bias {
            plain = baseOutput - bias
        } else {
            plain = baseOutput
        }
        return baseOutput + (scale - 1) * plain + scale * lowRankDelta(x)
    }

    override public func merge(into layer: Linear) {
        checkShapes(layer)
        let out = layer.outFeatures, inF = layer.inFeatures
        var w = layer.weight.storage
        addProduct(&w, loraB.storage, loraA.storage, m: out, n: inF, k: rank, alpha: scaling)
        let norms = rowNorms(w, rows: out, cols: inF)
        let factor = (0..<out).map { magnitude.storage[$0] / norms[$0] }
        for i in 0..<out { for j in 0..<inF { w[i * inF + j] *= factor[i] } }
        layer.weight.storage = w
        mergedFactor = factor
    }

    override public func unmerge(from layer: Linear) {
        checkShapes(layer)
        guard let factor = mergedFactor else { return }
        let out = layer.outFeatures, inF = layer.inFeatures
        var w = layer.weight.storage
        for i in 0..<out { for j in 0..<inF { w[i * inF + j] /= factor[i] } }
        addProduct(&w, loraB.storage, loraA.storage, m: out, n: inF, k: rank, alpha: -scaling)
        layer.weight.storage = w
        mergedFactor = nil
    }
}

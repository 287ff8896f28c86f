/// Something attached to a `Linear` that changes its output: LoRA, DoRA, singular-value
/// tuning, (IA)³… The frozen base stays in the `Linear`; checkpoint keys of the base are
/// unchanged (no `base_layer` segment) and the adapter's own keys appear beside them
/// (`query.lora_A.weight`) through its `namedChildren()` / `namedLocalParameters()`.
public protocol LinearAdapter: Module {
    /// The adapted output, given the layer input and the frozen base output `x·Wᵀ + b`.
    func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor
    /// Folds the adapter into `layer.weight` / `layer.bias` (no-grad). After merging, the
    /// layer's plain forward equals the adapted forward.
    func merge(into layer: Linear)
    /// Undoes `merge(into:)`.
    func unmerge(from layer: Linear)
}

/// An adapter whose whole effect is a new weight, `y = x·W'ᵀ + b` (singular-value tuning).
/// A `Linear` whose only active adapter is one of these runs one GEMM with `W'` instead of the
/// base GEMM plus the adapter's own products; `W'` carries the gradient to the adapter.
public protocol LinearWeightAdapter: LinearAdapter {
    /// The adapted weight `[out, in]`, recording the gradient to the adapter's parameters (and
    /// to `layer.weight` when that trains).
    func adaptedWeight(layer: Linear) -> Tensor
}

/// `y = x·Wᵀ + b` with `weight [out, in]` as PyTorch's `nn.Linear`, plus an adapter slot.
///
/// ```swift
/// let q = try Linear(inFeatures: 384, outFeatures: 384, at: path.pp("query"))
/// let y = q(x)   // base output plus every active adapter
/// ```
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }
    /// Attached adapters by name, applied in order (usually one, named "default").
    public private(set) var adapters: [(name: String, adapter: any LinearAdapter)] = []
    /// When false the layer computes the base output only.
    public var adaptersEnabled = true
    /// Names of adapters currently folded into the weight.
    public private(set) var mergedAdapters: [String] = []

    /// A layer over existing tensors (`weight [out, in]`, `bias [out]`).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear: weight must be [out, in], got \(weight.shape)")
        if let b = bias { precondition(b.shape == [weight.shape[0]], "Linear: bias \(b.shape) vs weight \(weight.shape)") }
        self.weight = weight
        self.bias = bias
        super.init()
    }

    /// A freshly initialised trainable layer with PyTorch's default init
    /// (Kaiming-uniform weight, bias uniform in ±1/√in).
    public convenience init<G: RandomNumberGenerator>(inFeatures: Int, outFeatures: Int, bias: Bool = true, using rng: inout G) {
        let w = Tensor.kaimingUniform([outFeatures, inFeatures], using: &rng, requiresGrad: true)
        let bound = 1 / Float(max(inFeatures, 1)).squareRoot()
        let b = bias ? Tensor.uniform([outFeatures], low: -bound, high: bound, using: &rng, requiresGrad: true) : nil
        self.init(weight: w, bias: b)
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        var out = [("weight", weight)]
        if let b = bias { out.append(("bias", b)) }
        for (_, a) in adapters { out += a.namedLocalParameters() }
        return out
    }

    override public func namedChildren() -> [(String, Module)] {
        adapters.flatMap { $0.adapter.namedChildren() }
    }

    /// Base output plus active, unmerged adapters.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if adaptersEnabled, adapters.count == 1, mergedAdapters.isEmpty, let a = adapters[0].adapter as? any LinearWeightAdapter {
            return x.linear(weight: a.adaptedWeight(layer: self), bias: bias)
        }
        var y = x.linear(weight: weight, bias: bias)
        guard adaptersEnabled else { return y }
        for (name, a) in adapters where !mergedAdapters.contains(name) {
            y = a.forward(input: x, baseOutput: y, layer: self)
        }
        return y
    }

    /// Attaches an adapter under `name`; a second adapter with the same name is an error.
    public func attach(_ adapter: any LinearAdapter, name: String = "default") {
        precondition(!adapters.contains { $0.name == name }, "Linear: adapter '\(name)' is already attached")
        adapters.append((name, adapter))
    }

    /// Removes an adapter (unmerging it first if merged) and returns it.
    @discardableResult
    public func detach(name: String = "default") -> (any LinearAdapter)? {
        guard let i = adapters.firstIndex(where: { $0.name == name }) else { return nil }
        if mergedAdapters.contains(name) { unmerge(name: name) }
        return adapters.remove(at: i).adapter
    }

    /// Folds adapter `name` into the weight so inference costs one GEMM.
    public func merge(name: String = "default") {
        guard let a = adapters.first(where: { $0.name == name })?.adapter, !mergedAdapters.contains(name) else { return }
        withoutGrad { a.merge(into: self) }
        mergedAdapters.append(name)
    }

    /// Restores the base weight from a merged adapter.
    public func unmerge(name: String = "default") {
        guard let a = adapters.first(where: { $0.name == name })?.adapter, mergedAdapters.contains(name) else { return }
        withoutGrad { a.unmerge(from: self) }
        mergedAdapters.removeAll { $0 == name }
    }
}

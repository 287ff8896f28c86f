/// Prefix tuning (Li & Liang 2021): per attention layer, P learned key and value vectors put
/// in front of the projected keys and values, visible to every query.
///
/// Two parameterisations, as peft's `PrefixEncoder`:
/// - flat: each layer owns `keys [P, C]` and `values [P, C]` directly;
/// - reparameterised (`prefix_projection`): one embedding `[P, C]` through
///   `Linear(C → h) → tanh → Linear(h → L·2·C)` gives every layer's keys and values; after
///   training the MLP can be folded away with `flattened()`.
///
/// Layer `i` reads columns `[2i·C, (2i+1)·C)` as keys and `[(2i+1)·C, (2i+2)·C)` as values of
/// the `[P, L·2·C]` matrix, which is peft's `past_key_values` layout; `peftEmbedding()` returns
/// that matrix (what peft saves as `prompt_embeddings`).
///
/// ```swift
/// let prefix = PrefixTuning(layers: 12, length: 12, width: 768, initialization: .vpt(width: 768), seed: 3)
/// for (i, layer) in encoder.layers.enumerated() { layer.prefix = prefix.layer(i) }
/// ```
public final class PrefixTuning {
    public let layerCount: Int
    public let length: Int
    public let width: Int
    /// Per-layer hooks to hand to each attention.
    public let layers: [LayerPrefix]
    /// Reparameterisation (nil in flat mode): embedding `[P, C]`, then the MLP.
    let shared: PrefixReparameterization?
    public var embedding: Tensor? { shared?.embedding }
    public var projection: (Linear, Linear)? { shared.map { ($0.first, $0.second) } }

    /// Flat prefixes: each layer's keys and values drawn from `initialization`.
    public init(layers: Int, length: Int, width: Int, initialization: PromptInit = .normal(std: 1), seed: UInt64) {
        precondition(layers > 0 && length > 0 && width > 0, "PrefixTuning: sizes must be positive")
        var rng = SplitMix64(seed: seed)
        layerCount = layers
        self.length = length
        self.width = width
        shared = nil
        self.layers = (0..<layers).map { i in
            LayerPrefix(keys: initialization.make([length, width], rng: &rng), values: initialization.make([length, width], rng: &rng), shared: nil, index: i)
        }
    }

    /// Reparameterised prefixes with hidden size `hidden` (peft's `encoder_hidden_size`).
    public init(layers: Int, length: Int, width: Int, hidden: Int, seed: UInt64) {
        precondition(layers > 0 && length > 0 && width > 0 && hidden > 0, "PrefixTuning: sizes must be positive")
        var rng = SplitMix64(seed: seed)
        layerCount = layers
        self.length = length
        self.width = width
        let e = Tensor.normal([length, width], using: &rng, requiresGrad: true)
        let first = Linear(inFeatures: width, outFeatures: hidden, using: &rng)
        let second = Linear(inFeatures: hidden, outFeatures: layers * 2 * width, using: &rng)
        let reparam = PrefixReparameterization(embedding: e, first: first, second: second, width: width)
        shared = reparam
        self.layers = (0..<layers).map { LayerPrefix(keys: nil, values: nil, shared: reparam, index: $0) }
    }

    /// The hook for layer `i`.
    public func layer(_ i: Int) -> LayerPrefix { layers[i] }

    /// All trainable tensors (for an optimizer when the hooks are not in the module tree).
    public func parameters() -> [Tensor] {
        if let e = embedding, let (a, b) = projection { return [e] + a.parameters() + b.parameters() }
        return layers.flatMap { [$0.keys!, $0.values!] }
    }


    /// peft's saved `prompt_embeddings`: `[P, L·2·C]` in `past_key_values` order.
    public func peftEmbedding() -> Tensor {
        if let r = shared { return withoutGrad { r.projected() } }
        return withoutGrad {
            Tensor.concat(layers.flatMap { [$0.keys!, $0.values!] }, axis: 1)
        }
    }

    /// Flat prefixes holding this model's current keys and values (the MLP folded away).
    public func flattened() -> PrefixTuning {
        let flat = PrefixTuning(layers: layerCount, length: length, width: width, seed: 0)
        let all = peftEmbedding()
        for i in 0..<layerCount {
            flat.layers[i].keys!.storage = all.slice(axis: 1, (2 * i * width)..<((2 * i + 1) * width)).storage
            flat.layers[i].values!.storage = all.slice(axis: 1, ((2 * i + 1) * width)..<((2 * i + 2) * width)).storage
        }
        return flat
    }

    /// Loads peft's `[P, L·2·C]` matrix into a flat model.
    public static func fromPeftEmbedding(_ m: Tensor, layers: Int) throws -> PrefixTuning {
        guard m.rank == 2, layers > 0, m.shape[1] % (2 * layers) == 0 else {
            throw AdapterError.invalidSetting("prefix prompt_embeddings \(m.shape) is not [P, \(layers)·2·C]; check num_layers")
        }
        let width = m.shape[1] / (2 * layers)
        let flat = PrefixTuning(layers: layers, length: m.shape[0], width: width, seed: 0)
        for i in 0..<layers {
            flat.layers[i].keys!.storage = m.slice(axis: 1, (2 * i * width)..<((2 * i + 1) * width)).storage
            flat.layers[i].values!.storage = m.slice(axis: 1, ((2 * i + 1) * width)..<((2 * i + 2) * width)).storage
        }
        return flat
    }
}

/// One attention layer's prefix hook. In flat mode it owns `keys` and `values` (keys
/// `prefix.keys`, `prefix.values` in the module tree); in reparameterised mode layer 0 also
/// lists the shared embedding and MLP so they appear once in `namedParameters()`.
public final class LayerPrefix: Module, AttentionPrefix {
    public let keys: Tensor?
    public let values: Tensor?
    let shared: PrefixReparameterization?
    public let index: Int

    init(keys: Tensor?, values: Tensor?, shared: PrefixReparameterization?, index: Int) {
        self.keys = keys
        self.values = values
        self.shared = shared
        self.index = index
        super.init()
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        if let k = keys, let v = values { return [("keys", k), ("values", v)] }
        if index == 0, let r = shared { return [("embedding", r.embedding)] }
        return []
    }

    override public func namedChildren() -> [(String, Module)] {
        guard index == 0, let r = shared else { return [] }
        return [("transform", ModuleListOfTwo(r.first, r.second))]
    }

    public func keysValues(batch: Int) -> (keys: Tensor, values: Tensor) {
        let k: Tensor, v: Tensor
        if let kk = keys, let vv = values {
            (k, v) = (kk, vv)
        } else {
            let r = shared!
            let all = r.projected()  // recomputed per layer: P×(C·h + h·2LC), small next to attention
            k = all.slice(axis: 1, (2 * index * r.width)..<((2 * index + 1) * r.width))
            v = all.slice(axis: 1, ((2 * index + 1) * r.width)..<((2 * index + 2) * r.width))
        }
        let p = k.shape[0], c = k.shape[1]
        return (k.reshaped([1, p, c]).expand(to: [batch, p, c]), v.reshaped([1, p, c]).expand(to: [batch, p, c]))
    }
}

/// The shared embedding and MLP of reparameterised prefixes.
final class PrefixReparameterization {
    let embedding: Tensor
    let first: Linear
    let second: Linear
    let width: Int

    init(embedding: Tensor, first: Linear, second: Linear, width: Int) {
        self.embedding = embedding
        self.first = first
        self.second = second
        self.width = width
    }

    /// `[P, L·2·C]`.
    func projected() -> Tensor { second(first(embedding).tanh()) }
}

/// peft's `transform = Sequential(Linear, Tanh, Linear)`: Linears under keys `0` and `2`.
final class ModuleListOfTwo: Module {
    let a: Module, b: Module
    init(_ a: Module, _ b: Module) {
        self.a = a
        self.b = b
        super.init()
    }
    override func namedChildren() -> [(String, Module)] { [("0", a), ("2", b)] }
}

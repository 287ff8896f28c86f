import Core
import TestSupport

/// peft's `test_custom_models` MLP: `lin1(relu(lin0(x)))`.
final class AdapterMLP: Module {
    let lin0: Linear
    let lin1: Linear

    init(inFeatures: Int = 6, hidden: Int = 10, outFeatures: Int = 4, seed: UInt64 = 1) {
        var rng = SplitMix64(seed: seed)
        lin0 = Linear(inFeatures: inFeatures, outFeatures: hidden, using: &rng)
        lin1 = Linear(inFeatures: hidden, outFeatures: outFeatures, using: &rng)
        super.init()
    }

    override func namedChildren() -> [(String, Module)] { [("lin0", lin0), ("lin1", lin1)] }

    func callAsFunction(_ x: Tensor) -> Tensor { lin1(lin0(x).relu()) }
}

/// A tiny pre-LN-free attention block built from Linears only (so it needs nothing from the
/// NN helpers): single-head attention with q/k/v/o projections, a two-layer MLP, residuals,
/// stacked under `encoder.layers.<i>` (peft reads the layer index from such keys), and a
/// `classifier` head.
final class AdapterBlock: Module {
    let q: Linear, k: Linear, v: Linear, o: Linear, fc1: Linear, fc2: Linear
    let attn: ModuleTreeLite
    let mlp: ModuleTreeLite

    init(width d: Int, hidden: Int, rng: inout SplitMix64) {
        q = Linear(inFeatures: d, outFeatures: d, using: &rng)
        k = Linear(inFeatures: d, outFeatures: d, using: &rng)
        v = Linear(inFeatures: d, outFeatures: d, using: &rng)
        o = Linear(inFeatures: d, outFeatures: d, using: &rng)
        fc1 = Linear(inFeatures: d, outFeatures: hidden, using: &rng)
        fc2 = Linear(inFeatures: hidden, outFeatures: d, using: &rng)
        attn = ModuleTreeLite([("q_proj", q), ("k_proj", k), ("v_proj", v), ("o_proj", o)])
        mlp = ModuleTreeLite([("fc1", fc1), ("fc2", fc2)])
        super.init()
    }

    override func namedChildren() -> [(String, Module)] { [("attn", attn), ("mlp", mlp)] }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let d = Float(x.shape.last!)
        let scores = (q(x).matmul(k(x).transposed()) / d.squareRoot()).softmax()
        let h = x + o(scores.matmul(v(x)))
        // SiLU, not ReLU: finite differences must not straddle a kink (a pre-activation
        // 3e-3 from zero broke a ReLU version at eps 1e-3).
        return h + fc2(fc1(h).silu())
    }
}

/// A flat container with fixed children.
final class ModuleTreeLite: Module {
    let children: [(String, Module)]
    init(_ children: [(String, Module)]) {
        self.children = children
        super.init()
    }
    override func namedChildren() -> [(String, Module)] { children }
}

final class AdapterAttentionModel: Module {
    let layers: ModuleList<AdapterBlock>
    let encoder: ModuleTreeLite
    let classifier: Linear

    init(width: Int = 8, hidden: Int = 12, depth: Int = 2, classes: Int = 3, seed: UInt64 = 5) {
        var rng = SplitMix64(seed: seed)
        layers = ModuleList((0..<depth).map { _ in AdapterBlock(width: width, hidden: hidden, rng: &rng) })
        encoder = ModuleTreeLite([("layers", layers)])
        classifier = Linear(inFeatures: width, outFeatures: classes, using: &rng)
        super.init()
    }

    override func namedChildren() -> [(String, Module)] { [("encoder", encoder), ("classifier", classifier)] }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for l in layers.items { h = l(h) }
        return classifier(h)
    }
}

/// Adds seeded noise to every trainable tensor so adapters are no longer at their identity init.
func perturbTrainable(_ model: Module, seed: UInt64, std: Float = 0.3) {
    var rng = SplitMix64(seed: seed)
    for (_, p) in model.trainableParameters() {
        for i in 0..<p.count { p.storage[i] += std * rng.nextNormal() }
    }
}

/// Max |a − b| / max |b| (0 when b is all zeros and a equals it).
func relativeDeviation(_ a: Tensor, _ b: Tensor) -> Float {
    let diff = maxAbsDifference(a, b) ?? .infinity
    let ref = b.storage.reduce(0) { Swift.max($0, Swift.abs($1)) }
    return ref > 0 ? diff / ref : diff
}

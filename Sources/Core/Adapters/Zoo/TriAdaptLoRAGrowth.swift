import Foundation

/// Drives TriAdaptLoRA's rank growth from the optimizer, so every training loop that steps
/// `peft.trainableParameters()` grows ranks without a call of its own.
///
/// `PeftModel.addAdapter` creates one per TriAdaptLoRA adapter (it knows all the adapter's
/// layers, which growth compares) and registers it with `OptimizerStepHooks`, watching the
/// adapter's tensors. After optimizer step `t` (1-based count of updates) it runs one growth
/// decision when `t` is a multiple of `interval` and `t ≤ growthSteps`
/// (`TriAdaptLoRA.grow(_:step:totalSteps:)`: the threshold `1 − t/growthSteps` falls linearly to 0,
/// so the last decision grows every layer still below its budget).
///
/// Growth is deterministic (it reads only parameter values). A newly activated slot starts as
/// a fresh parameter: its `λ` is zero (output unchanged at the growth instant) and its optimizer
/// state (AdamW moments, SGD momentum) is cleared via `Optimizer.resetState`. The active ranks
/// live in each layer's `triadapt_rank` buffer, so a saved adapter reloads at its grown rank.
///
/// The step count: with AdamW it is the optimizer's own per-tensor count of the adapter's `λ`s,
/// which a resumed optimizer state restores, so a resumed run continues the same schedule;
/// with other optimizers the coordinator counts its calls.
public final class TriAdaptGrowth: OptimizerStepObserver {
    public let layers: [(key: String, adapter: TriAdaptLoRA)]
    /// Length of the growth phase (`triadapt_growth_steps`).
    public let growthSteps: Int
    /// Steps between decisions (`triadapt_growth_interval`).
    public let interval: Int
    /// Optimizer steps seen so far.
    public private(set) var step = 0
    /// Every decision that grew something: the step and the layer keys that gained a rank.
    public private(set) var events: [(step: Int, grown: [String])] = []

    public init(layers: [(key: String, adapter: TriAdaptLoRA)], growthSteps: Int, interval: Int) {
        self.layers = layers
        self.growthSteps = Swift.max(1, growthSteps)
        self.interval = Swift.max(1, interval)
    }

    /// Every watched tensor (what the optimizer must be stepping for this coordinator to act).
    var watchedTensors: [Tensor] { layers.flatMap { [$0.adapter.p, $0.adapter.lambda, $0.adapter.q] } }

    /// Active rank per layer key, in model order.
    public var ranks: [(key: String, rank: Int)] { layers.map { ($0.key, $0.adapter.activeRank) } }

    /// Parameters in use at the current ranks, `Σ k(in + out + 1)` (what the adapter would
    /// cost if it were stored at its ranks; the trainable storage is always the budget's).
    public var activeParameterCount: Int { layers.reduce(0) { $0 + $1.adapter.activeParameterCount } }

    public func optimizerDidStep(_ optimizer: any Optimizer, parameters: [(String, Tensor)]) {
        let names = Dictionary(parameters.map { (ObjectIdentifier($0.1), $0.0) }, uniquingKeysWith: { a, _ in a })
        func name(_ t: Tensor) -> String? { names[ObjectIdentifier(t)] }
        var next = step + 1
        if let adam = optimizer as? AdamW {
            let counted = layers.compactMap { name($0.adapter.lambda).map(adam.stepCount) }.max() ?? 0
            if counted > 0 { next = counted }
        }
        // A step that updated none of the λs (no gradients reached them) is not a new step.
        guard next != step else { return }
        step = next
        guard step % interval == 0, step <= growthSteps else { return }
        let grown = TriAdaptLoRA.grow(layers, step: step, totalSteps: growthSteps)
        guard !grown.isEmpty else { return }
        for (key, a) in layers where grown.contains(key) {
            // The slot just activated: column j of P, entry j of λ, row j of Q.
            let j = a.activeRank - 1, out = a.p.shape[0], inF = a.q.shape[1], r = a.budget
            if let n = name(a.p) { optimizer.resetState(n, elements: (0..<out).map { $0 * r + j }) }
            if let n = name(a.lambda) { optimizer.resetState(n, elements: [j]) }
            if let n = name(a.q) { optimizer.resetState(n, elements: Array((j * inF)..<((j + 1) * inF))) }
        }
        events.append((step, grown))
    }
}

extension PeftModel {
    /// Registers the optimizer-step coordinator of adapter `name` when its method needs one.
    func attachStepObservers(_ name: String, _ config: AdapterConfig) {
        guard config.method == .triAdaptLoRA, let record = records[name] else { return }
        let layers = record.attachments.compactMap { a in (a.adapter as? TriAdaptLoRA).map { (key: a.key, adapter: $0) } }
        guard !layers.isEmpty else { return }
        let growth = TriAdaptGrowth(layers: layers, growthSteps: config.zoo.triGrowthSteps, interval: config.zoo.triGrowthInterval)
        record.observers.append(growth)
        OptimizerStepHooks.register(growth, watching: growth.watchedTensors)
    }

    /// The growth coordinator of TriAdaptLoRA adapter `name` (nil for other methods).
    public func triAdaptGrowth(_ name: String = "default") -> TriAdaptGrowth? {
        records[name]?.observers.lazy.compactMap { $0 as? TriAdaptGrowth }.first
    }
}

/// Several optimizers, each updating its own subset of the trainable parameters at its own
/// learning rate: PyTorch's parameter groups. A training loop (and `TrainingSession`, which
/// checkpoints one optimizer) sees a single `Optimizer`.
///
/// Setting `learningRate` sets every group's rate to that value times the group's `scale`, so a
/// schedule written for the base rate drives all groups (e.g. a randomly initialised decoder at
/// 10× the adapters' rate). State keys are `<parameter name>.<state>` in every optimizer, and
/// each parameter belongs to exactly one group, so the groups' state dictionaries merge without
/// collisions and split again by parameter name on resume.
///
/// ```swift
/// let opt = OptimizerGroups([
///     .init(AdamW(learningRate: 1e-3), scale: 1) { !$0.hasPrefix("decoder.") },
///     .init(AdamW(learningRate: 1e-2), scale: 10) { $0.hasPrefix("decoder.") },
/// ])
/// opt.learningRate = schedule(step)   // adapters at the schedule, decoder at 10×
/// opt.step(params)
/// ```
public final class OptimizerGroups: Optimizer {
    /// One group: an optimizer, its rate relative to the base rate, and which parameter names it owns.
    public struct Group {
        public let optimizer: any Optimizer
        public let scale: Double
        public let owns: (String) -> Bool

        public init(_ optimizer: any Optimizer, scale: Double = 1, owns: @escaping (String) -> Bool) {
            self.optimizer = optimizer
            self.scale = scale
            self.owns = owns
        }
    }

    public let groups: [Group]
    private var baseRate: Double

    /// `groups` are tried in order; a parameter belongs to the first group that owns it, and a
    /// parameter no group owns is not updated.
    public init(_ groups: [Group]) {
        precondition(!groups.isEmpty, "OptimizerGroups needs at least one group")
        self.groups = groups
        self.baseRate = groups[0].optimizer.learningRate / groups[0].scale
    }

    /// The base rate; each group runs at `learningRate × scale`.
    public var learningRate: Double {
        get { baseRate }
        set {
            baseRate = newValue
            for g in groups { g.optimizer.learningRate = newValue * g.scale }
        }
    }

    /// The index of the group that owns parameter `name`, if any.
    func groupIndex(of name: String) -> Int? {
        groups.firstIndex { $0.owns(name) }
    }

    private func split(_ parameters: [(String, Tensor)]) -> [[(String, Tensor)]] {
        var out = Array(repeating: [(String, Tensor)](), count: groups.count)
        for p in parameters {
            if let i = groupIndex(of: p.0) { out[i].append(p) }
        }
        return out
    }

    /// Steps each group over its own parameters, in group order.
    public func step(_ parameters: [(String, Tensor)]) {
        for (g, ps) in zip(groups, split(parameters)) where !ps.isEmpty { g.optimizer.step(ps) }
    }

    public func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for g in groups { out.merge(g.optimizer.stateDict()) { a, _ in a } }
        return out
    }

    /// Gives each group the entries of the parameters it owns. An entry whose parameter no group
    /// owns goes to the first group, whose own validation reports it as unknown.
    public func loadStateDict(_ state: [String: Tensor], for parameters: [(String, Tensor)]) throws {
        var parts = Array(repeating: [String: Tensor](), count: groups.count)
        for (key, value) in state {
            let name = key.lastIndex(of: ".").map { String(key[..<$0]) } ?? key
            parts[groupIndex(of: name) ?? 0][key] = value
        }
        for ((g, ps), part) in zip(zip(groups, split(parameters)), parts) {
            try g.optimizer.loadStateDict(part, for: ps)
        }
    }

    public func resetState(_ name: String, elements: [Int]) {
        if let i = groupIndex(of: name) { groups[i].optimizer.resetState(name, elements: elements) }
    }
}

/// Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 weight
/// decay, the same update as `torch.optim.SGD`:
///
///     d ← g + λ·p                                  (if weight decay)
///     b ← d on the first step, else μ·b + (1 − τ)·d  (if momentum μ, dampening τ)
///     d ← d + μ·b (Nesterov) or d ← b
///     p ← p − lr·d
public final class SGD: Optimizer {
    public var learningRate: Double
    public var momentum: Double
    public var dampening: Double
    public var nesterov: Bool
    public var weightDecay: Double
    public var decayRule: WeightDecayRule
    private var buffers: [String: [Float]] = [:]

    public init(learningRate: Double, momentum: Double = 0, dampening: Double = 0, nesterov: Bool = false,
                weightDecay: Double = 0, decayRule: WeightDecayRule = .all) {
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum > 0 and zero dampening (as PyTorch)")
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.decayRule = decayRule
    }

    public func step(_ parameters: [(String, Tensor)]) {
        for (name, p) in parameters {
            guard let g = p.gradStorage else { continue }
            update(name: name, parameter: p, gradient: g)
        }
        // After every update (numerics untouched): observers such as TriAdaptLoRA's growth.
        OptimizerStepHooks.notify(self, parameters: parameters)
    }

    /// The update of one tensor.
    func update(name: String, parameter p: Tensor, gradient g: [Float]) {
        var d = g
        let wd = Float(decayRule.applies(to: name) ? weightDecay : 0)
        let mu = Float(momentum), keep = Float(1 - dampening), lr = Float(learningRate)
        if wd != 0 { for i in 0..<d.count { d[i] += wd * p.storage[i] } }
        if mu != 0 {
            var b: [Float]
            if let old = buffers[name] {
                b = old
                for i in 0..<b.count { b[i] = b[i] * mu + keep * d[i] }
            } else {
                b = d  // PyTorch starts the buffer at the first (undampened) direction
            }
            buffers[name] = b
            if nesterov {
                for i in 0..<d.count { d[i] += mu * b[i] }
            } else {
                d = b
            }
        }
        for i in 0..<d.count { p.storage[i] -= lr * d[i] }
    }

    /// Zeroes the momentum of `elements` of `name`.
    public func resetState(_ name: String, elements: [Int]) {
        guard var b = buffers[name] else { return }
        for i in elements where i >= 0 && i < b.count { b[i] = 0 }
        buffers[name] = b
    }

    public func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, b) in buffers { out[name + ".momentum_buffer"] = Tensor(b, shape: [b.count]) }
        return out
    }

    public func loadStateDict(_ state: [String: Tensor], for parameters: [(String, Tensor)]) throws {
        let entries = try OptimizerState.validate(state, parameters: parameters) { entry, shape in
            entry == "momentum_buffer" ? [shape.reduce(1, *)] : nil
        }
        var restored: [String: [Float]] = [:]
        for (key, (param, _)) in entries { restored[param] = state[key]!.storage }
        buffers = restored
    }
}

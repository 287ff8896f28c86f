/// Elastic weight consolidation (Kirkpatrick et al. 2017): after each task a diagonal Fisher
/// estimate F and the parameters θ* are stored, and later training adds
/// `(λ/2) Σ_i F_i (θ_i − θ*_i)²` to the loss.
///
/// The Fisher is the empirical one: the mean of squared loss gradients over samples of the
/// finished task (mini-batches; with one example per batch it is the per-example estimate).
/// Over several tasks the Fishers add up and θ* is the latest parameters ("online" EWC with
/// γ = 1), so one quadratic holds all earlier tasks. Parameters are matched by name.
///
/// ```swift
/// let ewc = EWCPenalty(lambda: 100)
/// // after task t: for each sample batch { loss.backward(); ewc.accumulate(params); zeroGrad }
/// ewc.consolidate(params)
/// // while training task t+1, after loss.backward():
/// ewc.addGradient(params)
/// ```
public final class EWCPenalty {
    public var lambda: Float
    /// Summed diagonal Fisher per parameter name.
    public private(set) var fisher: [String: [Float]] = [:]
    /// θ* per parameter name.
    public private(set) var anchor: [String: [Float]] = [:]
    private var pending: [String: [Double]] = [:]
    private var pendingSamples = 0

    public init(lambda: Float) { self.lambda = lambda }

    /// Whether any task has been consolidated.
    public var isActive: Bool { !anchor.isEmpty }

    /// Adds the squares of the current gradients to the running Fisher estimate.
    public func accumulate(_ params: [(String, Tensor)]) {
        for (name, p) in params {
            guard let g = p.gradStorage else { continue }
            var acc = pending[name] ?? [Double](repeating: 0, count: p.count)
            for i in 0..<min(acc.count, g.count) { acc[i] += Double(g[i]) * Double(g[i]) }
            pending[name] = acc
        }
        pendingSamples += 1
    }

    /// Data parallelism: sums the running Fisher estimate (squared gradients and sample count)
    /// over the ranks, so every rank consolidates the Fisher of all ranks' samples. Each rank
    /// accumulated its own share of the samples; the sums travel as Float32 in one all-reduce
    /// (one process: nothing happens, bit-identical to not calling it).
    public func allReducePending(_ params: [(String, Tensor)], over world: any Distributed) throws {
        guard world.size > 1 else { return }
        var buffer = [Float](repeating: 0, count: params.reduce(0) { $0 + $1.1.count } + 1)
        var offset = 0
        for (name, p) in params {
            if let acc = pending[name] { for i in 0..<min(acc.count, p.count) { buffer[offset + i] = Float(acc[i]) } }
            offset += p.count
        }
        buffer[offset] = Float(pendingSamples)
        try world.allReduceSum(&buffer)
        offset = 0
        for (name, p) in params {
            pending[name] = buffer[offset..<(offset + p.count)].map(Double.init)
            offset += p.count
        }
        pendingSamples = Int(buffer[offset].rounded())
    }

    /// Puts back a consolidated state (Fisher and θ* per parameter name) saved from `fisher`
    /// and `anchor`, e.g. by a training checkpoint; nothing is pending afterwards.
    public func restore(fisher: [String: [Float]], anchor: [String: [Float]]) {
        self.fisher = fisher
        self.anchor = anchor
        pending = [:]
        pendingSamples = 0
    }

    /// Ends a task: the mean of the accumulated squares joins the Fisher and θ* becomes the
    /// current parameters.
    public func consolidate(_ params: [(String, Tensor)]) {
        let n = Double(max(pendingSamples, 1))
        for (name, p) in params {
            var f = fisher[name] ?? [Float](repeating: 0, count: p.count)
            if let acc = pending[name], acc.count == f.count { for i in 0..<f.count { f[i] += Float(acc[i] / n) } }
            fisher[name] = f
            anchor[name] = p.storage
        }
        pending = [:]
        pendingSamples = 0
    }

    /// `(λ/2) Σ F (θ − θ*)²` at the current parameters.
    public func penalty(_ params: [(String, Tensor)]) -> Double {
        var s = 0.0
        for (name, p) in params {
            guard let f = fisher[name], let a = anchor[name], f.count == p.count else { continue }
            for i in 0..<p.count {
                let d = Double(p.storage[i] - a[i])
                s += Double(f[i]) * d * d
            }
        }
        return 0.5 * Double(lambda) * s
    }

    /// Adds the penalty's gradient `λ F (θ − θ*)` to each parameter's gradient.
    public func addGradient(_ params: [(String, Tensor)]) {
        guard lambda != 0 else { return }
        for (name, p) in params {
            guard let f = fisher[name], let a = anchor[name], f.count == p.count else { continue }
            var g = [Float](repeating: 0, count: p.count)
            for i in 0..<p.count { g[i] = lambda * f[i] * (p.storage[i] - a[i]) }
            p.accumulateGrad(g)
        }
    }
}

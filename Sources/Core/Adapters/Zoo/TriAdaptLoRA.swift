import Foundation

/// TriAdaptLoRA (Liang, Wang, Zeng, arXiv 2501.08008): an SVD-form LoRA whose rank grows during
/// training where the update matters most.
///
///     ΔW = s · P[:, :k]·diag(λ[:k])·Q[:k, :],   P [out, R], λ [R], Q [R, in],   s = α / R
///
/// with `k` the active rank (`r_init ≤ k ≤ R`, the budget). Slots beyond `k` are inert: they are
/// not used in the forward and receive no gradient. A newly activated slot has `λ = 0`, so growth
/// never changes the model's output (and the model starts unchanged: `λ = 0` at init, P and Q
/// random as in AdaLoRA-style SVD adapters).
///
/// Growth (`TriAdaptLoRA.grow(_:step:totalSteps:)`): each layer's importance is the normalised
/// Frobenius norm of its increment, `‖ΔW‖_F / √k` relative to the largest over all layers, and
/// layers at or above a threshold that falls linearly from 1 to 0 over the growth phase (the
/// schedule the paper reports best) gain one rank, up to the budget. `PeftModel` drives it from
/// every optimizer step (`TriAdaptGrowth`, `triadapt_growth_steps` / `triadapt_growth_interval`).
///
/// [recon] The paper's abstract confirms the three ingredients (triangular split, normalised
/// Frobenius-norm importance, threshold-driven growth with linear/exponential/cosine schedules)
/// but the method section was not reachable in this pass: the exact "triangular split of the
/// transformation matrices" is NOT implemented (no verified definition), and the importance
/// normalisation above is PEFTKit's reading. Treat results as "TriAdaptLoRA-style rank growth".
///
/// Keys: `triadapt_P [out, R]`, `triadapt_lambda [R]`, `triadapt_Q [R, in]`, buffer
/// `triadapt_rank [1]` (the active rank). Params (trainable storage): `R(in + out + 1)`; in use
/// at rank k: `k(in + out + 1)`.
public final class TriAdaptLoRA: ZooAdapter {
    public let p: Tensor, lambda: Tensor, q: Tensor
    /// `[1]`: the active rank as a float (saved, so a grown adapter reloads at its rank).
    public let activeRankBuffer: Tensor
    public let scaling: Float

    public init(p: Tensor, lambda: Tensor, q: Tensor, activeRank: Int, scaling: Float) {
        self.p = p
        self.lambda = lambda
        self.q = q
        activeRankBuffer = Tensor([Float(activeRank)], shape: [1])
        self.scaling = scaling
        super.init()
        for t in [p, lambda, q] { t.requiresGrad = true }
    }

    public convenience init(inFeatures: Int, outFeatures: Int, budget: Int, initialRank: Int, alpha: Float, seed: UInt64, key: String = "TriAdaptLoRA") throws {
        guard budget > 0 && initialRank > 0 && initialRank <= budget else { throw AdapterError.invalidRank(key: key, rank: initialRank, limit: budget) }
        var rng = SplitMix64(seed: seed)
        let p = Tensor.normal([outFeatures, budget], std: 0.02, using: &rng)
        let q = Tensor.normal([budget, inFeatures], std: 0.02, using: &rng)
        self.init(p: p, lambda: Tensor.zeros([budget]), q: q, activeRank: initialRank, scaling: alpha / Float(budget))
    }

    public var budget: Int { lambda.count }
    /// The active rank (clamped to 1…budget whatever a file says).
    public var activeRank: Int {
        get { Swift.max(1, Swift.min(budget, Int(activeRankBuffer.storage[0]))) }
        set { activeRankBuffer.storage[0] = Float(Swift.max(1, Swift.min(budget, newValue))) }
    }

    override public func validateLoaded(layer: Linear, file: String) throws {
        let k = activeRankBuffer.storage[0]
        guard k >= 1, k <= Float(budget), k == k.rounded() else {
            throw AdapterError.badFile(file: file, detail: "triadapt_rank \(k) must be a whole number in 1…\(budget); the file is corrupt")
        }
    }

    override public func trainableEntries() -> [(String, Tensor)] { [("triadapt_P", p), ("triadapt_lambda", lambda), ("triadapt_Q", q)] }
    override public func bufferEntries() -> [(String, Tensor)] { [("triadapt_rank", activeRankBuffer)] }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        freezeBuffers()
        let k = activeRank
        let qa = q.slice(axis: 0, 0..<k), la = lambda.slice(axis: 0, 0..<k), pa = p.slice(axis: 1, 0..<k)
        return baseOutput + (input.linear(weight: qa) * (la * scaling)).linear(weight: pa)
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        let k = activeRank
        let pa = p.slice(axis: 1, 0..<k) * (lambda.slice(axis: 0, 0..<k) * scaling).reshaped([1, k])
        return pa.matmul(q.slice(axis: 0, 0..<k))
    }

    /// Parameters in use at the active rank, `k(in + out + 1)` (the trainable storage is the budget's).
    public var activeParameterCount: Int { activeRank * (p.shape[0] + q.shape[1] + 1) }

    /// `‖ΔW‖_F / √k` (no gradient).
    public var importance: Double {
        let k = activeRank, out = p.shape[0], inF = q.shape[1]
        var pa = [Float](repeating: 0, count: out * k)
        for i in 0..<out { for j in 0..<k { pa[i * k + j] = p.storage[i * budget + j] * lambda.storage[j] * scaling } }
        var d = [Float](repeating: 0, count: out * inF)
        addProduct(&d, pa, Array(q.storage[0..<(k * inF)]), m: out, n: inF, k: k, alpha: 1)
        return (d.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot() / Double(k).squareRoot()
    }

    /// One growth decision at `step` of a growth phase lasting `totalSteps`: layers whose
    /// importance relative to the most important layer reaches `1 − step/totalSteps` gain a
    /// rank (up to their budget). Returns the keys that grew.
    @discardableResult
    public static func grow(_ layers: [(key: String, adapter: TriAdaptLoRA)], step: Int, totalSteps: Int) -> [String] {
        let scores = layers.map { $0.adapter.importance }
        guard let top = scores.max(), top > 0 else { return [] }
        let threshold = 1 - Double(Swift.min(step, totalSteps)) / Double(Swift.max(totalSteps, 1))
        var grown: [String] = []
        for (i, l) in layers.enumerated() where scores[i] / top >= threshold && l.adapter.activeRank < l.adapter.budget {
            // The new slot's λ is zero whatever the tensor held (a file may carry anything in
            // inactive slots), so growing never changes the output.
            l.adapter.lambda.storage[l.adapter.activeRank] = 0
            l.adapter.activeRank += 1
            grown.append(l.key)
        }
        return grown
    }
}

import Core

/// CQD-A's score adaptation (Arakelyan et al., NeurIPS 2023): each raw atom score of the
/// frozen link predictor is recalibrated as
///
///     φ' = φ · (1 + α) + β,   [α, β] = Σ_{x ∈ inputs} (W_x e_x + b_x)
///
/// with `e_s` the subject (anchor or beam candidate) embedding, `e_p` the relation embedding
/// and `e_o` each candidate object's embedding (broadcast over the N columns). With no input
/// selected, `[α, β] = W φ + b` reads the score itself. Every `W_x, b_x` starts as PyTorch's
/// default `nn.Linear` init times `initScale` (1e-3), so the adapted model starts ≈ CQD.
///
/// Parameter count: `2·(2k)·|inputs| + 2·|inputs|` (8,004 for k = 1000 and inputs "sp").
///
/// ```swift
/// let a = CQDAAdapter(rank: m.rank, inputs: "sp", seed: 0)
/// let cqd = CQDBeam(model: m, adapter: a)
/// ```
public final class CQDAAdapter: Module, AtomScoreAdapter {
    /// Which embeddings feed `[α, β]`: a subset of "spo" ("" = the score itself).
    public let inputs: String
    public let rank: Int
    /// `weights[x]` is `[2, 2k]` (or `[2, 1]` for the score input), `biases[x]` is `[2]`.
    public private(set) var weights: [String: Tensor] = [:]
    public private(set) var biases: [String: Tensor] = [:]

    /// The keys in checkpoint order: "s", "p", "o" (those selected) or "phi".
    public var inputKeys: [String] {
        let keys = ["s", "p", "o"].filter { inputs.contains($0) }
        return keys.isEmpty ? ["phi"] : keys
    }

    public init(rank: Int, inputs: String = "sp", initScale: Float = 1e-3, seed: UInt64 = 0) throws {
        guard inputs.allSatisfy({ "spo".contains($0) }), Set(inputs).count == inputs.count else {
            throw GraphDataError("CQD-A inputs must be a subset of \"spo\" (got \"\(inputs)\")")
        }
        self.inputs = inputs
        self.rank = rank
        super.init()
        var rng = SplitMix64(seed: seed)
        for key in inputKeys {
            let fanIn = key == "phi" ? 1 : 2 * rank
            // nn.Linear default: W and b ~ U(−1/√fan_in, 1/√fan_in); then × initScale.
            let bound = 1 / Float(fanIn).squareRoot()
            let w = Tensor.uniform([2, fanIn], low: -bound, high: bound, using: &rng)
            let b = Tensor.uniform([2], low: -bound, high: bound, using: &rng)
            weights[key] = Tensor(w.storage.map { $0 * initScale }, shape: w.shape, requiresGrad: true)
            biases[key] = Tensor(b.storage.map { $0 * initScale }, shape: b.shape, requiresGrad: true)
        }
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        inputKeys.flatMap { k in [("\(k).weight", weights[k]!), ("\(k).bias", biases[k]!)] }
    }

    public func adapt(_ raw: Tensor, anchors: [Int], relation: Int, model: ComplExModel) -> Tensor {
        let m = raw.shape[0], n = raw.shape[1], w = model.width
        precondition(w == 2 * rank, "CQD-A adapter built for rank \(rank), model has rank \(model.rank)")
        var alpha: Tensor? = nil, beta: Tensor? = nil
        func add(_ coeffs: Tensor, rows: Int, asColumn: Bool) {
            // coeffs [rows, 2] → α, β as [rows, 1] (per query row) or [1, rows] (per candidate column)
            let shape = asColumn ? [1, rows] : [rows, 1]
            let a = coeffs.slice(axis: 1, 0..<1).reshaped(shape), b = coeffs.slice(axis: 1, 1..<2).reshaped(shape)
            alpha = alpha.map { $0 + a } ?? a
            beta = beta.map { $0 + b } ?? b
        }
        for key in inputKeys {
            let W = weights[key]!, b = biases[key]!
            switch key {
            case "s":
                var rows = [Float](repeating: 0, count: m * w)
                for (i, e) in anchors.enumerated() { for j in 0..<w { rows[i * w + j] = model.entity[e * w + j] } }
                add(Tensor(rows, shape: [m, w]).linear(weight: W, bias: b), rows: m, asColumn: false)
            case "p":
                let row = Array(model.relation[(relation * w)..<((relation + 1) * w)])
                add(Tensor(row, shape: [1, w]).linear(weight: W, bias: b), rows: 1, asColumn: false)
            case "o":
                add(Tensor(model.entity, shape: [n, w]).linear(weight: W, bias: b), rows: n, asColumn: true)
            default:  // "phi": a Linear(1 → 2) on every score
                let c = raw.reshaped([m * n, 1]).linear(weight: W, bias: b)
                let a = c.slice(axis: 1, 0..<1).reshaped([m, n]), bb = c.slice(axis: 1, 1..<2).reshaped([m, n])
                alpha = a
                beta = bb
            }
        }
        return raw * (alpha! + 1) + beta!
    }

    /// Trainable parameter count, and its share of the frozen link predictor's parameters.
    public func parameterShare(of model: ComplExModel) -> (count: Int, fraction: Double) {
        let c = parameterCounts().total
        return (c, Double(c) / Double(model.parameterCount))
    }
}

/// RandLoRA (Albert et al., ICLR 2025) exactly as peft's `RandLora` computes it: a full-rank
/// update from frozen random bases with trainable scalings only.
///
/// With `m = min(in, out)`, `M = max(in, out)`, rank `r` and `N = ⌈m / r⌉` bases:
///
///     U_A[(k·N + b), j] = Λ[k, b] · A[k, 0, j] · Γ[b, j]          [r·N, m]
///     U_B[p, (b·r + k)] = B[p, b, k]                                [M, N·r]
///     ΔW = s · U_B·U_A        (in ≤ out)      ΔW = s · (U_B·U_A)ᵀ  (in > out)
///
/// The flattened row index of `U_A` and column index of `U_B` are paired position by
/// position, which interleaves bases and ranks; this is peft's layout and is copied exactly so
/// peft checkpoints load (`fixtures/zoo/randlora`). `s = randlora_alpha / r`.
///
/// Trainable: `randlora_lambda [r, N]` (starts 0, so the model starts unchanged) and
/// `randlora_gamma [N, m]` (starts `1 / max(N, m)`). Buffers: `randlora_A [r, 1, m]`,
/// `randlora_B [M, N, r]`. Parameter count `r·N + N·m`.
///
/// Bases: a checkpoint's bases are loaded as saved. Fresh bases are not torch's bfloat16
/// Kaiming draws (PEFTKit cannot reproduce torch's generator); each entry is uniform with unit
/// standard deviation — the scale peft reaches by dividing each basis by its std — and depends
/// only on `projection_prng_key` and its index, so every layer's basis is a slice of one shared
/// basis, as in peft. Sparse bases (`sparse`, `very_sparse`) draw ternary values with peft's
/// probabilities, divided by their standard deviation.
public final class RandLoRA: ZooAdapter {
    public let lambda: Tensor
    public let gamma: Tensor
    public let basisA: Tensor
    public let basisB: Tensor
    public let rank: Int
    public let bases: Int
    public let scaling: Float
    public let inFeatures: Int
    public let outFeatures: Int

    /// An adapter over given tensors (loading, tests).
    public init(lambda: Tensor, gamma: Tensor, basisA: Tensor, basisB: Tensor, scaling: Float, inFeatures: Int, outFeatures: Int) {
        let m = Swift.min(inFeatures, outFeatures), big = Swift.max(inFeatures, outFeatures)
        rank = lambda.shape[0]
        bases = lambda.shape[1]
        precondition(gamma.shape == [bases, m] && basisA.shape == [rank, 1, m] && basisB.shape == [big, bases, rank],
                     "RandLoRA: shapes Λ \(lambda.shape), Γ \(gamma.shape), A \(basisA.shape), B \(basisB.shape) do not agree")
        self.lambda = lambda
        self.gamma = gamma
        self.basisA = basisA
        self.basisB = basisB
        self.scaling = scaling
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        super.init()
        lambda.requiresGrad = true
        gamma.requiresGrad = true
    }

    /// Basis kinds of peft's config (`sparse`, `very_sparse`).
    public enum BasisKind: String, Sendable { case dense, sparse, verySparse }

    /// Fresh adapter: Λ = 0, Γ = 1/max(N, m), bases from `projectionKey`.
    public convenience init(inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float, projectionKey: UInt64,
                            basis: BasisKind = .dense, key: String = "RandLoRA") throws {
        let m = Swift.min(inFeatures, outFeatures), big = Swift.max(inFeatures, outFeatures)
        guard rank > 0 && rank <= m else { throw AdapterError.invalidRank(key: key, rank: rank, limit: m) }
        let n = (m + rank - 1) / rank
        let a = (0..<(rank * m)).map { idx in RandLoRA.basisValue(projectionKey, 1, [idx / m, idx % m], basis, m) }
        var b = [Float](repeating: 0, count: big * n * rank)
        for p in 0..<big { for q in 0..<n { for k in 0..<rank { b[(p * n + q) * rank + k] = RandLoRA.basisValue(projectionKey, 2, [p, q, k], basis, m) } } }
        let g = Tensor.full([n, m], 1 / Float(Swift.max(n, m)))
        self.init(lambda: Tensor.zeros([rank, n]), gamma: g, basisA: Tensor(a, shape: [rank, 1, m]),
                  basisB: Tensor(b, shape: [big, n, rank]), scaling: alpha / Float(rank), inFeatures: inFeatures, outFeatures: outFeatures)
    }

    static func basisValue(_ seed: UInt64, _ tag: Int, _ index: [Int], _ kind: BasisKind, _ m: Int) -> Float {
        let u = ZooMath.unitFloat(seed: seed, [tag] + index)
        switch kind {
        case .dense: return (2 * u - 1) * Float(3).squareRoot()
        case .sparse, .verySparse:
            // P(±1) = p each, 0 otherwise; divided by the std √(2p).
            let p: Float = kind == .sparse ? 1 / 6 : 1 / (2 * Float(m).squareRoot())
            let v: Float = u < p ? -1 : (u >= 1 - p ? 1 : 0)
            return v / (2 * p).squareRoot()
        }
    }

    override public func trainableEntries() -> [(String, Tensor)] { [("randlora_lambda", lambda), ("randlora_gamma", gamma)] }
    override public func bufferEntries() -> [(String, Tensor)] { [("randlora_A", basisA), ("randlora_B", basisB)] }

    /// `U_A [r·N, m]` (recorded: gradients reach Λ and Γ).
    func factorA() -> Tensor {
        let m = gamma.shape[1]
        let l = lambda.reshaped([rank, bases, 1])
        let a = basisA.reshaped([rank, 1, m])
        let g = gamma.reshaped([1, bases, m])
        return (l * a * g).reshaped([rank * bases, m])
    }

    /// `U_B [M, N·r]` (a frozen view of the basis).
    func factorB() -> Tensor { basisB.reshaped([basisB.shape[0], bases * rank]) }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        freezeBuffers()
        let ua = factorA(), ub = factorB()
        if inFeatures <= outFeatures {
            return baseOutput + (input.linear(weight: ua) * scaling).linear(weight: ub)
        }
        // ΔW = s·U_Aᵀ·U_Bᵀ: x·ΔWᵀ = s·(x·U_B)·U_A.
        return baseOutput + (input.matmul(ub) * scaling).matmul(ua)
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        let mx = factorB().matmul(factorA()) * scaling  // [M, m]
        return inFeatures <= outFeatures ? mx : mx.transposed()
    }
}

extension PeftModel {
    /// peft's model-level copies of RandLoRA's shared bases (`base_model.randlora_A`,
    /// `base_model.randlora_B`), which peft requires when loading a checkpoint saved with
    /// `save_projection`. Assembled from the layers' bases (each layer's basis is a slice of
    /// the shared one): `A [r, 1, max m]`, `B [max M, max N, r]`. Empty for other methods.
    public func randLoRASharedBases(_ name: String = "default") -> [(String, Tensor)] {
        let layers = adapters(named: name).compactMap { $0.adapter as? RandLoRA }
        guard let first = layers.first else { return [] }
        let r = first.rank
        let m = layers.map { $0.basisA.shape[2] }.max()!
        let bigM = layers.map { $0.basisB.shape[0] }.max()!, bigN = layers.map(\.bases).max()!
        var a = [Float](repeating: 0, count: r * m), b = [Float](repeating: 0, count: bigM * bigN * r)
        for l in layers {
            let lm = l.basisA.shape[2]
            for k in 0..<r { for j in 0..<lm { a[k * m + j] = l.basisA.storage[k * lm + j] } }
            let lM = l.basisB.shape[0], lN = l.bases
            for p in 0..<lM { for q in 0..<lN { for k in 0..<r { b[(p * bigN + q) * r + k] = l.basisB.storage[(p * lN + q) * r + k] } } }
        }
        return [("base_model.randlora_A", Tensor(a, shape: [r, 1, m])), ("base_model.randlora_B", Tensor(b, shape: [bigM, bigN, r]))]
    }
}

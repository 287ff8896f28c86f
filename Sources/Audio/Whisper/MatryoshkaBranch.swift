import Core

/// One modality's compression branch of Omni-AVSR: frozen-encoder features `[B, T, inDim]` are
/// average-pooled over time at a rate r (non-overlapping windows of r frames; a last partial window
/// is the mean of the frames it holds), passed through that rate's projector, and tagged with the
/// modality's learned embedding. Training draws r uniformly from `rates` each step (Matryoshka
/// training); inference picks r explicitly, so one model serves every rate.
///
/// Projector per rate (keys `projectors.<r>.fc1`, `projectors.<r>.fc2`): `fc2(relu(fc1(x)))`.
/// - `residual` (input width = model width, the audio branch): `x + fc2(relu(fc1(x)))` with **fc2
///   zero-initialised**, so every rate starts as the pooled encoder output and rate 1 starts as
///   plain Whisper (we prefer that start: the decoder already reads these features).
/// - otherwise (the visual branch, a different width): PyTorch's default init on both linears.
/// The modality embedding (`modality_embedding [d]`) starts at zero for the same reason.
public final class MatryoshkaBranch: Module {
    public let rates: [Int]
    public let projectors: [Int: RateProjector]
    public let modalityEmbedding: Tensor
    public let residual: Bool

    public init(inDim: Int, dim: Int, rates: [Int], hidden: Int? = nil, residual: Bool, seed: UInt64) throws {
        guard !rates.isEmpty, rates.allSatisfy({ $0 >= 1 }), Set(rates).count == rates.count else {
            throw WhisperDecodeError("compression rates must be distinct integers ≥ 1, got \(rates)")
        }
        guard !residual || inDim == dim else {
            throw WhisperDecodeError("a residual projector needs equal widths, got \(inDim) → \(dim)")
        }
        self.rates = rates
        self.residual = residual
        let root = SplitMix64(seed: seed)
        var p: [Int: RateProjector] = [:]
        for r in rates {
            var rng = root.fork(UInt64(r))
            p[r] = RateProjector(inDim: inDim, hidden: hidden ?? dim, outDim: dim, zeroOutput: residual, using: &rng)
        }
        projectors = p
        modalityEmbedding = Tensor.zeros([dim], requiresGrad: true)
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("projectors", ModuleTree(rates.map { (String($0), projectors[$0]! as Module) }))]
    }
    override public func namedLocalParameters() -> [(String, Tensor)] { [("modality_embedding", modalityEmbedding)] }

    /// A rate drawn uniformly from `rates`.
    public func sampleRate(using rng: inout SplitMix64) -> Int { rates[Int(rng.next() % UInt64(rates.count))] }

    /// `x [B, T, inDim]` → `[B, ⌈T/r⌉, dim]`.
    public func callAsFunction(_ x: Tensor, rate: Int) -> Tensor {
        guard let projector = projectors[rate] else {
            preconditionFailure("MatryoshkaBranch: rate \(rate) is not one of the trained rates \(rates)")
        }
        let pooled = Self.averagePool(x, rate: rate)
        let projected = residual ? pooled + projector(pooled) : projector(pooled)
        return projected + modalityEmbedding
    }

    /// Frames kept of an item with `length` valid frames at `rate`.
    public static func pooledLength(_ length: Int, rate: Int) -> Int { (length + rate - 1) / rate }

    /// Mean over non-overlapping windows of `rate` frames: `[B, T, C]` → `[B, ⌈T/r⌉, C]`, as one
    /// matrix product with a `[⌈T/r⌉, T]` averaging matrix (so the gradient comes for free).
    public static func averagePool(_ x: Tensor, rate: Int) -> Tensor {
        precondition(x.rank == 3 && rate >= 1, "averagePool: input must be [B, T, C] and rate ≥ 1, got \(x.shape), \(rate)")
        if rate == 1 { return x }
        let t = x.shape[1], out = pooledLength(t, rate: rate)
        var weights = [Float](repeating: 0, count: out * t)
        for i in 0..<out {
            let lo = i * rate, hi = min(lo + rate, t)
            for j in lo..<hi { weights[i * t + j] = 1 / Float(hi - lo) }
        }
        return Tensor(weights, shape: [out, t]).matmul(x)
    }
}

/// `fc2(relu(fc1(x)))`, the per-rate projector of a `MatryoshkaBranch`.
public final class RateProjector: Module {
    public let fc1: Linear, fc2: Linear

    public init(inDim: Int, hidden: Int, outDim: Int, zeroOutput: Bool, using rng: inout SplitMix64) {
        fc1 = Linear(inFeatures: inDim, outFeatures: hidden, using: &rng)
        fc2 = Linear(inFeatures: hidden, outFeatures: outDim, using: &rng)
        if zeroOutput {
            fc2.weight.storage = [Float](repeating: 0, count: fc2.weight.count)
            fc2.bias?.storage = [Float](repeating: 0, count: outDim)
        }
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("fc1", fc1), ("fc2", fc2)] }
    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x).relu()) }
}

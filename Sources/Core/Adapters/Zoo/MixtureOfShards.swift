/// MoS — mixture of shards (Wang et al., ICLR 2025, arXiv 2410.00938): LoRA whose rank vectors
/// are concatenations of small shards drawn from pools shared by all layers.
///
/// For a layer `[out, in]` with rank `r`, `l` shards per vector and `p` private ranks:
///
///     A [r, in]:  rows 0..<p private; row j ≥ p = concat(poolA[iA[j, 0]], …, poolA[iA[j, l−1]])
///     B [out, r]: columns 0..<p private; column j ≥ p = concat(poolB[iB[j, 0]], …)
///     ΔW = s·B·A,   s = α / r
///
/// `poolA [P, in/l]`, `poolB [P, out/l]` are shared by every layer of the same shape once
/// `PeftModel.tieSharedParameters` has run (`addAdapter` does it; a bare `MixtureOfShards` built
/// by hand keeps its own copy). On load, every layer's copy in the file must agree. The index matrices `iA`, `iB [r − p, l]` are fixed at init from a
/// per-layer seeded draw, independently for A and B (the paper's pair dissociation and subset
/// selection); private shards are the paper's privatisation. [recon] The paper's per-shard
/// scaling vectors and its exact index router were not verified in this pass and are not
/// implemented; the released code's simpler chunk-wise variant is not this form either.
///
/// Init: pool A and private A uniform in ±1/√in, pool B and private B zero → unchanged at init.
/// Keys: `mos_pool_A`, `mos_pool_B`, `mos_private_A [p, in]`, `mos_private_B [out, p]`, buffers
/// `mos_index_A`, `mos_index_B [r − p, l]`. Params per model: `P(in/l + out/l)` per distinct
/// layer shape plus `p(in + out)` per layer.
public final class MixtureOfShards: ZooAdapter {
    public internal(set) var poolA: Tensor
    public internal(set) var poolB: Tensor
    public let privateA: Tensor
    public let privateB: Tensor
    public let indexA: Tensor
    public let indexB: Tensor
    public let rank: Int
    public let shards: Int
    public let scaling: Float

    public init(poolA: Tensor, poolB: Tensor, privateA: Tensor, privateB: Tensor, indexA: Tensor, indexB: Tensor, scaling: Float) {
        self.poolA = poolA
        self.poolB = poolB
        self.privateA = privateA
        self.privateB = privateB
        self.indexA = indexA
        self.indexB = indexB
        shards = indexA.shape[1]
        rank = privateA.shape[0] + indexA.shape[0]
        self.scaling = scaling
        super.init()
        for t in [poolA, poolB, privateA, privateB] { t.requiresGrad = true }
    }

    /// Fresh pools seeded by `poolSeed` (the same for every layer, so untied copies agree) and
    /// per-layer indices and private shards seeded by `seed`.
    public convenience init(inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float, shards l: Int, poolSize: Int,
                            privateRanks p: Int, poolSeed: UInt64, seed: UInt64, key: String = "MoS") throws {
        guard rank > 0 else { throw AdapterError.invalidRank(key: key, rank: rank, limit: Swift.max(inFeatures, outFeatures)) }
        guard inFeatures % l == 0 && outFeatures % l == 0 else {
            throw AdapterError.invalidSetting("'\(key)': mos_shards \(l) must divide the layer's sizes (in \(inFeatures), out \(outFeatures)); choose a common divisor")
        }
        let bound = 1 / Float(inFeatures).squareRoot()
        var poolRNG = SplitMix64(seed: poolSeed ^ UInt64(inFeatures &* 31 &+ outFeatures))
        let pa = Tensor.uniform([poolSize, inFeatures / l], low: -bound, high: bound, using: &poolRNG)
        var rng = SplitMix64(seed: seed)
        let privA = Tensor.uniform([p, inFeatures], low: -bound, high: bound, using: &rng)
        let shared = rank - p
        let ia = (0..<(shared * l)).map { _ in Float(rng.next() % UInt64(poolSize)) }
        let ib = (0..<(shared * l)).map { _ in Float(rng.next() % UInt64(poolSize)) }
        self.init(poolA: pa, poolB: Tensor.zeros([poolSize, outFeatures / l]), privateA: privA, privateB: Tensor.zeros([outFeatures, p]),
                  indexA: Tensor(ia, shape: [shared, l]), indexB: Tensor(ib, shape: [shared, l]), scaling: alpha / Float(rank))
    }

    override public func trainableEntries() -> [(String, Tensor)] {
        [("mos_pool_A", poolA), ("mos_pool_B", poolB), ("mos_private_A", privateA), ("mos_private_B", privateB)]
    }
    override public func bufferEntries() -> [(String, Tensor)] { [("mos_index_A", indexA), ("mos_index_B", indexB)] }

    override public func validateLoaded(layer: Linear, file: String) throws {
        guard ZooAdapter.allIndices(indexA.storage, below: poolA.shape[0]), ZooAdapter.allIndices(indexB.storage, below: poolB.shape[0]) else {
            throw AdapterError.badFile(file: file, detail: "mos_index_A / mos_index_B must be whole shard numbers below the pool size \(poolA.shape[0]); the file is corrupt")
        }
    }

    func indices(_ t: Tensor, poolSize: Int) -> [Int] {
        t.storage.map { v in
            let i = Int(v)
            precondition(Float(i) == v && i >= 0 && i < poolSize, "MoS: shard index \(v) outside the pool of \(poolSize); the adapter file does not match")
            return i
        }
    }

    /// Assembled `A [r, in]` and `B [out, r]` (recorded: gradients reach pools and private shards).
    func factors() -> (Tensor, Tensor) {
        let shared = indexA.shape[0], inF = privateA.shape[1], out = privateB.shape[0]
        var a = privateA, b = privateB
        if shared > 0 {
            let pubA = poolA.indexSelect(axis: 0, indices(indexA, poolSize: poolA.shape[0])).reshaped([shared, inF])
            let pubB = poolB.indexSelect(axis: 0, indices(indexB, poolSize: poolB.shape[0])).reshaped([shared, out]).transposed()
            a = privateA.shape[0] > 0 ? Tensor.concat([privateA, pubA], axis: 0) : pubA
            b = privateB.shape[1] > 0 ? Tensor.concat([privateB, pubB], axis: 1) : pubB
        }
        return (a, b)
    }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        freezeBuffers()
        let (a, b) = factors()
        return baseOutput + (input.linear(weight: a) * scaling).linear(weight: b)
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        let (a, b) = factors()
        return b.matmul(a) * scaling
    }
}

extension PeftModel {
    /// Makes layers of adapter `name` share what their method shares across layers: MoS shard
    /// pools (one pool per layer shape, the first layer's). Returns how many tensors were tied.
    @discardableResult
    public func tieSharedParameters(_ name: String = "default") -> Int {
        var pools: [[Int]: (Tensor, Tensor)] = [:]
        var tied = 0
        for (_, a) in adapters(named: name) {
            guard let mos = a as? MixtureOfShards else { continue }
            let shapeKey = mos.poolA.shape + mos.poolB.shape
            if let (pa, pb) = pools[shapeKey] {
                if mos.poolA !== pa { mos.poolA = pa; tied += 1 }
                if mos.poolB !== pb { mos.poolB = pb; tied += 1 }
            } else {
                pools[shapeKey] = (mos.poolA, mos.poolB)
            }
        }
        return tied
    }
}

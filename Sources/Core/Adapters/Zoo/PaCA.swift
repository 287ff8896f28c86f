/// PaCA — partial connection adaptation (Woo et al., ICLR 2025; code `WooSunghyeon/paca`):
/// no added layer; `r` randomly chosen input columns of the frozen weight train in place.
///
///     W = W0 with columns idx replaced by s·P,   P [out, r],   s = paca_alpha / r
///     y = x·W0ᵀ + b0 + x[…, idx]·(s·P − W0[:, idx])ᵀ
///
/// The forward is written as the base output plus the change of those columns, so only
/// `x[…, idx]` is kept for the backward pass (the method's memory saving): `∂L/∂P = s·gᵀ·x[…, idx]`.
/// `P` starts at `W0[:, idx] / s` → exactly unchanged at init.
///
/// Merge overwrites the columns (`W[:, idx] = s·P`) as the code does and keeps the original
/// columns so unmerge restores them exactly. Indices come from a seeded Fisher–Yates draw
/// (the code uses torch's global RNG) and are saved with the adapter.
/// Keys: `paca_w [out, r]`, buffer `paca_indices [r]` (column numbers as floats). Params: `r·out`.
public final class PaCA: ZooAdapter {
    public let weight: Tensor
    public let indices: Tensor
    public let scaling: Float
    var savedColumns: [Float]?

    public init(weight: Tensor, indices: Tensor, scaling: Float) {
        precondition(weight.rank == 2 && indices.shape == [weight.shape[1]], "PaCA: P \(weight.shape) and indices \(indices.shape) disagree")
        self.weight = weight
        self.indices = indices
        self.scaling = scaling
        super.init()
        weight.requiresGrad = true
    }

    public convenience init(layer: Linear, rank: Int, alpha: Float, seed: UInt64, key: String = "PaCA") throws {
        guard rank > 0 && rank <= layer.inFeatures else { throw AdapterError.invalidRank(key: key, rank: rank, limit: layer.inFeatures) }
        let idx = ZooMath.randomSubset(layer.inFeatures, count: rank, seed: seed)
        let s = alpha / Float(rank)
        let cols = layer.weight.indexSelect(axis: 1, idx).storage.map { $0 / s }
        self.init(weight: Tensor(cols, shape: [layer.outFeatures, rank]), indices: Tensor(idx.map(Float.init), shape: [rank]), scaling: s)
    }

    override public func trainableEntries() -> [(String, Tensor)] { [("paca_w", weight)] }
    override public func bufferEntries() -> [(String, Tensor)] { [("paca_indices", indices)] }

    override public func validateLoaded(layer: Linear, file: String) throws {
        guard ZooAdapter.allIndices(indices.storage, below: layer.inFeatures), Set(indices.storage).count == indices.count else {
            throw AdapterError.badFile(file: file, detail: "paca_indices must be \(indices.count) distinct column numbers below \(layer.inFeatures); the adapter was saved for another model or is corrupt")
        }
    }

    /// The column numbers, checked against the layer (a corrupt file must not index out of range).
    func columns(_ layer: Linear) -> [Int] {
        indices.storage.map { v in
            let i = Int(v)
            precondition(Float(i) == v && i >= 0 && i < layer.inFeatures,
                         "PaCA: paca_indices holds \(v), not a column of a Linear with \(layer.inFeatures) inputs; the adapter file does not match this model")
            return i
        }
    }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        freezeBuffers()
        let idx = columns(layer)
        let change = weight * scaling - layer.weight.indexSelect(axis: 1, idx)
        return baseOutput + input.indexSelect(axis: -1, idx).linear(weight: change)
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        let idx = columns(layer), out = layer.outFeatures, inF = layer.inFeatures
        var d = [Float](repeating: 0, count: out * inF)
        for i in 0..<out { for (k, c) in idx.enumerated() { d[i * inF + c] = scaling * weight.storage[i * idx.count + k] - layer.weight.storage[i * inF + c] } }
        return Tensor(d, shape: [out, inF])
    }

    override public func merge(into layer: Linear) {
        let idx = columns(layer), out = layer.outFeatures, inF = layer.inFeatures
        var saved = [Float](repeating: 0, count: out * idx.count)
        for i in 0..<out {
            for (k, c) in idx.enumerated() {
                saved[i * idx.count + k] = layer.weight.storage[i * inF + c]
                layer.weight.storage[i * inF + c] = scaling * weight.storage[i * idx.count + k]
            }
        }
        savedColumns = saved
    }

    override public func unmerge(from layer: Linear) {
        guard let saved = savedColumns else { return }
        let idx = columns(layer), inF = layer.inFeatures
        for i in 0..<layer.outFeatures { for (k, c) in idx.enumerated() { layer.weight.storage[i * inF + c] = saved[i * idx.count + k] } }
        savedColumns = nil
    }
}

/// LoCA — location-aware cosine adaptation (Du et al., ICLR 2025, arXiv 2502.06820):
/// `n` coefficients in the 2-D DCT domain of the weight update, at locations that can move.
///
///     ΔW = α · Cᵀ·S(a, l)·D,   ΔW[p, q] = α Σ_k a_k · C[u_k, p] · D[v_k, q]
///
/// `C [out, out]`, `D [in, in]` orthonormal DCT-II matrices, `S` zero except `a_k` at
/// `(u_k, v_k)`. The forward never forms `ΔW`: `x·ΔWᵀ = ((x·D_lᵀ) ⊙ α·a)·C_l` with `D_l [n, in]`,
/// `C_l [n, out]` the selected DCT rows (rebuilt when locations move).
///
/// [recon] Checked against the paper's abstract only (the method section was not reachable
/// in this pass): coefficients train by back-propagation; locations are discrete and the paper
/// estimates their gradients by finite differences and alternates coefficient and location
/// phases before fixing them. `moveLocations(weightGradient:)` implements that estimate as
/// PEFTKit reconstructs it — the loss gradient with respect to the dense spectrum is
/// `G_S = C·G_W·Dᵀ` (G_W the gradient with respect to ΔW), and the central difference of
/// `a_k·G_S` along each frequency axis at `(u_k, v_k)` says which neighbour lowers the loss; each
/// location steps one frequency towards it. Init: `a = 0` (unchanged at init), locations a
/// seeded random subset of the spectrum without repeats.
///
/// Keys: `loca_coefficients [n]`, buffer `loca_locations [n, 2]` (row, column as floats).
/// Params: `n` (+ `2n` stored integers).
public final class LoCA: ZooAdapter {
    public let coefficients: Tensor
    public let locations: Tensor
    public let alpha: Float
    let outFeatures: Int, inFeatures: Int
    private var cache: (key: [Float], rowsD: Tensor, colsC: Tensor)?

    public init(coefficients: Tensor, locations: Tensor, alpha: Float, outFeatures: Int, inFeatures: Int) {
        precondition(locations.shape == [coefficients.count, 2], "LoCA: locations \(locations.shape) must be [\(coefficients.count), 2]")
        self.coefficients = coefficients
        self.locations = locations
        self.alpha = alpha
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        super.init()
        coefficients.requiresGrad = true
    }

    public convenience init(layer: Linear, count: Int, alpha: Float, seed: UInt64, key: String = "LoCA") throws {
        let out = layer.outFeatures, inF = layer.inFeatures
        guard count > 0 && count <= out * inF else { throw AdapterError.invalidRank(key: key, rank: count, limit: out * inF) }
        let flat = ZooMath.randomSubset(out * inF, count: count, seed: seed)
        let loc = flat.flatMap { [Float($0 / inF), Float($0 % inF)] }
        self.init(coefficients: Tensor.zeros([count]), locations: Tensor(loc, shape: [count, 2]), alpha: alpha, outFeatures: out, inFeatures: inF)
    }

    override public func trainableEntries() -> [(String, Tensor)] { [("loca_coefficients", coefficients)] }
    override public func bufferEntries() -> [(String, Tensor)] { [("loca_locations", locations)] }

    override public func validateLoaded(layer: Linear, file: String) throws {
        let rows = stride(from: 0, to: locations.count, by: 2).map { locations.storage[$0] }
        let cols = stride(from: 1, to: locations.count, by: 2).map { locations.storage[$0] }
        guard ZooAdapter.allIndices(rows, below: outFeatures), ZooAdapter.allIndices(cols, below: inFeatures) else {
            throw AdapterError.badFile(file: file, detail: "loca_locations must be whole (row, column) pairs inside [\(outFeatures), \(inFeatures)]; the adapter was saved for another model or is corrupt")
        }
    }

    /// `(u_k, v_k)` pairs, checked against the layer.
    func pairs() -> [(Int, Int)] {
        (0..<coefficients.count).map { k in
            let u = Int(locations.storage[2 * k]), v = Int(locations.storage[2 * k + 1])
            precondition(u >= 0 && u < outFeatures && v >= 0 && v < inFeatures,
                         "LoCA: location (\(u), \(v)) lies outside the [\(outFeatures), \(inFeatures)] spectrum; the adapter file does not match this model")
            return (u, v)
        }
    }

    /// `D_l [n, in]` and `C_lᵀ [out, n]` for the current locations.
    func bases() -> (Tensor, Tensor) {
        if let c = cache, c.key == locations.storage { return (c.rowsD, c.colsC) }
        let p = pairs(), n = p.count
        var d = [Float](repeating: 0, count: n * inFeatures), ct = [Float](repeating: 0, count: outFeatures * n)
        for (k, (u, v)) in p.enumerated() {
            let dv = ZooMath.dctRow(inFeatures, v), cu = ZooMath.dctRow(outFeatures, u)
            for q in 0..<inFeatures { d[k * inFeatures + q] = dv[q] }
            for q in 0..<outFeatures { ct[q * n + k] = cu[q] }
        }
        let result = (Tensor(d, shape: [n, inFeatures]), Tensor(ct, shape: [outFeatures, n]))
        cache = (locations.storage, result.0, result.1)
        return result
    }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        freezeBuffers()
        let (d, ct) = bases()
        return baseOutput + (input.linear(weight: d) * (coefficients * alpha)).linear(weight: ct)
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        let (d, ct) = bases()
        return (ct * (coefficients * alpha).reshaped([1, coefficients.count])).matmul(d)
    }

    /// One location phase step from `∂L/∂ΔW` (`[out, in]`, e.g. `Σ gᵀx` over a batch): each
    /// location moves by one frequency along the axis and direction whose central-difference
    /// estimate lowers the loss most, unless the target is taken or outside the spectrum.
    /// Returns how many locations moved.
    @discardableResult
    public func moveLocations(weightGradient g: [Float]) -> Int {
        precondition(g.count == outFeatures * inFeatures, "LoCA.moveLocations: gradient must be [\(outFeatures), \(inFeatures)]")
        // G_S = C·G·Dᵀ: the gradient with respect to every spectrum entry.
        let c = ZooMath.dctMatrix(outFeatures), dm = ZooMath.dctMatrix(inFeatures)
        var cg = [Float](repeating: 0, count: outFeatures * inFeatures)
        addProduct(&cg, c, g, m: outFeatures, n: inFeatures, k: outFeatures, alpha: 1)
        var dT = [Float](repeating: 0, count: inFeatures * inFeatures)
        for i in 0..<inFeatures { for j in 0..<inFeatures { dT[j * inFeatures + i] = dm[i * inFeatures + j] } }
        var gs = [Float](repeating: 0, count: outFeatures * inFeatures)
        addProduct(&gs, cg, dT, m: outFeatures, n: inFeatures, k: inFeatures, alpha: 1)
        var taken = Set(pairs().map { $0.0 * inFeatures + $0.1 })
        var moved = 0
        for (k, (u, v)) in pairs().enumerated() {
            let a = coefficients.storage[k] * alpha
            guard a != 0 else { continue }
            func at(_ p: Int, _ q: Int) -> Float { gs[p * inFeatures + q] }
            // Loss change of moving the coefficient: central differences of a·G_S along u and v.
            let du = (u + 1 < outFeatures && u > 0) ? a * (at(u + 1, v) - at(u - 1, v)) / 2 : 0
            let dv = (v + 1 < inFeatures && v > 0) ? a * (at(u, v + 1) - at(u, v - 1)) / 2 : 0
            var target = (u, v)
            if Swift.abs(du) >= Swift.abs(dv), du != 0 { target = (u - (du > 0 ? 1 : -1), v) } else if dv != 0 { target = (u, v - (dv > 0 ? 1 : -1)) }
            let flat = target.0 * inFeatures + target.1
            guard target != (u, v), !taken.contains(flat) else { continue }
            taken.remove(u * inFeatures + v)
            taken.insert(flat)
            locations.storage[2 * k] = Float(target.0)
            locations.storage[2 * k + 1] = Float(target.1)
            moved += 1
        }
        return moved
    }
}

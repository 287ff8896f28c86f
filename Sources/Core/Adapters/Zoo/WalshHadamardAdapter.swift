/// The Walsh–Hadamard adapter of QWHA (Jeon et al., arXiv 2509.17428; code `vantaa89/qwha`):
/// `n` sparse coefficients in the Hadamard domain of the weight update, on float weights
/// (quantisation of the base is a later option).
///
///     F[row_k, col_k] = s·c_k / √out,   ΔW = F·H⁻¹ = (1/in)·F·Hᵀ
///
/// `H` the `in × in` ±1 Hadamard matrix: Sylvester order for powers of two, and
/// `H_K ⊗ H_{2^k}` for `in = K·2^k` with a Paley-I `H_K` when `K − 1` is a prime ≡ 3 (mod 4)
/// (K = 12, 20, 24, 44, 48, 60, …; the fork ships fixed tables for a few K, whose row order
/// differs — files are not exchanged with it). The fork's forward drops the layer bias; here
/// the bias stays (`y = x·(W0 + ΔW)ᵀ + b0`).
///
/// Locations: a seeded draw of `n` distinct flat positions (`random_loc_seed`), as the fork's
/// `randperm`; stored with the adapter. Coefficients start at zero (`init_weights: true`,
/// unchanged at init) or N(0, 1) (the fork's default, which changes the model).
/// Keys: `qwha_coefficients [n]`, buffer `qwha_locations [n, 2]`. Params: `n`.
public final class WalshHadamardAdapter: ZooAdapter {
    public let coefficients: Tensor
    public let locations: Tensor
    public let scaling: Float
    let outFeatures: Int, inFeatures: Int
    let hadamard: HadamardMatrix
    private var cache: (key: [Float], rows: Tensor, scatter: Tensor)?

    public init(coefficients: Tensor, locations: Tensor, scaling: Float, outFeatures: Int, inFeatures: Int, key: String = "QWHA") throws {
        guard let h = HadamardMatrix(order: inFeatures) else {
            throw AdapterError.invalidSetting(
                "'\(key)': no Hadamard matrix of order \(inFeatures) is built in (need 2^k or K·2^k with K−1 a prime ≡ 3 mod 4, e.g. 12·32 = 384); target other layers")
        }
        precondition(locations.shape == [coefficients.count, 2], "QWHA: locations \(locations.shape) must be [\(coefficients.count), 2]")
        hadamard = h
        self.coefficients = coefficients
        self.locations = locations
        self.scaling = scaling
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        super.init()
        coefficients.requiresGrad = true
    }

    public convenience init(layer: Linear, count: Int, scaling: Float, locationSeed: UInt64, zeroInit: Bool, seed: UInt64, key: String = "QWHA") throws {
        let out = layer.outFeatures, inF = layer.inFeatures
        guard count > 0 && count <= out * inF else { throw AdapterError.invalidRank(key: key, rank: count, limit: out * inF) }
        let flat = ZooMath.randomSubset(out * inF, count: count, seed: locationSeed)
        let loc = flat.flatMap { [Float($0 / inF), Float($0 % inF)] }
        var rng = SplitMix64(seed: seed)
        let c = zeroInit ? Tensor.zeros([count]) : Tensor.normal([count], using: &rng)
        try self.init(coefficients: c, locations: Tensor(loc, shape: [count, 2]), scaling: scaling, outFeatures: out, inFeatures: inF, key: key)
    }

    override public func trainableEntries() -> [(String, Tensor)] { [("qwha_coefficients", coefficients)] }
    override public func bufferEntries() -> [(String, Tensor)] { [("qwha_locations", locations)] }

    override public func validateLoaded(layer: Linear, file: String) throws {
        let rows = stride(from: 0, to: locations.count, by: 2).map { locations.storage[$0] }
        let cols = stride(from: 1, to: locations.count, by: 2).map { locations.storage[$0] }
        guard ZooAdapter.allIndices(rows, below: outFeatures), ZooAdapter.allIndices(cols, below: inFeatures) else {
            throw AdapterError.badFile(file: file, detail: "qwha_locations must be whole (row, column) pairs inside [\(outFeatures), \(inFeatures)]; the adapter was saved for another model or is corrupt")
        }
    }

    /// `R [n, in]` with `R[k, q] = H[q, col_k]` and the one-hot scatter `E [out, n]` to `row_k`.
    func factors() -> (Tensor, Tensor) {
        if let c = cache, c.key == locations.storage { return (c.rows, c.scatter) }
        let n = coefficients.count
        var r = [Float](repeating: 0, count: n * inFeatures), e = [Float](repeating: 0, count: outFeatures * n)
        for k in 0..<n {
            let row = Int(locations.storage[2 * k]), col = Int(locations.storage[2 * k + 1])
            precondition(row >= 0 && row < outFeatures && col >= 0 && col < inFeatures,
                         "QWHA: location (\(row), \(col)) outside [\(outFeatures), \(inFeatures)]; the adapter file does not match this model")
            for q in 0..<inFeatures { r[k * inFeatures + q] = hadamard.entry(q, col) }
            e[row * n + k] = 1
        }
        let result = (Tensor(r, shape: [n, inFeatures]), Tensor(e, shape: [outFeatures, n]))
        cache = (locations.storage, result.0, result.1)
        return result
    }

    /// `s / (in·√out)`: the fork's `F` scale and the `1/in` of `H⁻¹`.
    var factor: Float { scaling / (Float(inFeatures) * Float(outFeatures).squareRoot()) }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        freezeBuffers()
        let (r, e) = factors()
        return baseOutput + (input.linear(weight: r) * (coefficients * factor)).linear(weight: e)
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        let (r, e) = factors()
        return (e * (coefficients * factor).reshaped([1, coefficients.count])).matmul(r)
    }
}

/// A ±1 Hadamard matrix `H` (`H·Hᵀ = n·I`) of order `K·2^k`, entries computed on demand.
struct HadamardMatrix {
    let order: Int
    let small: [Float]  // H_K row-major, K = 1 for pure Sylvester
    let smallOrder: Int
    let power: Int  // 2^k

    init?(order n: Int) {
        guard n > 0 else { return nil }
        // Try n = K·2^k from the largest power of two down (384 = 3·128 fails, 12·32 works).
        var p = 1
        while n % (p * 2) == 0 { p *= 2 }
        while p >= 1 {
            let k = n / p
            if k == 1 || (k % 4 == 0 && HadamardMatrix.paley(k) != nil) {
                order = n
                power = p
                smallOrder = k
                small = k == 1 ? [1] : HadamardMatrix.paley(k)!
                return
            }
            p /= 2
        }
        return nil
    }

    /// Paley construction I for `K = q + 1`, `q` prime, `q ≡ 3 (mod 4)`.
    static func paley(_ k: Int) -> [Float]? {
        let q = k - 1
        guard q >= 3, q % 4 == 3, (2..<q).allSatisfy({ q % $0 != 0 || $0 * $0 > q }) else { return nil }
        var isSquare = [Bool](repeating: false, count: q)
        for x in 1..<q { isSquare[(x * x) % q] = true }
        func chi(_ a: Int) -> Float { let m = ((a % q) + q) % q; return m == 0 ? 0 : (isSquare[m] ? 1 : -1) }
        // S = [[0, 1ᵀ], [−1, Q]] with Q[i][j] = χ(j − i) is skew; H = I + S.
        var h = [Float](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in 0..<k {
                let s: Float
                if i == 0 && j == 0 { s = 0 } else if i == 0 { s = 1 } else if j == 0 { s = -1 } else { s = chi(j - i) }
                h[i * k + j] = s + (i == j ? 1 : 0)
            }
        }
        return h
    }

    /// `H[a, b] = H_K[a / 2^k, b / 2^k] · (−1)^popcount((a mod 2^k) & (b mod 2^k))`.
    func entry(_ a: Int, _ b: Int) -> Float {
        let sign: Float = ((a % power) & (b % power)).nonzeroBitCount % 2 == 0 ? 1 : -1
        return small[(a / power) * smallOrder + (b / power)] * sign
    }
}

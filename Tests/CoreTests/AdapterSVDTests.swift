import Testing
import Core
import TestSupport

@Suite("Singular value decomposition and tuning")
struct AdapterSVDTests {
    @Test("LAPACK SVD of a hand-worked 2×2")
    func handWorked() throws {
        // W = [[3, 0], [4, 5]]: WᵀW = [[25, 20], [20, 25]] has eigenvalues 45 and 5,
        // so the singular values are √45 = 3√5 and √5.
        let (u, s, vt) = try LAPACK.svd([3, 0, 4, 5], rows: 2, cols: 2)
        #expect(Swift.abs(s[0] - Float(45).squareRoot()) < 1e-5 && Swift.abs(s[1] - Float(5).squareRoot()) < 1e-5)
        let rec = reconstruct(u, s, vt, m: 2, n: 2, k: 2)
        #expect(zip(rec, [3, 0, 4, 5] as [Float]).allSatisfy { Swift.abs($0 - $1) < 1e-5 })
    }

    @Test("SVD of tall and wide matrices: orthonormal factors, descending values, exact reconstruction", arguments: [(7, 4), (4, 7), (5, 5)])
    func shapes(_ dims: (Int, Int)) throws {
        let (m, n) = dims
        let a = randomTensor([m, n], seed: UInt64(m * 10 + n), requiresGrad: false).storage
        let (u, s, vt) = try LAPACK.svd(a, rows: m, cols: n)
        let k = Swift.min(m, n)
        #expect(u.count == m * k && s.count == k && vt.count == k * n)
        #expect(zip(s, s.dropFirst()).allSatisfy { $0 >= $1 } && s.last! >= 0)
        let rec = reconstruct(u, s, vt, m: m, n: n, k: k)
        #expect(zip(rec, a).allSatisfy { Swift.abs($0 - $1) < 1e-5 })
        for i in 0..<k {  // UᵀU = I and V Vᵀ = I
            for j in 0..<k {
                let uu = (0..<m).reduce(Float(0)) { $0 + u[$1 * k + i] * u[$1 * k + j] }
                let vv = (0..<n).reduce(Float(0)) { $0 + vt[i * n + $1] * vt[j * n + $1] }
                #expect(Swift.abs(uu - (i == j ? 1 : 0)) < 1e-5 && Swift.abs(vv - (i == j ? 1 : 0)) < 1e-5)
            }
        }
    }

    @Test("non-finite input is a clear error")
    func nonFinite() {
        #expect(throws: LAPACK.Failure.self) { try LAPACK.svd([1, .nan, 0, 1], rows: 2, cols: 2) }
    }

    @Test("tuning: base output at init, y = U(s ⊙ Vᵀx) + b after training, merge folds it in")
    func tuning() throws {
        var rng = SplitMix64(seed: 8)
        let l = Linear(inFeatures: 5, outFeatures: 3, using: &rng)
        let x = randomTensor([4, 5], seed: 2, requiresGrad: false)
        let base = withoutGrad { l(x) }
        let svt = try SingularValueTuning(layer: l)
        l.attach(svt)
        #expect(svt.values.shape == [3] && svt.values.requiresGrad && !svt.u.requiresGrad)
        #expect(withoutGrad { l(x) }.storage == base.storage)
        svt.values.storage = svt.values.storage.enumerated().map { $1 * Float(1 + $0) * 0.5 }
        // Independent form of the paper: W' = U·diag(s)·Vᵀ recomposed from the factors.
        let k = 3
        let w2 = reconstruct(svt.u.storage, svt.values.storage, svt.vt.storage, m: 3, n: 5, k: k)
        let expected = withoutGrad { x.linear(weight: Tensor(w2, shape: [3, 5]), bias: l.bias) }
        #expect(allClose(withoutGrad { l(x) }, expected, atol: 1e-5, rtol: 1e-5))
        l.merge()
        #expect(allClose(l.weight, Tensor(w2, shape: [3, 5]), atol: 1e-5, rtol: 1e-5))
    }

    @Test("rank limits: 0 and more than min(in, out) are errors naming the layer")
    func rankLimits() {
        var rng = SplitMix64(seed: 1)
        let l = Linear(inFeatures: 5, outFeatures: 3, using: &rng)
        #expect(throws: AdapterError.invalidRank(key: "enc.fc", rank: 4, limit: 3)) { try SingularValueTuning(layer: l, rank: 4, key: "enc.fc") }
        #expect(throws: AdapterError.self) { try SingularValueTuning(layer: l, rank: 0) }
        #expect((try? SingularValueTuning(layer: l, rank: 2))?.values.shape == [2])
    }

    private func reconstruct(_ u: [Float], _ s: [Float], _ vt: [Float], m: Int, n: Int, k: Int) -> [Float] {
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for t in 0..<k { out[i * n + j] += u[i * k + t] * s[t] * vt[t * n + j] } } }
        return out
    }
}

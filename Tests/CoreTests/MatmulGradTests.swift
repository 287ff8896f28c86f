import Testing
import Core
import TestSupport

/// Matrix products and `linear` against central finite differences and hand-worked values,
/// including the frozen-weight path (no dW work at all).
@Suite struct MatmulGradTests {
    static let shapes: [(String, [Int], [Int])] = [
        ("2-D", [3, 4], [4, 5]),
        ("batched", [2, 3, 4], [2, 4, 5]),
        ("3-D times 2-D", [2, 3, 4], [4, 2]),
        ("broadcast batch", [2, 1, 3, 4], [3, 4, 5]),
        ("broadcast batch of 1", [1, 3, 4], [2, 4, 2]),
        ("4-D heads", [2, 2, 3, 4], [2, 2, 4, 3]),
    ]

    @Test(arguments: 0..<shapes.count)
    func matmulGrad(_ i: Int) {
        let (name, sa, sb) = Self.shapes[i]
        let a = randomTensor(sa, seed: UInt64(10 + i)), b = randomTensor(sb, seed: UInt64(20 + i))
        let r = gradCheck([a, b]) { $0[0].matmul($0[1]) }
        #expect(r.passed, "matmul \(name) \(sa)·\(sb): \(r)")
    }

    @Test func matmulExactValues() {
        // Hand arithmetic: [[1, 2], [3, 4]]·[[5, 6], [7, 8]] = [[19, 22], [43, 50]].
        let a = Tensor([1, 2, 3, 4], shape: [2, 2], requiresGrad: true)
        let b = Tensor([5, 6, 7, 8], shape: [2, 2], requiresGrad: true)
        let c = a.matmul(b)
        #expect(c.storage == [19, 22, 43, 50])
        // With upstream gradient of ones: dA = 1·Bᵀ has rows [5+6, 7+8] = [11, 15];
        // dB = Aᵀ·1 has rows [1+3, 2+4] = [4, 6] repeated across columns.
        c.sum().backward()
        #expect(a.gradStorage == [11, 15, 11, 15])
        #expect(b.gradStorage == [4, 4, 6, 6])
    }

    @Test func linearGrad() {
        let x = randomTensor([2, 3, 4], seed: 31), w = randomTensor([5, 4], seed: 32), b = randomTensor([5], seed: 33)
        let r = gradCheck([x, w, b]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        #expect(r.passed, "linear with bias: \(r)")
        let r2 = gradCheck([x, w]) { $0[0].linear(weight: $0[1]) }
        #expect(r2.passed, "linear without bias: \(r2)")
    }

    @Test func linearEqualsMatmulWithTransposedWeight() {
        // linear(x, W, b) = x·Wᵀ + b, checked against the matmul/add path (forward and gradients).
        let x1 = randomTensor([6, 7], seed: 34), w1 = randomTensor([3, 7], seed: 35), b1 = randomTensor([3], seed: 36)
        let x2 = x1.detached(), w2 = w1.detached(), b2 = b1.detached()
        for t in [x2, w2, b2] { t.requiresGrad = true }
        let g = randomTensor([6, 3], seed: 37, requiresGrad: false)
        let y1 = x1.linear(weight: w1, bias: b1)
        let y2 = x2.matmul(w2.transposed()) + b2
        #expect(allClose(y1, y2, atol: 1e-5), "\(differenceReport(y1, y2))")
        (y1 * g).sum().backward()
        (y2 * g).sum().backward()
        for (p, q) in [(x1, x2), (w1, w2), (b1, b2)] {
            #expect(allClose(p.grad!, q.grad!, atol: 1e-5), "\(differenceReport(p.grad!, q.grad!))")
        }
    }

    @Test func linearFrozenWeight() {
        // A frozen weight (and bias) must get no gradient buffer at all, while x still gets g·W.
        let x = randomTensor([4, 3], seed: 38)
        let w = randomTensor([2, 3], seed: 39, requiresGrad: false), b = randomTensor([2], seed: 40, requiresGrad: false)
        let r = gradCheck([x]) { $0[0].linear(weight: w, bias: b) }
        #expect(r.passed, "linear frozen weight, dX: \(r)")
        x.zeroGrad()
        x.linear(weight: w, bias: b).sum().backward()
        #expect(w.gradStorage == nil && b.gradStorage == nil)
        // With upstream ones, dX[r, j] = Σ_o W[o, j] for every row r.
        let colSums = (0..<3).map { j in w.storage[j] + w.storage[3 + j] }
        #expect(allClose(x.grad!, Tensor((0..<4).flatMap { _ in colSums }, shape: [4, 3]), atol: 1e-6))
        // Only the bias trains: its gradient is the row count of the upstream ones.
        let bt = randomTensor([2], seed: 41)
        x.detached().linear(weight: w, bias: bt).sum().backward()
        #expect(bt.gradStorage == [4, 4])
        #expect(w.gradStorage == nil)
    }

    @Test func linearExactValues() {
        // Hand arithmetic: x = [1, 2], W = [[1, 0], [1, 1], [0, 2]], b = [0.5, 0, −1]
        // gives x·Wᵀ + b = [1 + 0.5, 3, 4 − 1] = [1.5, 3, 3].
        let y = Tensor([1, 2], shape: [1, 2]).linear(weight: Tensor([1, 0, 1, 1, 0, 2], shape: [3, 2]), bias: Tensor([0.5, 0, -1]))
        #expect(y.storage == [1.5, 3, 3])
    }
}

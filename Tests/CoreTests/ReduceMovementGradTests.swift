import Testing
import Core
import TestSupport

/// Every reduction and movement op against central finite differences, plus a few exact
/// values worked out by hand.
@Suite struct ReduceMovementGradTests {
    /// Values 0.1·π(i) for a seeded permutation π: all distinct and at least 0.1 apart, so a
    /// finite-difference probe of ±0.01 never changes which element is the maximum.
    static func distinctValues(_ shape: [Int], seed: UInt64) -> Tensor {
        let n = shape.reduce(1, *)
        var rng = SplitMix64(seed: seed)
        let perm = (0..<n).shuffled(using: &rng)
        return Tensor(perm.map { Float($0) * 0.1 - Float(n) * 0.05 }, shape: shape, requiresGrad: true)
    }

    // MARK: - Reductions

    nonisolated(unsafe) static let reduceCases: [(String, @Sendable (Tensor) -> Tensor)] = [
        ("sum all", { $0.sum() }),
        ("sum axis 0", { $0.sum(axis: 0) }),
        ("sum axis -1 keepDims", { $0.sum(axis: -1, keepDims: true) }),
        ("sum axes [0, 2]", { $0.sum(axes: [0, 2]) }),
        ("sum axes [1, 2] keepDims", { $0.sum(axes: [1, 2], keepDims: true) }),
        ("mean all", { $0.mean() }),
        ("mean axis 1", { $0.mean(axis: 1) }),
        ("mean axes [0, 1] keepDims", { $0.mean(axes: [0, 1], keepDims: true) }),
        ("variance axis -1", { $0.variance(axes: [-1]) }),
        ("variance axes [0, 2] unbiased keepDims", { $0.variance(axes: [0, 2], unbiased: true, keepDims: true) }),
        ("max axis 0", { $0.max(axis: 0) }),
        ("max axis 1 keepDims", { $0.max(axis: 1, keepDims: true) }),
        ("max axis -1", { $0.max(axis: -1) }),
    ]

    @Test(arguments: 0..<reduceCases.count)
    func reduceGrad(_ i: Int) {
        let (name, f) = Self.reduceCases[i]
        let x = Self.distinctValues([2, 3, 4], seed: UInt64(i + 1))
        let r = gradCheck([x]) { f($0[0]) }
        #expect(r.passed, "\(name): \(r)")
    }

    @Test func reduceExactValues() {
        // Hand arithmetic on [[1, 2, 3], [4, 5, 6]]: column sums 5, 7, 9; row means 2, 5;
        // per-row biased variance ((−1)² + 0 + 1²)/3 = 2/3, unbiased 2/2 = 1; row maxima 3, 6.
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(x.sum(axis: 0).storage == [5, 7, 9])
        #expect(x.sum(axis: 1, keepDims: true).shape == [2, 1])
        #expect(x.mean(axis: 1).storage == [2, 5])
        #expect(allClose(x.variance(axes: [1]), Tensor([2.0 / 3, 2.0 / 3]), atol: 1e-6))
        #expect(x.variance(axes: [1], unbiased: true).storage == [1, 1])
        #expect(x.max(axis: 1).storage == [3, 6])
        // Ties: the gradient goes to the first maximal element only (PyTorch's max(dim)).
        let t = Tensor([2, 2, 1], shape: [1, 3], requiresGrad: true)
        t.max(axis: 1).sum().backward()
        #expect(t.gradStorage == [1, 0, 0])
    }

    // MARK: - Movement

    nonisolated(unsafe) static let movementCases: [(String, @Sendable (Tensor) -> Tensor)] = [
        ("reshape", { $0.reshaped([4, -1]) }),
        ("permute", { $0.permuted([2, 0, 1]) }),
        ("transpose default", { $0.transposed() }),
        ("transpose 0, 2", { $0.transposed(0, 2) }),
        ("slice axis 1", { $0.slice(axis: 1, 1..<3) }),
        ("slice axis -1", { $0.slice(axis: -1, 0..<2) }),
        ("indexSelect with repeats", { $0.indexSelect(axis: 2, [3, 0, 3, 3, 1]) }),
        ("indexSelect axis 0", { $0.indexSelect(axis: 0, [1, 1, 0]) }),
        ("maskedFill broadcast", { $0.maskedFill(Tensor([1, 0, 0, 1], shape: [4]), -7) }),
        ("expand", { $0.reshaped([2, 3, 1, 4]).expand(to: [2, 3, 5, 4]) }),
        ("expand new leading axis", { $0.expand(to: [3, 2, 3, 4]) }),
        ("stack with itself", { Tensor.stack([$0, $0 * 2]) }),
    ]

    @Test(arguments: 0..<movementCases.count)
    func movementGrad(_ i: Int) {
        let (name, f) = Self.movementCases[i]
        let x = randomTensor([2, 3, 4], seed: UInt64(100 + i))
        let r = gradCheck([x]) { f($0[0]) }
        #expect(r.passed, "\(name): \(r)")
    }

    @Test func concatAndStackGrad() {
        let a = randomTensor([2, 1, 3], seed: 201), b = randomTensor([2, 4, 3], seed: 202), c = randomTensor([2, 2, 3], seed: 203)
        let r = gradCheck([a, b, c]) { Tensor.concat($0, axis: 1) }
        #expect(r.passed, "concat axis 1: \(r)")
        let r0 = gradCheck([a, randomTensor([3, 1, 3], seed: 204)]) { Tensor.concat($0, axis: 0) }
        #expect(r0.passed, "concat axis 0: \(r0)")
        // A frozen part gets no gradient; the trainable one does.
        let frozen = randomTensor([2, 4, 3], seed: 205, requiresGrad: false)
        Tensor.concat([a, frozen], axis: 1).sum().backward()
        #expect(frozen.gradStorage == nil && a.gradStorage != nil)
        let s = [randomTensor([3, 2], seed: 206), randomTensor([3, 2], seed: 207), randomTensor([3, 2], seed: 208)]
        let rs = gradCheck(s) { Tensor.stack($0) }
        #expect(rs.passed, "stack: \(rs)")
    }

    @Test func movementExactValues() {
        // x = [[0, 1, 2], [3, 4, 5]]: the transpose reads columns, slice picks columns 1..<3,
        // indexSelect [2, 2, 0] repeats column 2; its gradient scatter-adds (2 onto column 2).
        let x = Tensor([0, 1, 2, 3, 4, 5], shape: [2, 3], requiresGrad: true)
        #expect(x.transposed().storage == [0, 3, 1, 4, 2, 5])
        #expect(x.slice(axis: 1, 1..<3).storage == [1, 2, 4, 5])
        let sel = x.indexSelect(axis: 1, [2, 2, 0])
        #expect(sel.storage == [2, 2, 0, 5, 5, 3])
        sel.sum().backward()
        #expect(x.gradStorage == [1, 0, 2, 1, 0, 2])
        #expect(Tensor.concat([x.detached(), x.detached()], axis: 0).storage == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5])
        #expect(x.detached().maskedFill(Tensor([0, 1, 0], shape: [3]), 9).storage == [0, 9, 2, 3, 9, 5])
        #expect(x.detached().permuted([1, 0]).reshaped([3, 2]).storage == [0, 3, 1, 4, 2, 5])
    }
}

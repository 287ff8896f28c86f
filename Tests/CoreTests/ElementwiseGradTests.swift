import Testing
import Core
import TestSupport

/// Every elementwise primitive against central finite differences, including broadcasting.
@Suite struct ElementwiseGradTests {
    nonisolated(unsafe) static let unaryCases: [(String, @Sendable (Tensor) -> Tensor)] = [
        ("neg", { -$0 }), ("exp", { $0.exp() }), ("tanh", { $0.tanh() }), ("sigmoid", { $0.sigmoid() }),
        ("relu", { $0.relu() }), ("silu", { $0.silu() }), ("square", { $0.square() }),
        ("mul_scalar", { $0 * 3 }), ("add_scalar", { $0 + 2 }), ("rsub", { 1 - $0 }), ("div_scalar", { $0 / 4 }),
        ("log", { ($0.square() + 0.5).log() }), ("sqrt", { ($0.square() + 0.5).sqrt() }),
        ("pow_scalar", { ($0.square() + 0.5).pow(1.5) }),
    ]

    @Test(arguments: 0..<unaryCases.count)
    func unary(_ i: Int) {
        let (name, f) = Self.unaryCases[i]
        let x = randomTensor([3, 4], seed: 1)
        // Keep relu away from its kink so finite differences are meaningful.
        if name == "relu" { x.storage = x.storage.map { Swift.abs($0) < 0.05 ? 0.3 : $0 } }
        let r = gradCheck([x]) { f($0[0]) }
        #expect(r.passed, "\(name): \(r)")
    }

    static let shapes: [([Int], [Int])] = [([2, 3], [2, 3]), ([2, 3], [3]), ([4, 1, 3], [2, 1]), ([1], [2, 3]), ([], [2, 2])]
    nonisolated(unsafe) static let binaryCases: [(String, @Sendable (Tensor, Tensor) -> Tensor)] = [
        ("add", { $0 + $1 }), ("sub", { $0 - $1 }), ("mul", { $0 * $1 }),
        ("div", { $0 / ($1.square() + 1) }), ("pow", { ($0.square() + 0.5).pow($1) }),
    ]

    @Test(arguments: 0..<binaryCases.count, 0..<shapes.count)
    func binaryBroadcast(_ op: Int, _ s: Int) {
        let (name, f) = Self.binaryCases[op]
        let a = randomTensor(Self.shapes[s].0, seed: 2), b = randomTensor(Self.shapes[s].1, seed: 3)
        let r = gradCheck([a, b]) { f($0[0], $0[1]) }
        #expect(r.passed, "\(name) \(Self.shapes[s]): \(r)")
    }

    @Test func broadcastValues() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let b = Tensor([10, 20, 30], shape: [3])
        #expect((a + b).storage == [11, 22, 33, 14, 25, 36])
        let c = Tensor([100, 200], shape: [2, 1])
        #expect((a + c).storage == [101, 102, 103, 204, 205, 206])
    }
}

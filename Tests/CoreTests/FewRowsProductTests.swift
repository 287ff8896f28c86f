import Foundation
import Testing
@testable import Core
import TestSupport

/// `FewRowsProduct`: A·Bᵀ against a float64 reference, strides, block edges, and the property the
/// Whisper decoder relies on: a row's result is bit-identical whether it is computed alone or with
/// other rows.
@Suite struct FewRowsProductTests {
    /// Float64 dot products of the same operands (the reference).
    static func reference(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += Double(a[i * k + p]) * Double(b[j * k + p]) } } }
        return c
    }

    @Test func matchesFloat64ReferenceAcrossBlockEdges() {
        // n = 2.5 blocks plus a ragged tail, k not a multiple of 8.
        let k = 37, block = FewRowsProduct.blockRows(k: k), n = 2 * block + block / 2 + 3
        for m in [1, 2, 5, 6, 9] {
            let a = randomTensor([m, k], seed: UInt64(m)), b = randomTensor([n, k], seed: 100 + UInt64(m))
            let c = FewRowsProduct.multiply(a, weight: b)
            let ref = Self.reference(a.storage, b.storage, m: m, n: n, k: k)
            #expect(c.count == m * n)
            // |error| ≤ k·ε·Σ|a·b| bounds float32 accumulation; Σ|a·b| ≤ k·max|a|·max|b| here ≤ k·9.
            let worst = zip(c, ref).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(worst < Double(k) * 1.2e-7 * Double(k) * 9, "m \(m): max error \(worst)")
        }
    }

    @Test func rowsDoNotDependOnCompany() {
        let k = 64, n = 3 * FewRowsProduct.blockRows(k: k) + 11
        let a = randomTensor([5, k], seed: 7), b = randomTensor([n, k], seed: 8)
        let together = FewRowsProduct.multiply(a, weight: b)
        for i in 0..<5 {
            let alone = FewRowsProduct.multiply(a.slice(axis: 0, i..<(i + 1)), weight: b)
            let differing = zip(alone, together[(i * n)..<((i + 1) * n)]).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "row \(i): \(differing) of \(n) values differ from the 5-row product")
        }
    }

    @Test func respectsStridesAndLeavesPaddingAlone() {
        let (m, n, k) = (3, 50, 10), (lda, ldb, ldc) = (13, 12, 57)
        let a = randomTensor([m, lda], seed: 1).storage, b = randomTensor([n, ldb], seed: 2).storage
        var c = [Float](repeating: -7, count: m * ldc)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    FewRowsProduct.multiply(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                                            c: cp.baseAddress!, ldc: ldc)
                }
            }
        }
        for i in 0..<m {
            for j in 0..<ldc {
                if j >= n { #expect(c[i * ldc + j] == -7); continue }
                var ref = 0.0
                for p in 0..<k { ref += Double(a[i * lda + p]) * Double(b[j * ldb + p]) }
                #expect(abs(Double(c[i * ldc + j]) - ref) < 1e-5, "(\(i), \(j))")
            }
        }
    }
}

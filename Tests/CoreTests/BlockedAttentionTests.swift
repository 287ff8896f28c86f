import Core
import Foundation
import Testing
import TestSupport

/// The row-blocked attention kernel (Core/Kernels/BlockedAttentionKernel.swift) against the
/// composed reference (split heads, matmul, softmax, matmul; its gradients by autograd) and finite
/// differences, with odd sizes (several query blocks, the last one partial), masks of every shape
/// `MultiHeadAttention` builds, fully masked rows, and both backward variants (recomputed or saved P).
@Suite struct BlockedAttentionTests {
    /// Reference: split heads, composed attention, merge heads.
    func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads h: Int, mask: Tensor?, scale: Float) -> Tensor {
        func split(_ t: Tensor) -> Tensor { t.reshaped([t.shape[0], t.shape[1], h, t.shape[2] / h]).permuted([0, 2, 1, 3]) }
        let o = Tensor.attentionComposed(q: split(q), k: split(k), v: split(v), mask: mask, scale: scale)
        return o.permuted([0, 2, 1, 3]).reshaped([q.shape[0], q.shape[1], v.shape[2]])
    }

    /// Masks: 0 none, 1 key padding `[B, 1, 1, Tk]` (−1e9), 2 per-query `[1, 1, Tq, Tk]` with −∞
    /// entries and one fully masked row (−1e9 instead when not `infinite`: the composed reference's
    /// softmax gives NaN for an all −∞ row), 3 per-batch-and-query `[B, 1, Tq, Tk]` (causal-style band).
    func mask(_ kind: Int, b: Int, tq: Int, tk: Int, infinite: Bool = true) -> Tensor? {
        switch kind {
        case 1:
            let lengths = (0..<b).map { max(1, tk - 7 * $0) }
            return Tensor((0..<(b * tk)).map { $0 % tk < lengths[$0 / tk] ? 0 : -1e9 }, shape: [b, 1, 1, tk])
        case 2:
            return Tensor((0..<(tq * tk)).map { i in
                let (r, c) = (i / tk, i % tk)
                return r == 3 || (r + c) % 5 == 0 ? (infinite ? -.infinity : -1e9) : 0
            }, shape: [1, 1, tq, tk])
        case 3:
            return Tensor((0..<(b * tq * tk)).map { i in
                let (bb, r, c) = (i / (tq * tk), (i / tk) % tq, i % tk)
                return c <= (r + bb) % tk ? 0 : -1e9
            }, shape: [b, 1, tq, tk])
        default:
            return nil
        }
    }

    func expectMatchesReference(b: Int, tq: Int, tk: Int, h: Int, d: Int, dv: Int, maskKind: Int, save: Bool,
                                seed: UInt64) throws {
        let q = randomTensor([b, tq, h * d], seed: seed), k = randomTensor([b, tk, h * d], seed: seed + 1)
        let v = randomTensor([b, tk, h * dv], seed: seed + 2)
        let m = mask(maskKind, b: b, tq: tq, tk: tk, infinite: false)
        let scale: Float = 0.6
        let fused = try #require(Tensor.blockedHeadAttention(q: q, k: k, v: v, heads: h, mask: m, scale: scale, saveProbabilities: save))
        let ref = reference(q, k, v, heads: h, mask: m, scale: scale)
        let label = "b\(b) tq\(tq) tk\(tk) h\(h) mask\(maskKind) save \(save)"
        #expect(allClose(fused, ref, atol: 2e-6, rtol: 1e-5), "\(label): \(differenceReport(fused, ref))")
        let w = randomTensor(ref.shape, seed: seed + 3, requiresGrad: false)
        (fused * w).sum().backward()
        let grads = [q, k, v].map { $0.grad! }
        for t in [q, k, v] { t.zeroGrad() }
        (ref * w).sum().backward()
        for (i, t) in [q, k, v].enumerated() {
            #expect(allClose(grads[i], t.grad!, atol: 1e-5, rtol: 1e-4), "\(label) grad \(i): \(differenceReport(grads[i], t.grad!))")
        }
    }

    @Test(arguments: [0, 1, 2, 3])
    func matchesComposedReference(maskKind: Int) throws {
        // 150 query rows = blocks of 64, 64, 22; 45 keys (odd); Dv ≠ D.
        for save in [false, true] {
            try expectMatchesReference(b: 2, tq: 150, tk: 45, h: 3, d: 5, dv: 3, maskKind: maskKind, save: save, seed: 40)
        }
        // A single partial block, and one query row.
        try expectMatchesReference(b: 1, tq: 7, tk: 13, h: 2, d: 4, dv: 4, maskKind: maskKind, save: false, seed: 50)
        try expectMatchesReference(b: 3, tq: 1, tk: 9, h: 1, d: 2, dv: 3, maskKind: maskKind == 2 ? 0 : maskKind, save: false, seed: 60)
    }

    @Test func gradientsByFiniteDifferences() {
        // Two query blocks (64 + 3 rows) with a mask holding −∞ entries and a fully masked row.
        let (b, tq, tk, h) = (1, 67, 6, 2)
        let q = randomTensor([b, tq, h * 2], seed: 70), k = randomTensor([b, tk, h * 2], seed: 71)
        let v = randomTensor([b, tk, h * 2], seed: 72)
        let m = mask(2, b: b, tq: tq, tk: tk)
        for save in [false, true] {
            let r = gradCheck([q, k, v]) { xs in
                Tensor.blockedHeadAttention(q: xs[0], k: xs[1], v: xs[2], heads: h, mask: m, scale: 0.8, saveProbabilities: save)!
            }
            #expect(r.passed, "save \(save): \(r)")
        }
    }

    @Test func fullyMaskedRowGivesZerosAndNoNaN() throws {
        let q = randomTensor([1, 8, 4], seed: 80), k = randomTensor([1, 6, 4], seed: 81), v = randomTensor([1, 6, 4], seed: 82)
        let m = mask(2, b: 1, tq: 8, tk: 6)!  // row 3 is all −∞
        let out = try #require(Tensor.blockedHeadAttention(q: q, k: k, v: v, heads: 2, mask: m, scale: 1))
        #expect(Array(out.storage[(3 * 4)..<(4 * 4)]) == [0, 0, 0, 0])
        out.sum().backward()
        #expect(q.grad!.storage.allSatisfy { $0.isFinite } && Array(q.grad!.storage[(3 * 4)..<(4 * 4)]) == [0, 0, 0, 0])
    }

    @Test func longSequencesTakeTheBlockedPathAndMatchThePlainKernel() throws {
        // headAttention switches to the blocked kernel from `minimumKeys` keys on; its result must
        // equal the reference (and so the plain kernel, which the other suites check).
        let t = BlockedAttentionKernel.minimumKeys + 17
        let q = randomTensor([1, t, 16], seed: 90), k = randomTensor([1, t, 16], seed: 91), v = randomTensor([1, t, 16], seed: 92)
        let m = mask(1, b: 1, tq: t, tk: t)
        var rng = SplitMix64(seed: 1)
        let out = try #require(Tensor.headAttention(q: q, k: k, v: v, heads: 2, mask: m, scale: 0.35, rng: &rng))
        if BlockedAttentionKernel.enabled { #expect(out.opName == "blocked_attention") }
        let ref = reference(q, k, v, heads: 2, mask: m, scale: 0.35)
        #expect(allClose(out, ref, atol: 2e-6, rtol: 1e-5), "\(differenceReport(out, ref))")
        // Inference (no graph) takes the same path and gives the same values.
        let inference = withoutGrad { Tensor.headAttention(q: q, k: k, v: v, heads: 2, mask: m, scale: 0.35, rng: &rng)! }
        #expect(inference.storage == out.storage)
    }
}

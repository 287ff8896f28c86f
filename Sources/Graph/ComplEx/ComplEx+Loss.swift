import Core

/// The two parts of the ComplEx-N3 training loss of one batch.
public struct ComplExLoss: Sendable, Equatable {
    /// Mean 1-vs-all softmax cross-entropy of the true answer over all entities.
    public var crossEntropy: Float
    /// `λ · Σ_{f ∈ {s, p, o}} Σ_j |f_j|³ / B` with `|f_j|` the complex modulus.
    public var n3: Float
    public var total: Float { crossEntropy + n3 }
}

/// Gradient buffers shaped like a model's tables.
public struct ComplExGradients: Sendable {
    public var entity: [Float]
    public var relation: [Float]

    public init(for model: ComplExModel) {
        entity = [Float](repeating: 0, count: model.entity.count)
        relation = [Float](repeating: 0, count: model.relation.count)
    }
}

/// Forward and hand-written backward of the CQD training objective (kbc's `learn.py` recipe):
/// for each reciprocal query `(s, p, ?) → o` the scores of all entities `φ_p(s, ·)` go through
/// softmax cross-entropy against `o`, plus the N3 penalty on the three factors used.
///
/// The backward mirrors the forward in reverse (llm.c style):
///   S = Q·Eᵀ             →  dQ = dS·E,  dE = dSᵀ·Q   (two GEMMs)
///   q = s ∘ r            →  ds = dq ∘ conj(r),  dr = dq ∘ conj(s)
///   N3 = c Σ (re²+im²)^{3/2}  →  d re = 3c·|f|·re,  d im = 3c·|f|·im
extension ComplExModel {
    /// Loss of `batch` without gradients (evaluation, finite-difference checks).
    public func loss(_ batch: [LinkQuery], n3Weight: Float) -> ComplExLoss {
        forwardBackward(batch, n3Weight: n3Weight, entityGrad: nil, relationGrad: nil)
    }

    /// Loss of `batch`; `gradients` is overwritten with its gradient w.r.t. both tables.
    public func lossAndGradients(_ batch: [LinkQuery], n3Weight: Float, into gradients: inout ComplExGradients) -> ComplExLoss {
        precondition(gradients.entity.count == entity.count && gradients.relation.count == relation.count,
                     "lossAndGradients: gradient buffers do not match the model")
        return gradients.entity.withUnsafeMutableBufferPointer { ge in
            gradients.relation.withUnsafeMutableBufferPointer { gr in
                forwardBackward(batch, n3Weight: n3Weight, entityGrad: ge.baseAddress!, relationGrad: gr.baseAddress!)
            }
        }
    }

    private func forwardBackward(
        _ batch: [LinkQuery], n3Weight: Float,
        entityGrad: UnsafeMutablePointer<Float>?, relationGrad: UnsafeMutablePointer<Float>?
    ) -> ComplExLoss {
        let wantGrad = entityGrad != nil
        let bsz = batch.count, n = entityCount, k = rank, w = width
        guard bsz > 0 else { return ComplExLoss(crossEntropy: 0, n3: 0) }
        let anchors = batch.map(\.anchor), rels = batch.map(\.relation), answers = batch.map(\.answer)

        // q: [B, 2k], S: [B, N]
        var q = [Float](repeating: 0, count: bsz * w)
        q.withUnsafeMutableBufferPointer { queryVectors(anchors: anchors, relations: rels, into: $0.baseAddress!) }
        let scores = scoreAll(queryVectors: q)

        // Cross-entropy through Core (fused kernel when available); its gradient is dS.
        let logits = Tensor(scores, shape: [bsz, n], requiresGrad: wantGrad)
        let ce: Float = GradMode.$isEnabled.withValue(wantGrad) {
            let l = logits.crossEntropy(targets: answers)
            if wantGrad { l.backward() }
            return l.item
        }

        // N3 over the three factors of every query, with its gradient folded in below.
        let scale = n3Weight / Float(bsz)
        var n3Sum: Double = 0
        entity.withUnsafeBufferPointer { e in
            relation.withUnsafeBufferPointer { r in
                for b in 0..<bsz {
                    n3Sum += cubedModulusSum(e.baseAddress! + anchors[b] * w, k)
                    n3Sum += cubedModulusSum(r.baseAddress! + rels[b] * w, k)
                    n3Sum += cubedModulusSum(e.baseAddress! + answers[b] * w, k)
                }
            }
        }
        let loss = ComplExLoss(crossEntropy: ce, n3: Float(n3Sum) * scale)
        guard let gEnt = entityGrad, let gRel = relationGrad else { return loss }
        let dS = logits.gradStorage ?? [Float](repeating: 0, count: bsz * n)

        // dQ = dS · E  [B, 2k];  dE = dSᵀ · Q  [N, 2k] (overwrites the entity gradient)
        var dQ = [Float](repeating: 0, count: bsz * w)
        dS.withUnsafeBufferPointer { ds in
            entity.withUnsafeBufferPointer { e in
                dQ.withUnsafeMutableBufferPointer { dq in
                    BLAS.sgemm(transA: false, transB: false, m: bsz, n: w, k: n,
                               a: ds.baseAddress!, lda: n, b: e.baseAddress!, ldb: w, c: dq.baseAddress!, ldc: w)
                }
                q.withUnsafeBufferPointer { qp in
                    BLAS.sgemm(transA: true, transB: false, m: n, n: w, k: bsz,
                               a: ds.baseAddress!, lda: n, b: qp.baseAddress!, ldb: w, c: gEnt, ldc: w)
                }
            }
        }
        gRel.update(repeating: 0, count: relation.count)

        // Through q = s ∘ r, then N3; scatter-add per row (rows repeat within a batch).
        let c3 = 3 * scale
        entity.withUnsafeBufferPointer { e in
            relation.withUnsafeBufferPointer { r in
                dQ.withUnsafeBufferPointer { dq in
                    for b in 0..<bsz {
                        let s = e.baseAddress! + anchors[b] * w, p = r.baseAddress! + rels[b] * w
                        let o = e.baseAddress! + answers[b] * w
                        let gs = gEnt + anchors[b] * w, gp = gRel + rels[b] * w
                        let go = gEnt + answers[b] * w
                        let g = dq.baseAddress! + b * w
                        for j in 0..<k {
                            let sr = s[j], si = s[k + j], pr = p[j], pi = p[k + j]
                            let gre = g[j], gim = g[k + j]
                            // q_re = sr·pr − si·pi,  q_im = sr·pi + si·pr
                            gs[j] += gre * pr + gim * pi
                            gs[k + j] += -gre * pi + gim * pr
                            gp[j] += gre * sr + gim * si
                            gp[k + j] += -gre * si + gim * sr
                        }
                        n3Gradient(s, gs, k, c3)
                        n3Gradient(p, gp, k, c3)
                        n3Gradient(o, go, k, c3)
                    }
                }
            }
        }
        return loss
    }
}

/// `Σ_j (re_j² + im_j²)^{3/2}` of one complex row, accumulated in Double.
@inline(__always)
func cubedModulusSum(_ f: UnsafePointer<Float>, _ k: Int) -> Double {
    var total: Double = 0
    for j in 0..<k {
        let m = (f[j] * f[j] + f[k + j] * f[k + j]).squareRoot()
        total += Double(m * m * m)
    }
    return total
}

/// Adds `c · |f_j| · f_j` (the N3 gradient with `c = 3λ/B`) into `g` for one complex row.
@inline(__always)
func n3Gradient(_ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ k: Int, _ c: Float) {
    for j in 0..<k {
        let re = f[j], im = f[k + j]
        let m = (re * re + im * im).squareRoot()
        g[j] += c * m * re
        g[k + j] += c * m * im
    }
}

/// The gradient projections of GEM (Lopez-Paz & Ranzato 2017) and A-GEM (Chaudhry et al. 2019).
///
/// GEM: given the new gradient g and the gradients g_k of the episodic memories of earlier tasks,
/// when some ⟨g, g_k⟩ < 0 the step would raise that memory's loss (to first order), so g is
/// replaced by the closest vector g̃ with ⟨g̃, g_k⟩ ≥ margin·… for all k:
///
///     min ½‖g̃ − g‖²  s.t.  G g̃ ≥ 0        (G: rows g_k)
///
/// solved through its small dual, `min_{v ≥ 0} ½ vᵀ(GGᵀ)v + (Gg)ᵀv`, with g̃ = g + Gᵀv.
/// A-GEM keeps one constraint, against the average memory gradient, which has a closed form.
///
/// ```swift
/// let g = ParameterVector.gradients(params)
/// let r = GradientEpisodicMemory.project(g, memories: memoryGradients)
/// if r.projected { ParameterVector.setGradients(params, r.gradient) }
/// ```
public enum GradientEpisodicMemory {
    /// GEM's projection. `margin` ≥ 0 asks for ⟨g̃, g_k⟩ ≥ margin·‖g_k‖² instead of ≥ 0 (the
    /// GEM paper's "memory strength" bias towards reducing the memory losses); 0 is the exact
    /// first-order constraint.
    public static func project(_ g: [Float], memories: [[Float]], margin: Double = 0) -> (gradient: [Float], projected: Bool, dual: [Double]) {
        let k = memories.count
        guard k > 0 else { return (g, false, []) }
        let gk = memories.map { ParameterVector.dot($0, g) }
        let norms = memories.map { ParameterVector.dot($0, $0) }
        guard zip(gk, norms).contains(where: { $0 < margin * $1 }) else { return (g, false, [Double](repeating: 0, count: k)) }
        var q = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for i in 0..<k {
            for j in i..<k {
                let d = i == j ? norms[i] : ParameterVector.dot(memories[i], memories[j])
                q[i][j] = d; q[j][i] = d
            }
        }
        // The constraint G g̃ ≥ b with b_k = margin·‖g_k‖² moves into the linear term: c = Gg − b.
        let c = (0..<k).map { gk[$0] - margin * norms[$0] }
        let v = NonnegativeQP.solve(q: q, c: c)
        var out = g
        for i in 0..<k where v[i] > 0 { out = ParameterVector.axpy(out, v[i], memories[i]) }
        return (out, true, v)
    }

    /// A-GEM's projection against one reference gradient (the mean of the memory gradients):
    /// when ⟨g, g_ref⟩ < 0, `g − (⟨g, g_ref⟩ / ‖g_ref‖²) g_ref`; otherwise g unchanged.
    public static func projectAveraged(_ g: [Float], reference: [Float]) -> (gradient: [Float], projected: Bool) {
        let d = ParameterVector.dot(g, reference)
        let n = ParameterVector.dot(reference, reference)
        guard d < 0, n > 0 else { return (g, false) }
        return (ParameterVector.axpy(g, -d / n, reference), true)
    }
}

/// A small convex quadratic programme with non-negativity constraints:
/// `min_{v ≥ 0} ½ vᵀ Q v + cᵀ v` for a symmetric positive semi-definite Q (GEM's dual; its size
/// is the number of earlier tasks).
///
/// Solved by cyclic coordinate descent with exact line minimisation and clipping at 0
/// (Hildreth's method), which converges for any PSD Q; iterations stop when the KKT conditions
/// (v ≥ 0, Qv + c ≥ 0, v_i (Qv + c)_i = 0) hold to `tolerance` relative to the problem's scale.
public enum NonnegativeQP {
    public static func solve(q: [[Double]], c: [Double], tolerance: Double = 1e-12, maxSweeps: Int = 100_000) -> [Double] {
        let k = c.count
        precondition(q.count == k && q.allSatisfy { $0.count == k }, "NonnegativeQP: Q must be \(k)×\(k)")
        var v = [Double](repeating: 0, count: k)
        // Gradient Qv + c, kept up to date.
        var grad = c
        let scale = max(q.enumerated().map { abs($0.element[$0.offset]) }.max() ?? 1, c.map(abs).max() ?? 1, 1e-300)
        for _ in 0..<maxSweeps {
            for i in 0..<k where q[i][i] > 0 {
                let newV = max(0, v[i] - grad[i] / q[i][i])
                let delta = newV - v[i]
                if delta != 0 {
                    v[i] = newV
                    for j in 0..<k { grad[j] += q[j][i] * delta }
                }
            }
            var violation = 0.0
            for i in 0..<k {
                // Stationarity for free coordinates, dual feasibility for clipped ones.
                let r = v[i] > 0 ? abs(grad[i]) : max(0, -grad[i])
                violation = max(violation, r)
            }
            if violation <= tolerance * scale { break }
        }
        return v
    }
}

import Foundation

/// Seamless cloning by Poisson image editing (Pérez, Gangnet & Blake, SIGGRAPH 2003): inside
/// the mask region Ω the result f solves the discrete Poisson equation with Dirichlet boundary
/// values taken from the target,
///
///     |N_p|·f_p − Σ_{q ∈ N_p ∩ Ω} f_q = Σ_{q ∈ N_p ∩ ∂Ω} t_q + Σ_{q ∈ N_p} v_pq,
///
/// with N_p the 4-neighbours of p and the guidance v_pq = s_p − s_q (the source's gradient) or,
/// with `.mixed`, whichever of the source and target differences is larger in magnitude. The
/// matrix is symmetric positive definite (a graph Laplacian with a Dirichlet boundary), so
/// Jacobi-preconditioned conjugate gradients solve it; every channel is solved separately.
///
/// Pixels on the image border are never in Ω (they would lack a neighbour), so the boundary
/// condition is always defined. Source and target must have the same size and channels.
public enum PoissonBlending {
    public enum Guidance: String, Sendable {
        /// v = ∇source: the source texture, the target's colour at the seam.
        case source
        /// Per edge the larger of ∇source and ∇target (keeps target texture where it is stronger).
        case mixed
    }

    /// What the solver did, per channel.
    public struct Report: Sendable {
        public var regionPixels: Int
        public var iterations: [Int]
        public var relativeResiduals: [Double]
    }

    /// Blends `source` into `target` inside `mask` (`mask[y·width + x] > 0.5` is Ω). Returns the
    /// blended image (values rounded and clamped to 0…255) and the solver report.
    public static func blend(source: Image, target: Image, mask: [Float], guidance: Guidance = .source,
                             tolerance: Double = 1e-6) throws -> (image: Image, report: Report) {
        guard source.width == target.width, source.height == target.height, source.channels == target.channels else {
            throw DatasetError("Poisson blending: source \(source.width)x\(source.height)x\(source.channels) and target \(target.width)x\(target.height)x\(target.channels) differ; convert and resize them first")
        }
        let w = target.width, h = target.height, c = target.channels
        guard mask.count == w * h else {
            throw DatasetError("Poisson blending: mask has \(mask.count) values for a \(w)x\(h) image")
        }
        // Unknown index of every pixel in Ω, -1 elsewhere.
        var index = [Int](repeating: -1, count: w * h)
        var region: [Int] = []
        for y in 1..<max(1, h - 1) {
            for x in 1..<max(1, w - 1) where mask[y * w + x] > 0.5 {
                index[y * w + x] = region.count
                region.append(y * w + x)
            }
        }
        var out = target
        guard !region.isEmpty else { return (out, Report(regionPixels: 0, iterations: [], relativeResiduals: [])) }

        // The matrix is the same for every channel.
        var a = SparseMatrix(size: region.count)
        let offsets = [-w, w, -1, 1]
        for p in region {
            var row: [(column: Int, value: Double)] = [(index[p], 4)]
            for o in offsets where index[p + o] >= 0 { row.append((index[p + o], -1)) }
            a.appendRow(row)
        }
        var report = Report(regionPixels: region.count, iterations: [], relativeResiduals: [])
        for ch in 0..<c {
            let s = { (i: Int) in Double(source.pixels[i * c + ch]) }
            let t = { (i: Int) in Double(target.pixels[i * c + ch]) }
            var b = [Double](repeating: 0, count: region.count)
            for (k, p) in region.enumerated() {
                var rhs = 0.0
                for o in offsets {
                    let q = p + o
                    var v = s(p) - s(q)
                    if guidance == .mixed {
                        let vt = t(p) - t(q)
                        if abs(vt) > abs(v) { v = vt }
                    }
                    rhs += v
                    if index[q] < 0 { rhs += t(q) }   // q on ∂Ω: known boundary value
                }
                b[k] = rhs
            }
            // Start from the target (already close away from the seam for similar images).
            let start = region.map { t($0) }
            let result = ConjugateGradient.solve(a, b, initial: start, tolerance: tolerance)
            guard result.relativeResidual.isFinite, result.relativeResidual < 1e-3 else {
                throw DatasetError("Poisson blending: conjugate gradients did not converge on channel \(ch) (relative residual \(result.relativeResidual) after \(result.iterations) iterations)")
            }
            report.iterations.append(result.iterations)
            report.relativeResiduals.append(result.relativeResidual)
            for (k, p) in region.enumerated() {
                out.pixels[p * c + ch] = UInt8(max(0, min(255, result.solution[k].rounded())))
            }
        }
        return (out, report)
    }
}

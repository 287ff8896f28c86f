/// Orthogonal gradient descent's memory (Farajtabar et al. 2020): an orthonormal basis of
/// gradient directions from earlier tasks, built by Gram–Schmidt. New gradients are projected
/// onto its orthogonal complement, `g ← g − Σ_j ⟨g, u_j⟩ u_j`, so a step does not change (to
/// first order) the functions whose gradients spanned the basis.
///
/// Orthogonalisation runs twice ("twice is enough", Giraud et al.) to keep the basis orthonormal
/// in Float; a direction whose remainder is below `tolerance` of its length adds nothing; the
/// basis stops growing at `maxSize` vectors (memory is `maxSize` × parameters floats).
///
/// ```swift
/// let basis = OrthogonalBasis(maxSize: 100)
/// basis.add(ParameterVector.gradients(params))   // after a task, per stored sample
/// ParameterVector.setGradients(params, basis.project(ParameterVector.gradients(params)))
/// ```
public final class OrthogonalBasis {
    public let maxSize: Int
    public let tolerance: Double
    public private(set) var vectors: [[Float]] = []

    public init(maxSize: Int, tolerance: Double = 1e-6) {
        self.maxSize = maxSize
        self.tolerance = tolerance
    }

    /// Replaces the basis by saved vectors (from `vectors`, e.g. a training checkpoint); they
    /// are taken as they are, orthonormal already.
    public func restore(_ saved: [[Float]]) {
        precondition(saved.count <= maxSize && Set(saved.map(\.count)).count <= 1, "OrthogonalBasis.restore: \(saved.count) vectors of unequal length or beyond \(maxSize)")
        vectors = saved
    }

    public var isFull: Bool { vectors.count >= maxSize }

    /// `g` minus its components along the basis.
    public func project(_ g: [Float]) -> [Float] {
        var r = g
        for u in vectors { r = ParameterVector.axpy(r, -ParameterVector.dot(r, u), u) }
        return r
    }

    /// Adds the normalised part of `v` orthogonal to the basis. Returns false when the basis is
    /// full or `v` is (numerically) inside its span.
    @discardableResult
    public func add(_ v: [Float]) -> Bool {
        guard !isFull else { return false }
        if let first = vectors.first { precondition(first.count == v.count, "OrthogonalBasis.add: \(v.count) entries, basis has \(first.count)") }
        let length = ParameterVector.dot(v, v).squareRoot()
        guard length > 0, length.isFinite else { return false }
        let r = project(project(v))
        let rest = ParameterVector.dot(r, r).squareRoot()
        guard rest > tolerance * length else { return false }
        vectors.append(r.map { Float(Double($0) / rest) })
        return true
    }
}

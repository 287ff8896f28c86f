/// Flat views of a list of trainable parameters and their gradients, in the list's order: the
/// vector space the continual-learning projections (GEM, A-GEM, OGD) and penalties work in.
///
/// ```swift
/// let params = model.trainableParameters()
/// loss.backward()
/// var g = ParameterVector.gradients(params)
/// g = basis.project(g)
/// ParameterVector.setGradients(params, g)
/// ```
public enum ParameterVector {
    /// Total number of scalars.
    public static func count(_ params: [(String, Tensor)]) -> Int { params.reduce(0) { $0 + $1.1.count } }

    /// The parameter values, concatenated.
    public static func values(_ params: [(String, Tensor)]) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count(params))
        for (_, p) in params { out += p.storage }
        return out
    }

    /// The accumulated gradients, concatenated (zeros for a parameter without a gradient).
    public static func gradients(_ params: [(String, Tensor)]) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count(params))
        for (_, p) in params {
            if let g = p.gradStorage, g.count == p.count { out += g } else { out += [Float](repeating: 0, count: p.count) }
        }
        return out
    }

    /// Replaces every parameter's gradient by its slice of `flat` (which must have `count(params)` entries).
    public static func setGradients(_ params: [(String, Tensor)], _ flat: [Float]) {
        precondition(flat.count == count(params), "ParameterVector.setGradients: \(flat.count) values for \(count(params)) parameters")
        var offset = 0
        for (_, p) in params {
            p.gradStorage = Array(flat[offset..<(offset + p.count)])
            offset += p.count
        }
    }

    /// Replaces every parameter's values by its slice of `flat`.
    public static func setValues(_ params: [(String, Tensor)], _ flat: [Float]) {
        precondition(flat.count == count(params), "ParameterVector.setValues: \(flat.count) values for \(count(params)) parameters")
        var offset = 0
        for (_, p) in params {
            p.storage = Array(flat[offset..<(offset + p.count)])
            offset += p.count
        }
    }

    /// Dot product accumulated in Double (the vectors have up to millions of entries).
    public static func dot(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "ParameterVector.dot: lengths \(a.count) and \(b.count)")
        var s = 0.0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count { s += Double(pa[i]) * Double(pb[i]) }
            }
        }
        return s
    }

    /// `a + s·b`.
    public static func axpy(_ a: [Float], _ s: Double, _ b: [Float]) -> [Float] {
        precondition(a.count == b.count, "ParameterVector.axpy: lengths \(a.count) and \(b.count)")
        var out = a
        let f = Float(s)
        for i in 0..<out.count { out[i] += f * b[i] }
        return out
    }
}

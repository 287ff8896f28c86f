import Foundation

/// A square sparse matrix in compressed-sparse-row form (`rowStart`, `columns`, `values`),
/// built row by row. It exists for the Poisson systems of seamless cloning: one row per
/// pixel inside the mask, at most five non-zeros each, so a dense matrix (n² entries for a
/// face region of n ≈ 2,000 pixels) would waste memory and time.
public struct SparseMatrix: Sendable {
    public let size: Int
    /// `rowStart[i] ..< rowStart[i + 1]` indexes row i's entries in `columns` / `values`.
    public private(set) var rowStart: [Int] = [0]
    public private(set) var columns: [Int] = []
    public private(set) var values: [Double] = []

    public init(size: Int) { self.size = size }

    /// Appends the next row (rows must be added in order, 0 first). Entries with the same
    /// column are kept as given; the product adds them, which is the intended meaning.
    public mutating func appendRow(_ entries: [(column: Int, value: Double)]) {
        precondition(rowStart.count - 1 < size, "SparseMatrix: more than \(size) rows")
        for e in entries {
            precondition(e.column >= 0 && e.column < size, "SparseMatrix: column \(e.column) outside 0..<\(size)")
            columns.append(e.column)
            values.append(e.value)
        }
        rowStart.append(columns.count)
    }

    public var rowCount: Int { rowStart.count - 1 }

    /// y = A·x.
    public func multiply(_ x: [Double], into y: inout [Double]) {
        for i in 0..<rowCount {
            var s = 0.0
            for k in rowStart[i]..<rowStart[i + 1] { s += values[k] * x[columns[k]] }
            y[i] = s
        }
    }

    /// The diagonal (zero where a row stores none), for the Jacobi preconditioner.
    public var diagonal: [Double] {
        var d = [Double](repeating: 0, count: size)
        for i in 0..<rowCount {
            for k in rowStart[i]..<rowStart[i + 1] where columns[k] == i { d[i] += values[k] }
        }
        return d
    }
}

/// Jacobi-preconditioned conjugate gradients for a symmetric positive-definite `SparseMatrix`
/// (Hestenes–Stiefel; the preconditioner divides by the diagonal). Stops when the residual
/// norm falls below `tolerance · ‖b‖` or after `maxIterations`.
public enum ConjugateGradient {
    public struct Result: Sendable {
        public var solution: [Double]
        public var iterations: Int
        /// ‖b − A·x‖ / ‖b‖ at the end (0 when b = 0).
        public var relativeResidual: Double
        public var converged: Bool
    }

    public static func solve(_ a: SparseMatrix, _ b: [Double], initial: [Double]? = nil,
                             tolerance: Double = 1e-8, maxIterations: Int? = nil) -> Result {
        let n = a.size
        precondition(a.rowCount == n && b.count == n, "ConjugateGradient: matrix \(a.rowCount)×\(n) vs right side \(b.count)")
        let limit = maxIterations ?? max(10, 4 * n)
        var x = initial ?? [Double](repeating: 0, count: n)
        let bNorm = norm(b)
        if bNorm == 0 { return Result(solution: [Double](repeating: 0, count: n), iterations: 0, relativeResidual: 0, converged: true) }
        let inverseDiagonal = a.diagonal.map { $0 != 0 ? 1 / $0 : 1 }
        var ax = [Double](repeating: 0, count: n)
        a.multiply(x, into: &ax)
        var r = (0..<n).map { b[$0] - ax[$0] }
        var z = (0..<n).map { r[$0] * inverseDiagonal[$0] }
        var p = z
        var rz = dot(r, z)
        var ap = [Double](repeating: 0, count: n)
        var iterations = 0
        var residual = norm(r) / bNorm
        while residual > tolerance && iterations < limit {
            a.multiply(p, into: &ap)
            let pap = dot(p, ap)
            // p·Ap ≤ 0 means the matrix is not positive definite (or p vanished): stop honestly.
            guard pap > 0 else { break }
            let step = rz / pap
            for i in 0..<n {
                x[i] += step * p[i]
                r[i] -= step * ap[i]
            }
            for i in 0..<n { z[i] = r[i] * inverseDiagonal[i] }
            let rzNext = dot(r, z)
            let beta = rzNext / rz
            rz = rzNext
            for i in 0..<n { p[i] = z[i] + beta * p[i] }
            iterations += 1
            residual = norm(r) / bNorm
        }
        // Report the true residual, not the recursively updated one (they drift apart in rounding).
        a.multiply(x, into: &ax)
        let trueResidual = norm((0..<n).map { b[$0] - ax[$0] }) / bNorm
        return Result(solution: x, iterations: iterations, relativeResidual: trueResidual, converged: trueResidual <= tolerance * 10)
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in a.indices { s += a[i] * b[i] }
        return s
    }

    static func norm(_ a: [Double]) -> Double { dot(a, a).squareRoot() }
}

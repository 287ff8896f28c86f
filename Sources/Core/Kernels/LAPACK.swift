import COpenBLAS

/// Typed wrappers over the LAPACK routines inside OpenBLAS (the only file that calls them).
public enum LAPACK {
    /// Errors from LAPACK drivers.
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case illegalArgument(routine: String, index: Int)
        case notConverged(routine: String, info: Int)
        case nonFinite(routine: String)

        public var description: String {
            switch self {
            case let .illegalArgument(r, i): return "\(r): argument \(i) had an illegal value (a PEFTKit bug; please report)"
            case let .notConverged(r, info): return "\(r): the SVD did not converge (info \(info)); check the matrix for extreme values"
            case let .nonFinite(r): return "\(r): the matrix contains NaN or infinity; the SVD is undefined"
            }
        }
    }

    /// Thin singular value decomposition of a row-major `[m, n]` matrix, `A = U·diag(s)·Vᵀ`,
    /// with `k = min(m, n)`: `u [m, k]`, `s [k]` descending, `vt [k, n]`, all row-major.
    ///
    /// Computed in Double by `dgesdd` (divide and conquer) and rounded to Float at the end, so
    /// the factors of a Float matrix are accurate to Float precision.
    ///
    /// ```swift
    /// let (u, s, vt) = try LAPACK.svd(w.storage, rows: 4, cols: 3)
    /// ```
    public static func svd(_ a: [Float], rows m: Int, cols n: Int) throws -> (u: [Float], s: [Float], vt: [Float]) {
        precondition(a.count == m * n && m > 0 && n > 0, "svd: \(a.count) values for [\(m), \(n)]")
        guard a.allSatisfy(\.isFinite) else { throw Failure.nonFinite(routine: "dgesdd") }
        let k = Swift.min(m, n)
        // LAPACK is column-major: the row-major A read as column-major is Aᵀ [n, m].
        // SVD(Aᵀ) = U'·S·V'ᵀ gives A = V'·S·U'ᵀ, so A's U is V' and A's Vᵀ is U'ᵀ, and the
        // column-major buffers of U' [n, k] and V'ᵀ [k, m] are exactly the row-major
        // buffers of A's Vᵀ [k, n] and U [m, k]. No transposes are needed.
        var at = a.map(Double.init)
        var s = [Double](repeating: 0, count: k)
        var uPrime = [Double](repeating: 0, count: n * k)  // → vt of A
        var vtPrime = [Double](repeating: 0, count: k * m)  // → u of A
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var jobz = Int8(UInt8(ascii: "S"))
        var mm = Int32(n), nn = Int32(m), lda = Int32(n), ldu = Int32(n), ldvt = Int32(k)
        var info: Int32 = 0
        var query = 0.0
        var lwork: Int32 = -1
        // dgesdd runs OpenBLAS's threaded kernels: like every GEMM it holds the shared side of
        // the thread-count lock, so a `withSingleThread` region elsewhere cannot change the
        // count under it (see `BLAS.withSingleThread`).
        BLAS.threadCountLock.lockShared()
        defer { BLAS.threadCountLock.unlockShared() }
        dgesdd_(&jobz, &mm, &nn, &at, &lda, &s, &uPrime, &ldu, &vtPrime, &ldvt, &query, &lwork, &iwork, &info, 1)
        if info < 0 { throw Failure.illegalArgument(routine: "dgesdd", index: Int(-info)) }
        lwork = Int32(Swift.max(1, Int(query.rounded(.up))))
        var work = [Double](repeating: 0, count: Int(lwork))
        dgesdd_(&jobz, &mm, &nn, &at, &lda, &s, &uPrime, &ldu, &vtPrime, &ldvt, &work, &lwork, &iwork, &info, 1)
        if info < 0 { throw Failure.illegalArgument(routine: "dgesdd", index: Int(-info)) }
        if info > 0 { throw Failure.notConverged(routine: "dgesdd", info: Int(info)) }
        return (vtPrime.map(Float.init), s.map(Float.init), uPrime.map(Float.init))
    }
}

import COpenBLAS
import Synchronization
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The only file that calls OpenBLAS. Typed wrappers over row-major CBLAS.
///
/// OpenBLAS's thread count is one process-wide setting, and its results depend on it (the
/// Haswell/Zen SGEMM kernels give a 64×384·384×384 product that differs by ~3e-6 between 1 and 2
/// threads). `withSingleThread` lowers it for a kernel that runs its own workers; if another
/// thread's GEMM ran meanwhile (two models in one process, or tests running in parallel), that
/// GEMM's bits would depend on timing. So every call here holds the shared side of
/// `threadCountLock`, and changing the count holds the exclusive side: a GEMM always sees the
/// count its caller chose, and equal inputs give equal bits in any concurrent company.
public enum BLAS {
    /// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major.
    /// `transA`: A is stored [K, M] and used transposed; `transB`: B is stored [N, K].
    @inlinable
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        threadCountLock.lockShared()
        defer { threadCountLock.unlockShared() }
        unguardedSGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// `sgemm` without the lock: only for callers that already hold it (`SingleThreadGEMM`).
    @usableFromInline
    static func unguardedSGEMM(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS would scale C by beta; do it explicitly so k == 0 is well-defined.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        let start = profiling.load(ordering: .relaxed) ? DispatchTime.now().uptimeNanoseconds : 0
        defer {
            if start != 0 {
                gemmNanoseconds.add(DispatchTime.now().uptimeNanoseconds - start, ordering: .relaxed)
                gemmFlops.add(UInt64(2 * m * n * k), ordering: .relaxed)
            }
        }
        if m == 1 || n == 1 {
            vectorProduct(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                          b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `sgemm` with one row or one column of C as one `sgemv`. OpenBLAS 0.3.21's sgemm packs the
    /// whole other operand even then: for a decoder step's logits (`[1, 384]·[51864, 384]ᵀ`) that
    /// copies 80 MB per token before a kernel that uses one lane of its 16-row tile. sgemv reads
    /// the matrix once, in place. C is zeroed first when beta = 0, so an uninitialised output
    /// never leaks a NaN through `beta · C`.
    @usableFromInline
    static func vectorProduct(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 1 {
            // c[0, j] = Σ_p a[p] · op(B)[p, j]; a[p] is at p·lda when A is stored [k, 1].
            if beta == 0 { for j in 0..<n { c[j] = 0 } }
            let incX = Int32(transA ? lda : 1)
            if transB {  // B stored [n, k]: c = B · a
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, incX, beta, c, 1)
            } else {     // B stored [k, n]: c = Bᵀ · a
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, incX, beta, c, 1)
            }
        } else {
            // c[i, 0] = Σ_p op(A)[i, p] · b[p]; b[p] is at p·ldb when B is stored [k, 1].
            if beta == 0 { for i in 0..<m { c[i * ldc] = 0 } }
            let incX = Int32(transB ? 1 : ldb)
            if transA {  // A stored [k, m]: c = Aᵀ · b
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(m), alpha, a, Int32(lda), b, incX, beta, c, Int32(ldc))
            } else {     // A stored [m, k]: c = A · b
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(k), alpha, a, Int32(lda), b, incX, beta, c, Int32(ldc))
            }
        }
    }

    /// When on, every `sgemm` adds its wall time and FLOPs to the counters below (benchmarks
    /// use this to report the share of time spent in GEMM). Off by default: no cost.
    public static let profiling = Atomic<Bool>(false)
    /// Nanoseconds spent inside `sgemm` while profiling (summed over calling threads).
    public static let gemmNanoseconds = Atomic<UInt64>(0)
    /// Floating-point operations issued through `sgemm` while profiling.
    public static let gemmFlops = Atomic<UInt64>(0)

    /// Resets the GEMM counters and switches profiling on or off.
    public static func setProfiling(_ on: Bool) {
        gemmNanoseconds.store(0, ordering: .relaxed)
        gemmFlops.store(0, ordering: .relaxed)
        profiling.store(on, ordering: .relaxed)
    }

    /// Raw `cblas_sgemm` on contiguous row-major buffers with no engine code around it
    /// (the baseline the benchmark compares the engine against).
    public static func rawSgemm(
        transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
    ) {
        threadCountLock.lockShared()
        defer { threadCountLock.unlockShared() }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(transB ? k : n), 0, c, Int32(n))
    }

    /// y = alpha · x + y.
    @inlinable
    public static func saxpy(_ n: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        threadCountLock.lockShared()
        defer { threadCountLock.unlockShared() }
        cblas_saxpy(Int32(n), alpha, x, 1, y, 1)
    }

    /// Dot product of two length-`n` vectors.
    @inlinable
    public static func sdot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        threadCountLock.lockShared()
        defer { threadCountLock.unlockShared() }
        return cblas_sdot(Int32(n), x, 1, y, 1)
    }

    /// Name of the CPU kernel OpenBLAS selected (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS build configuration string.
    public static var config: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }

    /// Threads OpenBLAS will use.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Sets the threads OpenBLAS uses from now on (the apps' `--threads N`); waits for running GEMMs.
    public static func setThreads(_ n: Int) {
        threadCountLock.lockExclusive()
        defer { threadCountLock.unlockExclusive() }
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// Runs `body` with OpenBLAS on one thread, so our own workers can each call `sgemm` on
    /// their slice of the work (many small products) without OpenBLAS's threads competing with
    /// ours for the cores; the previous count is restored afterwards. The region holds the
    /// exclusive side of the thread-count lock, so GEMMs on other threads wait instead of running
    /// at a count they did not choose; inside, products go through the `SingleThreadGEMM` handed
    /// to `body` (the plain `sgemm` would wait for the lock the region holds).
    public static func withSingleThread<R>(_ body: (SingleThreadGEMM) throws -> R) rethrows -> R {
        if Parallelism.workers <= 1 { return try body(SingleThreadGEMM(holdsLock: false)) }
        threadCountLock.lockExclusive()
        defer { threadCountLock.unlockExclusive() }
        let n = openblas_get_num_threads()
        if n <= 1 { return try body(SingleThreadGEMM(holdsLock: true)) }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(n) }
        return try body(SingleThreadGEMM(holdsLock: true))
    }

    /// Readers–writer lock over OpenBLAS's thread count (see the type's comment). Writers are
    /// preferred, so a steady stream of GEMMs on other threads cannot starve a count change.
    @usableFromInline
    final class ThreadCountLock: @unchecked Sendable {
        @usableFromInline let rw: UnsafeMutablePointer<pthread_rwlock_t>

        init() {
            rw = .allocate(capacity: 1)
            var attributes = pthread_rwlockattr_t()
            pthread_rwlockattr_init(&attributes)
            pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
            pthread_rwlock_init(rw, &attributes)
            pthread_rwlockattr_destroy(&attributes)
        }

        @inlinable func lockShared() { pthread_rwlock_rdlock(rw) }
        @inlinable func lockExclusive() { pthread_rwlock_wrlock(rw) }
        @inlinable func unlockShared() { pthread_rwlock_unlock(rw) }
        @inlinable func unlockExclusive() { pthread_rwlock_unlock(rw) }
    }

    /// Lives for the whole process (never deallocated).
    @usableFromInline static let threadCountLock = ThreadCountLock()
}

/// The GEMM entry point inside `BLAS.withSingleThread`: the region already holds the thread-count
/// lock, so these calls skip it (workers of the region call it concurrently).
public struct SingleThreadGEMM: Sendable {
    let holdsLock: Bool

    /// Same contract as `BLAS.sgemm`.
    @inline(__always)
    public func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if holdsLock {
            BLAS.unguardedSGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else {
            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }
}

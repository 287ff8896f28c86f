import Foundation
import Testing
@testable import Core
import TestSupport

/// OpenBLAS's thread count is process-wide and changes the bits of a product (Haswell/Zen kernels:
/// 1 vs 2 threads differ by ~3e-6 on 64×384·384×384). `BLAS.withSingleThread` lowers it for the
/// blocked attention kernel; a GEMM on another thread must never run while it is lowered, or the
/// same model gives different logits depending on what else the process is doing (the CI run of
/// 2026-11-26 saw NERTaskTests' reload check differ by 8.9e-7 this way).
@Suite("BLAS thread count", .serialized)
struct BLASThreadCountTests {
    /// Holds a single-thread region open on a background thread; a GEMM started meanwhile on this
    /// thread must wait for the region to end.
    @Test("a GEMM on another thread waits for a withSingleThread region",
          .enabled(if: Parallelism.workers > 1, "with one worker the region does not lower the count"))
    func gemmWaitsForRegion() throws {
        let entered = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let inRegion = Flag()
        Thread.detachNewThread {
            BLAS.withSingleThread { _ in
                inRegion.set(true)
                entered.signal()
                Thread.sleep(forTimeInterval: 0.2)
                inRegion.set(false)
            }
            done.signal()
        }
        entered.wait()
        var a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8], c = [Float](repeating: 0, count: 4)
        BLAS.sgemm(transA: false, transB: false, m: 2, n: 2, k: 2, a: &a, lda: 2, b: &b, ldb: 2, c: &c, ldc: 2)
        // Had the product not waited, it would have returned while the region slept.
        #expect(!inRegion.value, "sgemm ran inside another thread's single-thread region")
        #expect(c == [19, 22, 43, 50])
        done.wait()
    }

    /// The symptom itself: a product repeated while other threads keep entering single-thread
    /// regions gives the bits it gives alone.
    @Test("products keep their bits while other threads enter single-thread regions")
    func bitsUnchangedUnderConcurrentRegions() throws {
        let (m, k, n) = (64, 384, 384)
        let a = randomTensor([m, k], seed: 11).storage, b = randomTensor([k, n], seed: 12).storage
        func product() -> [Float] {
            var c = [Float](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    BLAS.sgemm(transA: false, transB: false, m: m, n: n, k: k, a: ap.baseAddress!, lda: k,
                               b: bp.baseAddress!, ldb: n, c: &c, ldc: n)
                }
            }
            return c
        }
        let alone = product()
        let stop = Flag(), done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while !stop.value { BLAS.withSingleThread { _ in Thread.sleep(forTimeInterval: 0.002) } }
            done.signal()
        }
        var differing = 0
        for _ in 0..<60 where product() != alone { differing += 1 }
        stop.set(true)
        done.wait()
        #expect(differing == 0, "\(differing) of 60 products differed from the product computed alone")
    }
}

/// A Bool shared between threads.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false
    var value: Bool { lock.withLock { stored } }
    func set(_ v: Bool) { lock.withLock { stored = v } }
}

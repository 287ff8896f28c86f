import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How many worker threads our own loops use (OpenBLAS manages its own pool).
public enum Parallelism {
    /// 0 = not chosen yet (`workers` then uses the default below).
    private static let chosen = Atomic<Int>(0)

    /// Number of chunks our parallel loops split into. In this order: the count set with
    /// `setWorkers` (the apps' `--threads N`), the environment variable `PEFTKIT_THREADS`
    /// (a positive integer), else the CPUs this process may run on (`sched_getaffinity`, so a
    /// rank that `mpirun`, `taskset` or a container binds to one core uses one worker;
    /// `ProcessInfo.activeProcessorCount` ignores that binding on Linux).
    public static var workers: Int {
        let n = chosen.load(ordering: .relaxed)
        if n > 0 { return n }
        let d = defaultWorkers(environment: ProcessInfo.processInfo.environment)
        chosen.store(d, ordering: .relaxed)
        return d
    }

    /// Sets the worker count for the rest of the process (`--threads N`); `n` must be ≥ 1.
    public static func setWorkers(_ n: Int) {
        precondition(n >= 1, "Parallelism.setWorkers: \(n) is not a positive thread count")
        chosen.store(n, ordering: .relaxed)
    }

    /// `PEFTKIT_THREADS` when it is a positive integer, else `affinityCPUCount()`.
    public static func defaultWorkers(environment: [String: String]) -> Int {
        if let s = environment["PEFTKIT_THREADS"], let n = Int(s.trimmingCharacters(in: .whitespaces)), n > 0 { return n }
        return affinityCPUCount()
    }

    /// CPUs in this thread's affinity mask (Linux `sched_getaffinity`); elsewhere, or if the
    /// call fails, the active processor count.
    public static func affinityCPUCount() -> Int {
        #if os(Linux)
        // glibc declares sched_getaffinity only under _GNU_SOURCE, which Swift's Glibc module
        // does not define, so the symbol is looked up at run time (dlsym(RTLD_DEFAULT, …)).
        typealias GetAffinity = @convention(c) (Int32, Int, UnsafeMutableRawPointer) -> Int32
        if let symbol = dlsym(nil, "sched_getaffinity") {
            let call = unsafeBitCast(symbol, to: GetAffinity.self)
            // A mask of 8192 CPUs (glibc's cpu_set_t holds 1024); the kernel fails with EINVAL
            // only when the machine has more, and then we fall back below.
            var mask = [UInt64](repeating: 0, count: 128)
            let ok = mask.withUnsafeMutableBytes { call(0, $0.count, $0.baseAddress!) } == 0
            let bits = mask.reduce(0) { $0 + $1.nonzeroBitCount }
            if ok && bits > 0 { return bits }
        }
        #endif
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Loops with less total work than this run on the calling thread (thread hop costs ~µs).
    public static let minimumWorkPerSplit = 32_768
}

/// A raw pointer that may cross into `concurrentPerform` workers. Each worker must write a
/// disjoint range; that is the caller's promise.
public struct SendablePointer<T>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<T>
    public init(_ base: UnsafeMutablePointer<T>) { self.base = base }
}

/// Read-only counterpart of `SendablePointer`.
public struct SendableConstPointer<T>: @unchecked Sendable {
    public let base: UnsafePointer<T>
    public init(_ base: UnsafePointer<T>) { self.base = base }
}

/// Runs `body(range)` over `0..<count` split into contiguous chunks on all cores when the
/// work (`count * costPerItem`) is large enough to pay for the threads.
@inlinable
public func parallelChunks(
    _ count: Int, costPerItem: Int = 1, _ body: @Sendable (Range<Int>) -> Void
) {
    let workers = Parallelism.workers
    if workers == 1 || count < 2 || count * costPerItem < Parallelism.minimumWorkPerSplit {
        body(0..<count)
        return
    }
    let chunks = min(workers, count)
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks
        let hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}

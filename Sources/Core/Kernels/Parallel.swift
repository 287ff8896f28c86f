import Dispatch

/// How many worker threads our own loops use (OpenBLAS manages its own pool).
public enum Parallelism {
    /// Number of chunks to split loops into; the machine's active processor count.
    public static let workers: Int = max(1, ProcessInfoCount.activeProcessors)
    /// Loops with less total work than this run on the calling thread (thread hop costs ~µs).
    public static let minimumWorkPerSplit = 32_768
}

import Foundation
enum ProcessInfoCount {
    static var activeProcessors: Int { ProcessInfo.processInfo.activeProcessorCount }
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

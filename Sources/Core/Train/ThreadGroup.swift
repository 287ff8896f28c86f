import Foundation

/// `Distributed` with every rank a thread of this process: the collectives of MPI with
/// shared memory underneath. It lets tests (and anyone without MPI) run real data-parallel
/// training code paths, N model replicas side by side, and compare them with one process.
///
/// Reductions add the ranks' buffers in rank order 0, 1, …, N−1 on every rank, so all ranks
/// get bit-identical sums.
///
/// ```swift
/// try ThreadGroup.run(ranks: 2) { world in
///     var g: [Float] = [Float(world.rank + 1)]
///     try world.allReduceSum(&g)   // 3 on both ranks
/// }
/// ```
public final class ThreadGroup: @unchecked Sendable {
    public let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var floatSlots: [[Float]]
    private var wordSlots: [[UInt64]]

    public init(size: Int) {
        precondition(size >= 1, "ThreadGroup needs at least one rank")
        self.size = size
        floatSlots = Array(repeating: [], count: size)
        wordSlots = Array(repeating: [], count: size)
    }

    /// The view of rank `rank`.
    public func member(_ rank: Int) -> any Distributed { Member(group: self, rank: rank) }

    /// Runs `body` on `ranks` threads (each with a 64 MB stack for deep autograd graphs) and
    /// waits for all; rethrows the first error by rank. A rank that throws leaves the others
    /// blocked in their next collective, so bodies should fail on every rank alike (tests).
    public static func run(ranks: Int, _ body: @escaping @Sendable (any Distributed) throws -> Void) throws {
        let group = ThreadGroup(size: ranks)
        let errors = ErrorBox(count: ranks)
        let done = DispatchGroup()
        for r in 0..<ranks {
            done.enter()
            let thread = Thread {
                do { try body(group.member(r)) } catch { errors.set(r, error) }
                done.leave()
            }
            thread.stackSize = 64 << 20
            thread.start()
        }
        done.wait()
        if let e = errors.first() { throw e }
    }

    /// Waits until all ranks have arrived (a reusable generation barrier).
    fileprivate func barrierLocked() {
        let myGeneration = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == myGeneration { condition.wait() }
        }
    }

    fileprivate func allReduce(rank: Int, _ buffer: UnsafeMutableBufferPointer<Float>) throws {
        condition.lock()
        defer { condition.unlock() }
        floatSlots[rank] = Array(buffer)
        barrierLocked()
        let n = buffer.count
        guard floatSlots.allSatisfy({ $0.count == n }) else {
            barrierLocked()
            throw DistributedError.mismatch("allReduceSum with counts \(floatSlots.map(\.count))")
        }
        for i in 0..<n { buffer[i] = floatSlots[0][i] }
        for r in 1..<size {
            let s = floatSlots[r]
            for i in 0..<n { buffer[i] += s[i] }
        }
        // Nobody may overwrite a slot before every rank has read all of them.
        barrierLocked()
    }

    fileprivate func allGather(rank: Int, _ values: [UInt64]) throws -> [[UInt64]] {
        condition.lock()
        defer { condition.unlock() }
        wordSlots[rank] = values
        barrierLocked()
        let out = wordSlots
        barrierLocked()
        guard out.allSatisfy({ $0.count == values.count }) else {
            throw DistributedError.mismatch("allGather with counts \(out.map(\.count))")
        }
        return out
    }

    fileprivate func barrier() {
        condition.lock()
        barrierLocked()
        condition.unlock()
    }

    private final class Member: Distributed, @unchecked Sendable {
        let group: ThreadGroup
        let rank: Int
        var size: Int { group.size }
        var summary: String { "\(group.size) ranks as threads of one process (this is rank \(rank))" }
        init(group: ThreadGroup, rank: Int) { self.group = group; self.rank = rank }
        func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { try group.allReduce(rank: rank, buffer) }
        func allGather(_ values: [UInt64]) throws -> [[UInt64]] { try group.allGather(rank: rank, values) }
        func barrier() throws { group.barrier() }
    }

    private final class ErrorBox: @unchecked Sendable {
        private let lock = NSLock()
        private var errors: [(any Error)?]
        init(count: Int) { errors = Array(repeating: nil, count: count) }
        func set(_ r: Int, _ e: any Error) { lock.lock(); errors[r] = e; lock.unlock() }
        func first() -> (any Error)? { lock.lock(); defer { lock.unlock() }; return errors.compactMap { $0 }.first }
    }
}

import Foundation

/// A group of cooperating training processes (ranks), seen from one of them: the few
/// collective operations data-parallel training needs. Every rank must call the same
/// collectives in the same order with the same element counts, as in MPI.
///
/// Implementations: `SingleProcess` (the default; no communication, nothing to install),
/// `MPIDistributed` (Open MPI, loaded at run time when launched by `mpirun`/`srun`) and
/// `ThreadGroup` (ranks as threads of one process, for tests). Commands get theirs from
/// `DistributedWorld.current()`, so `mpirun -np N ner-tune train …` needs no extra option.
///
/// ```swift
/// let world = try DistributedWorld.current()
/// var sums: [Float] = [loss, 1]
/// try sums.withUnsafeMutableBufferPointer { try world.allReduceSum($0) }
/// if world.isLeader { print("mean loss", sums[0] / sums[1]) }
/// ```
public protocol Distributed: AnyObject, Sendable {
    /// This process's index in `0..<size`.
    var rank: Int { get }
    /// Number of ranks.
    var size: Int { get }
    /// A short description for logs (`single process`, `Open MPI, 2 ranks`).
    var summary: String { get }
    /// Replaces `buffer` on every rank by the element-wise sum over all ranks. The result is
    /// the same on every rank (implementations reduce in an order independent of the caller).
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Every rank's `values` (all ranks pass the same count), indexed by rank.
    func allGather(_ values: [UInt64]) throws -> [[UInt64]]
    /// Returns once every rank has called it.
    func barrier() throws
}

extension Distributed {
    /// Rank 0: the one that writes checkpoints, logs and results.
    public var isLeader: Bool { rank == 0 }

    /// `allReduceSum` over an array.
    public func allReduceSum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try allReduceSum($0) }
    }
}

/// The default: one process, no communication. All collectives are identities, so training
/// code written for `Distributed` runs unchanged (and bit-identically) without MPI.
public final class SingleProcess: Distributed {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var summary: String { "single process" }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allGather(_ values: [UInt64]) throws -> [[UInt64]] { [values] }
    public func barrier() throws {}
}

/// Errors of distributed runs, each one line saying what to do.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// The MPI library could not be loaded or lacks a symbol.
    case libraryUnavailable(String)
    /// An MPI call returned an error code.
    case callFailed(call: String, code: Int32)
    /// The ranks disagree (different element counts, a rank without data, …).
    case mismatch(String)

    public var description: String {
        switch self {
        case let .libraryUnavailable(detail):
            return "MPI launch detected but \(detail); install Open MPI (apt-get install openmpi-bin libopenmpi-dev) or set PEFTKIT_MPI_LIBRARY to libmpi.so's path"
        case let .callFailed(call, code):
            return "\(call) failed with MPI error code \(code); check that every rank runs the same command and that the ranks can reach each other"
        case let .mismatch(detail):
            return "the ranks disagree: \(detail)"
        }
    }
}

/// The process-wide group, chosen once from the environment:
///
/// - `PEFTKIT_DISTRIBUTED=single` forces one process; `=mpi` forces MPI.
/// - Otherwise MPI when the process was started by Open MPI's `mpirun`/`mpiexec`
///   (`OMPI_COMM_WORLD_SIZE` > 1) or by a PMIx launcher such as `srun --mpi=pmix`
///   (`PMIX_RANK` set), and a single process in every other case.
///
/// MPI is initialised only here, on first use, and only under such a launcher: a build
/// without MPI installed, or a run without `mpirun`, never loads the library.
public enum DistributedWorld {
    /// Which implementation the environment asks for, without loading anything.
    public static func wantsMPI(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        switch env["PEFTKIT_DISTRIBUTED"] {
        case "single": return false
        case "mpi": return true
        default: break
        }
        if let n = env["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init) { return n > 1 }
        return env["PMIX_RANK"] != nil
    }

    private static let cached: Result<any Distributed, DistributedError> = {
        guard wantsMPI() else { return .success(SingleProcess()) }
        do {
            return .success(try MPIDistributed.initialize())
        } catch let e as DistributedError {
            return .failure(e)
        } catch {
            return .failure(.libraryUnavailable("\(error)"))
        }
    }()

    /// The group this process belongs to (the same object on every call).
    public static func current() throws -> any Distributed { try cached.get() }

    /// Marks the distributed part of this process as finished successfully: at exit, MPI is
    /// finalised cleanly. A process that exits without calling this (an error, a crash) aborts
    /// the whole MPI job instead, so the other ranks stop with mpirun's message rather than
    /// waiting forever in a collective. No effect in a single process.
    public static func markCompleted() {
        MPIDistributed.exitPolicy.completed()
    }
}

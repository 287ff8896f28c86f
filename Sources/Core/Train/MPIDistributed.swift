#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// `Distributed` over Open MPI's C library, loaded at run time with `dlopen`.
///
/// Why not a SwiftPM system-library target: the package must build on machines without MPI
/// (a system-library target needs `mpi.h` at build time), and one binary should run both
/// alone and under `mpirun`. Open MPI exposes its predefined handles as exported data
/// symbols (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`, `MPI_FLOAT` is `&ompi_mpi_float`,
/// `MPI_SUM` is `&ompi_mpi_op_sum`), so `dlsym` gives everything `mpi.h` would. The ABI used
/// here (pointer handles, `int` counts) is Open MPI's from 1.x through 5.x (`libmpi.so.40`);
/// MPICH's integer handles are not supported.
///
/// Gradient buffers are reduced in buckets of at most `bucketElements` floats so the `int`
/// count of MPI calls never overflows and huge models need no second full-size buffer.
public final class MPIDistributed: Distributed, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public var summary: String { "Open MPI, \(size) ranks (this is rank \(rank))" }
    /// Largest element count of one `MPI_Allreduce` call.
    public static let bucketElements = 1 << 24
    let api: API

    private init(api: API, rank: Int, size: Int) {
        self.api = api
        self.rank = rank
        self.size = size
    }

    /// Loads libmpi, calls `MPI_Init` and registers the exit handler. Called once, by
    /// `DistributedWorld`.
    static func initialize() throws -> MPIDistributed {
        let api = try API.load()
        var flag: Int32 = 0
        try api.check("MPI_Initialized", api.initialized(&flag))
        if flag == 0 { try api.check("MPI_Init", api.initialize(nil, nil)) }
        var rank: Int32 = 0, size: Int32 = 0
        try api.check("MPI_Comm_rank", api.commRank(api.world, &rank))
        try api.check("MPI_Comm_size", api.commSize(api.world, &size))
        exitPolicy.install(api)
        return MPIDistributed(api: api, rank: Int(rank), size: Int(size))
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress else { return }
        var start = 0
        while start < buffer.count {
            let n = min(Self.bucketElements, buffer.count - start)
            try api.check("MPI_Allreduce", api.allreduce(API.inPlace, base + start, Int32(n), api.float, api.sum, api.world))
            start += n
        }
    }

    public func allGather(_ values: [UInt64]) throws -> [[UInt64]] {
        var out = [UInt64](repeating: 0, count: values.count * size)
        let bytes = Int32(values.count * 8)
        try values.withUnsafeBytes { send in
            try out.withUnsafeMutableBytes { recv in
                try api.check("MPI_Allgather", api.allgather(send.baseAddress, bytes, api.byte, recv.baseAddress, bytes, api.byte, api.world))
            }
        }
        return (0..<size).map { Array(out[($0 * values.count)..<(($0 + 1) * values.count)]) }
    }

    public func barrier() throws {
        try api.check("MPI_Barrier", api.barrier(api.world))
    }

    // MARK: - Exit

    /// Decides at process exit between `MPI_Finalize` (the run completed) and `MPI_Abort`
    /// (anything else: the other ranks must not wait for this one forever).
    static let exitPolicy = ExitPolicy()

    final class ExitPolicy: @unchecked Sendable {
        private let lock = NSLock()
        private var api: API?
        private var done = false

        func install(_ api: API) {
            lock.lock()
            let first = self.api == nil
            self.api = api
            lock.unlock()
            if first { atexit { MPIDistributed.exitPolicy.atExit() } }
        }

        func completed() {
            lock.lock(); done = true; lock.unlock()
        }

        func atExit() {
            lock.lock()
            let (api, done) = (self.api, self.done)
            self.api = nil
            lock.unlock()
            guard let api else { return }
            if done {
                _ = api.finalize()
            } else {
                FileHandle.standardError.write(Data("peftkit: this rank stopped before training finished; aborting the MPI job so the other ranks do not wait\n".utf8))
                _ = api.abort(api.world, 1)
            }
        }
    }

    // MARK: - The C entry points

    /// The resolved functions and handles of libmpi.
    struct API: @unchecked Sendable {
        typealias Handle = UnsafeMutableRawPointer
        typealias InitFn = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32
        typealias FlagFn = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
        typealias CommIntFn = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
        typealias AllreduceFn = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
        typealias AllgatherFn = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
        typealias CommFn = @convention(c) (Handle) -> Int32
        typealias VoidFn = @convention(c) () -> Int32
        typealias AbortFn = @convention(c) (Handle, Int32) -> Int32

        /// `MPI_IN_PLACE` is `(void *) 1` in Open MPI's mpi.h.
        static var inPlace: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: 1) }

        let initialize: InitFn
        let initialized: FlagFn
        let commRank: CommIntFn
        let commSize: CommIntFn
        let allreduce: AllreduceFn
        let allgather: AllgatherFn
        let barrier: CommFn
        let finalize: VoidFn
        let abort: AbortFn
        let world: Handle
        let float: Handle
        let byte: Handle
        let sum: Handle

        /// Candidate library names: `PEFTKIT_MPI_LIBRARY` first, then Open MPI's soname.
        static var candidates: [String] {
            var names = ["libmpi.so.40", "libmpi.so"]
            if let p = ProcessInfo.processInfo.environment["PEFTKIT_MPI_LIBRARY"] { names.insert(p, at: 0) }
            return names
        }

        static func load() throws -> API {
            var handle: UnsafeMutableRawPointer?
            var errors: [String] = []
            // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve libmpi's symbols globally.
            for name in candidates {
                handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
                if handle != nil { break }
                errors.append(dlerror().map { String(cString: $0) } ?? name)
            }
            guard let lib = handle else {
                throw DistributedError.libraryUnavailable("libmpi could not be loaded (\(errors.joined(separator: "; ")))")
            }
            func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
                guard let p = dlsym(lib, name) else {
                    throw DistributedError.libraryUnavailable("the loaded libmpi has no symbol \(name) (only Open MPI is supported)")
                }
                return p
            }
            func function<F>(_ name: String, _: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: F.self) }
            return API(
                initialize: try function("MPI_Init", InitFn.self),
                initialized: try function("MPI_Initialized", FlagFn.self),
                commRank: try function("MPI_Comm_rank", CommIntFn.self),
                commSize: try function("MPI_Comm_size", CommIntFn.self),
                allreduce: try function("MPI_Allreduce", AllreduceFn.self),
                allgather: try function("MPI_Allgather", AllgatherFn.self),
                barrier: try function("MPI_Barrier", CommFn.self),
                finalize: try function("MPI_Finalize", VoidFn.self),
                abort: try function("MPI_Abort", AbortFn.self),
                world: try symbol("ompi_mpi_comm_world"),
                float: try symbol("ompi_mpi_float"),
                byte: try symbol("ompi_mpi_byte"),
                sum: try symbol("ompi_mpi_op_sum"))
        }

        /// `MPI_SUCCESS` is 0; anything else becomes a thrown error. (Open MPI's default error
        /// handler aborts the job before we get here for most failures; this covers the rest.)
        func check(_ call: String, _ code: Int32) throws {
            if code != 0 { throw DistributedError.callFailed(call: call, code: code) }
        }
    }
}

import Core

/// `--threads N` of the training commands: the threads one process (one MPI rank) may use,
/// for PEFTKit's own parallel loops and for OpenBLAS, so that `mpirun -np R app train
/// --threads T` keeps R × T within the cores. Without the option, our loops use
/// `PEFTKIT_THREADS` or the CPUs the process is bound to (`Parallelism.workers`) and OpenBLAS
/// its own setting (`OPENBLAS_NUM_THREADS`).
public enum ThreadsOption {
    /// The option's name, to add to a command's accepted options.
    public static let key = "threads"

    /// One usage line for the commands' help texts.
    public static let usage = "--threads N    threads of this process (each MPI rank): our loops and OpenBLAS (default: PEFTKIT_THREADS, else the CPUs it may run on)"

    /// Applies `--threads` when it is given; a value that is not a positive integer is an error.
    public static func apply(_ p: Arguments) throws {
        guard let s = p.string(key) else { return }
        guard let n = Int(s), n >= 1 else { throw ArgumentError.badValue(key, s, expected: "a positive number of threads") }
        Parallelism.setWorkers(n)
        BLAS.setThreads(n)
    }
}

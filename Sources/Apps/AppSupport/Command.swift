import Core
import Foundation

/// A command-line tool: apps call `run` with their arguments and exit with its code.
public protocol Command {
    static var name: String { get }
    static var usage: String { get }
    /// Whether the command splits its work over MPI ranks when started by `mpirun`/`srun`.
    /// A command that does not would run N independent copies writing the same outputs, so
    /// `Launcher` refuses to start it under an MPI launcher. Default: false.
    static var supportsDistributed: Bool { get }
    static func run(_ args: [String]) throws -> Int32
}

extension Command {
    public static var supportsDistributed: Bool { false }

    /// One line on stderr: progress, warnings and timing (results go to stdout).
    static func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}

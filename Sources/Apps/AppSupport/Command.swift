import Core

/// A command-line tool: apps call `run` with their arguments and exit with its code.
public protocol Command {
    static var name: String { get }
    static var usage: String { get }
    static func run(_ args: [String]) throws -> Int32
}

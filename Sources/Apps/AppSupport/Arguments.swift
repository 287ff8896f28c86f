/// A small `--key value` / `--flag` parser with typed getters. Unknown keys are an error
/// that lists the accepted ones, so a typo never silently falls back to a default.
///
/// ```swift
/// var args = try Arguments(["--epochs", "3", "--verbose"], options: ["epochs"], flags: ["verbose"])
/// let epochs = try args.int("epochs", default: 1)
/// ```
public struct Arguments {
    public private(set) var values: [String: String] = [:]
    public private(set) var flags: Set<String> = []
    public private(set) var positional: [String] = []

    /// Parses `args`. `options` take a value, `flags` do not.
    public init(_ args: [String], options: Set<String>, flags allowedFlags: Set<String>) throws {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a.hasPrefix("--") {
                var key = String(a.dropFirst(2))
                var inlineValue: String?
                if let eq = key.firstIndex(of: "=") {
                    inlineValue = String(key[key.index(after: eq)...])
                    key = String(key[..<eq])
                }
                if allowedFlags.contains(key) {
                    guard inlineValue == nil else { throw ArgumentError.unexpectedValue(key) }
                    flags.insert(key)
                } else if options.contains(key) {
                    if let v = inlineValue {
                        values[key] = v
                    } else {
                        guard i + 1 < args.count else { throw ArgumentError.missingValue(key) }
                        values[key] = args[i + 1]
                        i += 1
                    }
                } else {
                    throw ArgumentError.unknown(key, accepted: (options.union(allowedFlags)).sorted())
                }
            } else {
                positional.append(a)
            }
            i += 1
        }
    }

    public func has(_ flag: String) -> Bool { flags.contains(flag) }

    public func string(_ key: String) -> String? { values[key] }

    public func string(_ key: String, default d: String) -> String { values[key] ?? d }

    public func int(_ key: String, default d: Int) throws -> Int {
        guard let s = values[key] else { return d }
        guard let v = Int(s) else { throw ArgumentError.badValue(key, s, expected: "an integer") }
        return v
    }

    public func float(_ key: String, default d: Float) throws -> Float {
        guard let s = values[key] else { return d }
        guard let v = Float(s), v.isFinite else { throw ArgumentError.badValue(key, s, expected: "a number") }
        return v
    }

    public func uint64(_ key: String, default d: UInt64) throws -> UInt64 {
        guard let s = values[key] else { return d }
        guard let v = UInt64(s) else { throw ArgumentError.badValue(key, s, expected: "a non-negative integer") }
        return v
    }

    /// Comma-separated list (`--targets query,value`).
    public func list(_ key: String, default d: [String]) -> [String] {
        guard let s = values[key] else { return d }
        return s.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

import Foundation

/// Command-line mistakes, each with a message that says what to type instead.
public enum ArgumentError: Error, CustomStringConvertible {
    case unknown(String, accepted: [String])
    case missingValue(String)
    case unexpectedValue(String)
    case badValue(String, String, expected: String)
    case missingRequired(String)

    public var description: String {
        switch self {
        case let .unknown(k, accepted): return "unknown option --\(k); accepted: \(accepted.map { "--" + $0 }.joined(separator: " "))"
        case let .missingValue(k): return "option --\(k) needs a value"
        case let .unexpectedValue(k): return "flag --\(k) takes no value"
        case let .badValue(k, v, expected): return "option --\(k): '\(v)' is not \(expected)"
        case let .missingRequired(k): return "option --\(k) is required"
        }
    }
}

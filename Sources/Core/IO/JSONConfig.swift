import Foundation

/// Typed read access to a JSON object such as a Hugging Face `config.json`, with errors that
/// name the file, the key and what was expected:
///
/// ```swift
/// let config = try JSONConfig(contentsOf: dir.appendingPathComponent("config.json"))
/// let hidden = try config.int("hidden_size")
/// let eps = try config.float("layer_norm_eps", default: 1e-12)
/// let vision = try config.nested("vision_config")          // errors say "vision_config.hidden_size"
/// let labels = try config.optionalStringMap("id2label")
/// // → "…/config.json: key 'hidden_size': missing (expected an integer)"
/// ```
///
/// A key that is absent or `null` counts as missing: `optional…` accessors return nil for it
/// and the required ones throw. A present value of the wrong type always throws, even through
/// an `optional…` or `default:` accessor, so a typo in a config never passes silently.
public struct JSONConfig: Sendable {
    /// The file the object came from (for messages).
    public let file: String
    /// Dotted path of this object inside the file ("" for the top level).
    public let keyPath: String
    public let object: JSONObject

    public init(object: JSONObject, file: String, keyPath: String = "") {
        self.object = object
        self.file = file
        self.keyPath = keyPath
    }

    /// Reads and parses `url`; the top level must be an object.
    public init(contentsOf url: URL) throws {
        let mapped = try MappedFile(url)
        try self.init(parsing: mapped.bytes, file: url.path)
    }

    /// Parses UTF-8 JSON text; `file` names it in errors.
    public init(parsing bytes: UnsafeRawBufferPointer, file: String) throws {
        if let bad = JSONParser.firstInvalidUTF8(bytes) {
            throw IOError(.invalidUTF8, file: file, "not valid UTF-8 (first bad byte at offset \(bad))", advice: "save the file as UTF-8")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            let kind: IOError.Kind = if case .duplicateKey = error.kind { .duplicateKey } else { .invalidJSON }
            let place = error.path.isEmpty ? nil : "key '\(clippedForMessage(error.path.joined(separator: "."), limit: 120))'"
            throw IOError(kind, file: file, place: place, "invalid JSON: \(error.message) at byte \(error.offset)",
                          advice: "fix the file's syntax")
        }
        guard case .object(let object) = value else {
            throw IOError(.notAnObject, file: file, "the top level must be a JSON object but is \(value.kindName)")
        }
        self.init(object: object, file: file)
    }

    /// Parses `text`; `file` names it in errors.
    public init(parsing text: String, file: String) throws {
        self = try Array(text.utf8).withUnsafeBytes { try JSONConfig(parsing: $0, file: file) }
    }

    /// Keys in file order.
    public var keys: [String] { object.keys }

    /// Whether `key` is present with a non-null value.
    public func contains(_ key: String) -> Bool {
        if let v = object[key], v != .null { return true }
        return false
    }

    /// The raw value of `key` (nil when absent).
    public func value(_ key: String) -> JSONValue? { object[key] }

    // MARK: - Scalars

    /// The integer at `key` (integral floats such as `768.0` count; booleans do not).
    public func int(_ key: String) throws -> Int { try required(key, Self.asInt) }
    public func optionalInt(_ key: String) throws -> Int? { try optional(key, Self.asInt) }
    public func int(_ key: String, default value: Int) throws -> Int { try optional(key, Self.asInt) ?? value }

    /// The number at `key` (integers convert).
    public func double(_ key: String) throws -> Double { try required(key, Self.asDouble) }
    public func optionalDouble(_ key: String) throws -> Double? { try optional(key, Self.asDouble) }
    public func double(_ key: String, default value: Double) throws -> Double { try optional(key, Self.asDouble) ?? value }

    /// The number at `key` as Float.
    public func float(_ key: String) throws -> Float { Float(try double(key)) }
    public func optionalFloat(_ key: String) throws -> Float? { try optionalDouble(key).map(Float.init) }
    public func float(_ key: String, default value: Float) throws -> Float { try optionalFloat(key) ?? value }

    /// The string at `key`.
    public func string(_ key: String) throws -> String { try required(key, Self.asString) }
    public func optionalString(_ key: String) throws -> String? { try optional(key, Self.asString) }
    public func string(_ key: String, default value: String) throws -> String { try optional(key, Self.asString) ?? value }

    /// The boolean at `key` (numbers are not booleans).
    public func bool(_ key: String) throws -> Bool { try required(key, Self.asBool) }
    public func optionalBool(_ key: String) throws -> Bool? { try optional(key, Self.asBool) }
    public func bool(_ key: String, default value: Bool) throws -> Bool { try optional(key, Self.asBool) ?? value }

    // MARK: - Arrays and maps

    /// The array of integers at `key` (each element converts as in `int(_:)`).
    public func intArray(_ key: String) throws -> [Int] { try required(key, Self.arrayOf(Self.asInt, "integers")) }
    public func optionalIntArray(_ key: String) throws -> [Int]? { try optional(key, Self.arrayOf(Self.asInt, "integers")) }
    /// The array of numbers at `key`.
    public func floatArray(_ key: String) throws -> [Float] {
        try required(key, Self.arrayOf(Self.asDouble, "numbers")).map(Float.init)
    }
    public func optionalFloatArray(_ key: String) throws -> [Float]? {
        try optional(key, Self.arrayOf(Self.asDouble, "numbers"))?.map(Float.init)
    }
    /// The array of strings at `key`.
    public func stringArray(_ key: String) throws -> [String] { try required(key, Self.arrayOf(Self.asString, "strings")) }
    public func optionalStringArray(_ key: String) throws -> [String]? { try optional(key, Self.arrayOf(Self.asString, "strings")) }

    /// An object whose values are all strings (e.g. `id2label`).
    public func stringMap(_ key: String) throws -> [String: String] { try required(key, Self.mapOf(Self.asString, "strings")) }
    public func optionalStringMap(_ key: String) throws -> [String: String]? { try optional(key, Self.mapOf(Self.asString, "strings")) }
    /// An object whose values are all integers (e.g. `label2id`).
    public func intMap(_ key: String) throws -> [String: Int] { try required(key, Self.mapOf(Self.asInt, "integers")) }
    public func optionalIntMap(_ key: String) throws -> [String: Int]? { try optional(key, Self.mapOf(Self.asInt, "integers")) }

    /// The nested object at `key`; its errors name the dotted path (`vision_config.hidden_size`).
    public func nested(_ key: String) throws -> JSONConfig {
        JSONConfig(object: try required(key, Self.asObject), file: file, keyPath: path(key))
    }

    /// The nested object at `key`, nil when absent or null.
    public func optionalNested(_ key: String) throws -> JSONConfig? {
        try optional(key, Self.asObject).map { JSONConfig(object: $0, file: file, keyPath: path(key)) }
    }

    /// The array of objects at `key` (e.g. a list of layer specs), each with its own key path.
    public func nestedArray(_ key: String) throws -> [JSONConfig] {
        let items = try required(key, Self.arrayOf(Self.asObject, "objects"))
        return items.enumerated().map { JSONConfig(object: $1, file: file, keyPath: path(key) + ".\($0)") }
    }

    // MARK: - Conversions

    /// A conversion with the phrase used in messages ("an integer").
    public typealias Conversion<T> = (expected: String, convert: @Sendable (JSONValue) -> T?)

    static let asInt: Conversion<Int> = ("an integer", { v in
        switch v {
        case .int(let n): Int(exactly: n)
        // 768.0 or 1e3 are integers written as floats; 0.5 is not.
        case .double(let d): d.rounded() == d && d.isFinite ? Int(exactly: d) : nil
        default: nil
        }
    })
    static let asDouble: Conversion<Double> = ("a number", { v in
        switch v {
        case .int(let n): Double(n)
        case .double(let d): d
        default: nil
        }
    })
    static let asString: Conversion<String> = ("a string", { if case .string(let s) = $0 { s } else { nil } })
    static let asBool: Conversion<Bool> = ("a boolean", { if case .bool(let b) = $0 { b } else { nil } })
    static let asObject: Conversion<JSONObject> = ("an object", { if case .object(let o) = $0 { o } else { nil } })

    static func arrayOf<T>(_ element: Conversion<T>, _ plural: String) -> Conversion<[T]> {
        ("an array of \(plural)", { v in
            guard case .array(let items) = v else { return nil }
            var out: [T] = []
            for item in items {
                guard let x = element.convert(item) else { return nil }
                out.append(x)
            }
            return out
        })
    }

    static func mapOf<T>(_ element: Conversion<T>, _ plural: String) -> Conversion<[String: T]> {
        ("an object of \(plural)", { v in
            guard case .object(let o) = v else { return nil }
            var out: [String: T] = [:]
            for (k, item) in o.entries {
                guard let x = element.convert(item) else { return nil }
                out[k] = x
            }
            return out
        })
    }

    // MARK: - Lookup

    func path(_ key: String) -> String { keyPath.isEmpty ? key : keyPath + "." + key }

    /// The converted value, nil when absent or null; throws when present with the wrong type.
    public func optional<T>(_ key: String, _ conversion: Conversion<T>) throws -> T? {
        guard let v = object[key], v != .null else { return nil }
        guard let x = conversion.convert(v) else {
            throw IOError(.wrongType, file: file, place: "key '\(clippedForMessage(path(key), limit: 120))'",
                          "expected \(conversion.expected) but found \(Self.preview(v))", advice: "fix the value in the file")
        }
        return x
    }

    /// The converted value; throws when absent, null or of the wrong type.
    public func required<T>(_ key: String, _ conversion: Conversion<T>) throws -> T {
        guard let x = try optional(key, conversion) else {
            let absent = object[key] == nil
            let near = absent ? similarKeys(to: key, in: object.keys).first : nil
            throw IOError(.missingKey, file: file, place: "key '\(clippedForMessage(path(key), limit: 120))'",
                          "\(absent ? "missing" : "null") (expected \(conversion.expected))",
                          advice: near.map { "did you mean '\($0)'?" })
        }
        return x
    }

    /// A short rendering of a value for messages: kind plus a clipped literal.
    static func preview(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): "a string (\"\(s.count > 40 ? s.prefix(40) + "…" : s)\")"
        case .int(let n): "an integer (\(n))"
        case .double(let d): "a number (\(d))"
        case .bool(let b): "a boolean (\(b))"
        case .array(let a): "an array of \(a.count) items"
        case .object(let o): "an object with \(o.count) keys"
        case .null: "null"
        }
    }
}

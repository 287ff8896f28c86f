/// A parsed JSON document that keeps what file formats need and Foundation's
/// `JSONSerialization` loses: integers stay exact 64-bit values (never routed through Double),
/// booleans are not numbers, object keys keep their file order, and a key repeated inside one
/// object is an error instead of being silently dropped (the safetensors spec forbids duplicate
/// tensor names, and a parser that keeps the first or the last would hide a corrupt file).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// An integer literal (no fraction, no exponent) that fits in Int64.
    case int(Int64)
    /// Any other number (fractions, exponents, integers beyond Int64, NaN/±Infinity).
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A short name of the value's kind for error messages ("an array", "a string").
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A JSON object whose keys are unique and remembered in file order.
public struct JSONObject: Sendable, Equatable {
    /// Keys in the order they appear in the file.
    public private(set) var keys: [String] = []
    private var values: [String: JSONValue] = [:]

    public init() {}

    /// The value stored under `key`, if any.
    public subscript(key: String) -> JSONValue? { values[key] }

    /// Key–value pairs in file order.
    public var entries: [(key: String, value: JSONValue)] { keys.map { ($0, values[$0]!) } }

    public var count: Int { keys.count }

    /// Adds `value` under a new `key`; returns false (and changes nothing) if the key exists.
    @discardableResult
    public mutating func insert(_ key: String, _ value: JSONValue) -> Bool {
        guard values[key] == nil else { return false }
        keys.append(key)
        values[key] = value
        return true
    }
}

/// Why a JSON text could not be parsed, with the byte offset where it went wrong.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case syntax
        /// `key` appears twice in the object at `path`.
        case duplicateKey(String)
        case tooDeep
    }

    public let kind: Kind
    public let message: String
    /// Byte offset into the parsed text.
    public let offset: Int
    /// Keys / indices leading to the object where the problem is (empty at top level).
    public let path: [String]

    public var description: String { oneLineMessage("\(message) at byte \(offset)") }
}

/// Strict RFC 8259 parser over UTF-8 bytes, plus the `NaN` / `Infinity` / `-Infinity` literals
/// Python's `json` module writes into config files.
public enum JSONParser {
    /// Nesting deeper than this is rejected, so a hostile header of `[[[[…` cannot exhaust the stack.
    public static let maxDepth = 256

    /// Parses one JSON value filling all of `bytes` (surrounding whitespace allowed).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var p = JSONCursor(bytes: bytes)
        p.skipWhitespace()
        let v = try p.value()
        p.skipWhitespace()
        if p.i < bytes.count { throw p.fail("unexpected text after the JSON value") }
        return v
    }

    /// Parses `bytes` (see `parse(_:)` for the rules).
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Byte offset of the first invalid UTF-8 sequence in `bytes`, or nil when all is valid.
    public static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var it = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var position = 0
        while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let scalar): position += scalar.count
            case .emptyInput: return nil
            case .error: return position
            }
        }
    }
}

/// The parser's state: a position in the bytes and the path to the current container.
private struct JSONCursor {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    var path: [String] = []

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ message: String, kind: JSONParseError.Kind = .syntax) -> JSONParseError {
        JSONParseError(kind: kind, message: message, offset: i, path: path)
    }

    /// A readable name for the byte at the cursor ("end of input", "'x'", "byte 0xff").
    var here: String {
        guard i < bytes.count else { return "the end of input" }
        let c = bytes[i]
        return (0x21...0x7E).contains(c) ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
    }

    mutating func skipWhitespace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func expect(_ c: UInt8, _ what: String) throws(JSONParseError) {
        guard i < bytes.count, bytes[i] == c else { throw fail("expected \(what) but found \(here)") }
        i += 1
    }

    mutating func value() throws(JSONParseError) -> JSONValue {
        guard i < bytes.count else { throw fail("expected a value but found the end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "N"): try literal("NaN"); return .double(.nan)
        case UInt8(ascii: "I"): try literal("Infinity"); return .double(.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("expected a value but found \(here)")
        }
    }

    mutating func literal(_ word: String) throws(JSONParseError) {
        for c in word.utf8 {
            guard i < bytes.count, bytes[i] == c else { throw fail("invalid literal (expected '\(word)')") }
            i += 1
        }
    }

    mutating func enter() throws(JSONParseError) {
        if path.count >= JSONParser.maxDepth {
            throw fail("nesting deeper than \(JSONParser.maxDepth) levels", kind: .tooDeep)
        }
    }

    mutating func object() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var result = JSONObject()
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(result) }
        while true {
            skipWhitespace()
            let keyStart = i
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                throw fail("expected a string key but found \(here)")
            }
            let key = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after key \"\(clippedForMessage(key))\"")
            skipWhitespace()
            path.append(key)
            let v = try value()
            path.removeLast()
            if !result.insert(key, v) {
                i = keyStart
                throw fail("duplicate key \"\(clippedForMessage(key))\"", kind: .duplicateKey(key))
            }
            skipWhitespace()
            guard i < bytes.count else { throw fail("expected ',' or '}' but found the end of input") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(result) }
            throw fail("expected ',' or '}' but found \(here)")
        }
    }

    mutating func array() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var result: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(result) }
        while true {
            skipWhitespace()
            path.append(String(result.count))
            result.append(try value())
            path.removeLast()
            skipWhitespace()
            guard i < bytes.count else { throw fail("expected ',' or ']' but found the end of input") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(result) }
            throw fail("expected ',' or ']' but found \(here)")
        }
    }

    /// A string literal starting at the opening quote; the cursor ends after the closing quote.
    mutating func string() throws(JSONParseError) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else {
                i = start
                throw fail("unterminated string")
            }
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    i = start
                    throw fail("string is not valid UTF-8")
                }
                return s
            case UInt8(ascii: "\\"):
                i += 1
                try escape(into: &out)
            case 0..<0x20:
                throw fail("control character (byte 0x\(String(c, radix: 16))) inside a string must be escaped")
            default:
                out.append(c)
                i += 1
            }
        }
    }

    /// One escape sequence after a backslash, appended to `out` as UTF-8.
    mutating func escape(into out: inout [UInt8]) throws(JSONParseError) {
        guard i < bytes.count else { throw fail("unterminated escape sequence") }
        let c = bytes[i]
        i += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F,
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A,
            UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
        ]
        if let s = simple[c] { out.append(s); return }
        guard c == UInt8(ascii: "u") else {
            i -= 1
            throw fail("invalid escape sequence (backslash followed by \(here))")
        }
        var code = UInt32(try hex4())
        if (0xD800..<0xDC00).contains(code) {
            // A high surrogate must be followed by an escaped low surrogate.
            guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                throw fail("unpaired surrogate in \\u escape")
            }
            i += 2
            let low = UInt32(try hex4())
            guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(code) {
            throw fail("unpaired surrogate in \\u escape")
        }
        guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    mutating func hex4() throws(JSONParseError) -> UInt16 {
        var v: UInt16 = 0
        for _ in 0..<4 {
            guard i < bytes.count, let d = hexDigit(bytes[i]) else { throw fail("expected 4 hex digits after \\u") }
            v = v << 4 | UInt16(d)
            i += 1
        }
        return v
    }

    func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A number literal; integers without fraction or exponent that fit in Int64 stay exact.
    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = i
        func isDigit(_ k: Int) -> Bool { k < bytes.count && (0x30...0x39).contains(bytes[k]) }
        if bytes[i] == UInt8(ascii: "-") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "I") { try literal("Infinity"); return .double(-.infinity) }
        }
        guard isDigit(i) else { throw fail("expected a digit but found \(here)") }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
            if isDigit(i) { throw fail("leading zeros are not allowed in numbers") }
        } else {
            while isDigit(i) { i += 1 }
        }
        var integral = true
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard isDigit(i) else { throw fail("expected a digit after '.' but found \(here)") }
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { throw fail("expected a digit in the exponent but found \(here)") }
            while isDigit(i) { i += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if integral, let v = Int64(text) { return .int(v) }
        guard let d = Double(text) else { throw fail("number '\(text)' cannot be represented") }
        return .double(d)
    }
}

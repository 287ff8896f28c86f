import Core
import Foundation

/// The JSON bodies of the text-embeddings-inference (TEI) API, written and read directly:
/// embedding responses are large arrays of floats, and parsing each number with `Float(String)`
/// (correctly rounded) makes a float printed by the server come back bit-identical, which the
/// `local`-versus-HTTP equality relies on.
public enum TEIJSON {
    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// `{"inputs":[…],"truncate":…}` plus `"normalize"` for `/embed`.
    public static func embedRequest(_ texts: [String], truncate: Bool, normalize: Bool? = nil) -> [UInt8] {
        var s = "{\"inputs\":[" + texts.map(quoted).joined(separator: ",") + "],\"truncate\":\(truncate)"
        if let normalize { s += ",\"normalize\":\(normalize)" }
        return Array((s + "}").utf8)
    }

    /// Appends `values` as a JSON array of shortest round-trip decimals.
    static func appendArray(_ values: ArraySlice<Float>, to out: inout String) {
        out += "["
        var first = true
        for v in values {
            if !first { out += "," }
            first = false
            out += v.description
        }
        out += "]"
    }

    /// `[[…],[…]]`: one pooled vector per text.
    public static func vectors(_ rows: [[Float]]) -> String {
        var out = "["
        for (i, r) in rows.enumerated() {
            if i > 0 { out += "," }
            appendArray(r[...], to: &out)
        }
        return out + "]"
    }

    /// `[[[…],…],…]`: per text, one vector per token.
    public static func tokenMatrices(_ items: [TokenFeatures]) -> String {
        var out = "["
        for (i, f) in items.enumerated() {
            if i > 0 { out += "," }
            out += "["
            for t in 0..<f.tokens {
                if t > 0 { out += "," }
                appendArray(f.values[(t * f.dim)..<((t + 1) * f.dim)], to: &out)
            }
            out += "]"
        }
        return out + "]"
    }

    /// Parses nested arrays of numbers `depth` levels deep (2 for `/embed`, 3 for `/embed_all`)
    /// into leaf rows; every leaf row must have the same length. Returns, per top-level item, its
    /// leaf rows flattened, plus the common row length.
    public static func parseNested(_ bytes: [UInt8], depth: Int, what: String) throws -> (items: [(rows: Int, values: [Float])], width: Int) {
        var s = NumberScanner(bytes: bytes, what: what)
        var items: [(Int, [Float])] = []
        var width = -1
        s.skip()
        try s.expect(UInt8(ascii: "["))
        if try !s.closes() {
            repeat {
                var values: [Float] = []
                var rows = 0
                if depth == 2 {
                    let n = try s.leafRow(into: &values)
                    rows = 1
                    if width < 0 { width = n } else if n != width { throw s.fail("vector of length \(n) where earlier ones had \(width)") }
                } else {
                    try s.expect(UInt8(ascii: "["))
                    if try !s.closes() {
                        repeat {
                            let n = try s.leafRow(into: &values)
                            if width < 0 { width = n } else if n != width { throw s.fail("token vector of length \(n) where earlier ones had \(width)") }
                            rows += 1
                        } while try s.nextItem()
                    }
                }
                items.append((rows, values))
            } while try s.nextItem()
        }
        s.skip()
        guard s.i == bytes.count else { throw s.fail("unexpected text after the array") }
        return (items, max(width, 0))
    }
}

/// Cursor over JSON text that only knows arrays and numbers (the embedding response grammar).
private struct NumberScanner {
    let bytes: [UInt8]
    let what: String
    var i = 0

    func fail(_ m: String) -> IOError {
        IOError(.invalidJSON, file: what, "unexpected response shape: \(m) at byte \(i)",
                advice: "the endpoint must answer like text-embeddings-inference (nested arrays of numbers)")
    }
    mutating func skip() { while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 } }
    mutating func expect(_ c: UInt8) throws {
        skip()
        guard i < bytes.count, bytes[i] == c else {
            throw fail("expected '\(Character(Unicode.Scalar(c)))' but found \(i < bytes.count ? "'\(Character(Unicode.Scalar(bytes[i])))'" : "the end")")
        }
        i += 1
    }
    /// Consumes `]` if it is next (an empty array).
    mutating func closes() throws -> Bool {
        skip()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return true }
        return false
    }
    /// After an item: `,` → true (another follows), `]` → false.
    mutating func nextItem() throws -> Bool {
        skip()
        guard i < bytes.count else { throw fail("array not closed") }
        if bytes[i] == UInt8(ascii: ",") { i += 1; return true }
        if bytes[i] == UInt8(ascii: "]") { i += 1; return false }
        throw fail("expected ',' or ']'")
    }
    /// `[n, n, …]` appended to `values`; returns its length.
    mutating func leafRow(into values: inout [Float]) throws -> Int {
        try expect(UInt8(ascii: "["))
        var n = 0
        if try closes() { return 0 }
        repeat {
            skip()
            let start = i
            while i < bytes.count, let c = Optional(bytes[i]),
                  (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x65 || c == 0x45 { i += 1 }
            guard i > start, i - start < 64, let v = Float(String(decoding: bytes[start..<i], as: UTF8.self)) else {
                throw fail("expected a number")
            }
            guard v.isFinite else { throw fail("non-finite number") }
            values.append(v)
            n += 1
        } while try nextItem()
        return n
    }
}

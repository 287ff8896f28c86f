import Core
import Foundation

/// Writes `JSONValue`s as text: keys in insertion order, shortest round-trip numbers, strings
/// escaped per RFC 8259 (non-ASCII kept as UTF-8). Core's parser reads everything written here.
///
/// ```swift
/// var o = JSONObject(); o.insert("rank", .int(200))
/// let line = JSONText.compact(.object(o))        // {"rank":200}
/// ```
public enum JSONText {
    /// One line, no spaces (JSON lines records).
    public static func compact(_ v: JSONValue) -> String {
        var out = ""
        write(v, into: &out, indent: nil, depth: 0)
        return out
    }

    /// Two-space indented, for config files a person reads.
    public static func pretty(_ v: JSONValue) -> String {
        var out = ""
        write(v, into: &out, indent: "  ", depth: 0)
        return out + "\n"
    }

    static func write(_ v: JSONValue, into out: inout String, indent: String?, depth: Int) {
        switch v {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d):
            // JSON has no NaN/Infinity; Core's parser accepts Python's spellings, so use those.
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d > 0 ? "Infinity" : "-Infinity" } else { out += "\(d)" }
        case let .string(s): escape(s, into: &out)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                newline(&out, indent, depth + 1)
                write(item, into: &out, indent: indent, depth: depth + 1)
            }
            newline(&out, indent, depth)
            out += "]"
        case let .object(o):
            if o.count == 0 { out += "{}"; return }
            out += "{"
            for (i, (k, item)) in o.entries.enumerated() {
                if i > 0 { out += "," }
                newline(&out, indent, depth + 1)
                escape(k, into: &out)
                out += indent == nil ? ":" : ": "
                write(item, into: &out, indent: indent, depth: depth + 1)
            }
            newline(&out, indent, depth)
            out += "}"
        }
    }

    private static func newline(_ out: inout String, _ indent: String?, _ depth: Int) {
        guard let indent else { return }
        out += "\n" + String(repeating: indent, count: depth)
    }

    static func escape(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

/// Small builders so call sites read like the JSON they produce.
extension JSONObject {
    /// An object from pairs in order (a repeated key keeps its first value).
    public init(_ pairs: [(String, JSONValue)]) {
        self.init()
        for (k, v) in pairs { insert(k, v) }
    }
}

extension JSONValue {
    /// A Float as the decimal a person typed (0.1, not 0.10000000149011612).
    public static func float(_ x: Float) -> JSONValue { .double(Double("\(x)") ?? Double(x)) }
    public static func ints(_ xs: [Int]) -> JSONValue { .array(xs.map { .int(Int64($0)) }) }
    public static func strings(_ xs: [String]) -> JSONValue { .array(xs.map { .string($0) }) }
}

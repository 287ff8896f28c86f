/// Whitespace tokenisation and exact token comparison as ERRANT does them in Python.
///
/// ERRANT (without `-tok`) splits a line with `str.split()` and compares tokens by code points.
/// Swift's `String ==` uses canonical equivalence (`"é"` precomposed equals `"e"` + combining
/// accent), so tokens are compared by their unicode scalars here to give Python's answer.
public enum GECTokens {
    /// Python's `str.split()`: runs of whitespace separate tokens; none are empty.
    public static func split(_ line: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        for s in line.unicodeScalars {
            if isPythonWhitespace(s) {
                if !current.isEmpty { out.append(String(current)); current = String.UnicodeScalarView() }
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// Python's `str.strip()` (whitespace at both ends removed).
    public static func strip(_ line: String) -> String {
        let scalars = Array(line.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !isPythonWhitespace($0) }),
              let last = scalars.lastIndex(where: { !isPythonWhitespace($0) }) else { return "" }
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars[first...last])
        return String(v)
    }

    /// Code-point equality (Python's `==` on `str`).
    @inline(__always)
    public static func same(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }

    /// The characters Python's `str.isspace()` accepts: Unicode White_Space plus the
    /// information separators U+001C…U+001F.
    static func isPythonWhitespace(_ s: Unicode.Scalar) -> Bool {
        (0x1C...0x1F).contains(s.value) || s.properties.isWhitespace
    }
}

/// A string compared and hashed by unicode scalars (Python `str` semantics), for dictionary keys.
public struct ScalarString: Hashable, Sendable, CustomStringConvertible {
    public let scalars: [UInt32]
    public init(_ s: String) { scalars = s.unicodeScalars.map(\.value) }
    public var description: String {
        var v = String.UnicodeScalarView()
        for u in scalars { if let s = Unicode.Scalar(u) { v.append(s) } }
        return String(v)
    }
}

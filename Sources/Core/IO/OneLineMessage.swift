/// Error messages quote names taken from the input (JSON keys, tensor names, tokens), and the
/// project promises one-line errors: a key holding an escaped newline must not split the
/// message. This writes every control character (C0, DEL, C1) and the Unicode line/paragraph
/// separators as a visible escape, leaving all other text untouched.
///
/// ```swift
/// oneLineMessage("key \"a\nb\" is bad")   // → key "a\nb" is bad   (a backslash and an n)
/// ```
public func oneLineMessage(_ text: String) -> String {
    // Fast path: nearly every message is clean already.
    guard text.unicodeScalars.contains(where: needsEscape) else { return text }
    var out = String.UnicodeScalarView()
    for s in text.unicodeScalars {
        guard needsEscape(s) else { out.append(s); continue }
        let escaped: String = switch s {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        default: "\\u{" + String(s.value, radix: 16, uppercase: true) + "}"
        }
        out.append(contentsOf: escaped.unicodeScalars)
    }
    return String(out)
}

private func needsEscape(_ s: Unicode.Scalar) -> Bool {
    s.value < 0x20 || (0x7F...0x9F).contains(s.value) || s.value == 0x2028 || s.value == 0x2029 || s.value == 0x85
}

/// Input quoted into an error message (a JSON key, a pattern, a token) is clipped to `limit`
/// characters, so a hostile 10 KB key still gives a readable one-line message; the message
/// says how much was left out.
///
/// ```swift
/// clippedForMessage(String(repeating: "k", count: 500), limit: 4)   // → "kkkk…(496 more characters)"
/// ```
public func clippedForMessage(_ text: String, limit: Int = 80) -> String {
    guard text.count > limit else { return text }
    return String(text.prefix(limit)) + "…(\(text.count - limit) more characters)"
}

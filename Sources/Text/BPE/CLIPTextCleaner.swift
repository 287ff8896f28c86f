import Foundation

/// CLIP's text clean-up before byte-level BPE, as OpenAI's `simple_tokenizer` does it, with the
/// parts of `ftfy.fix_text` that change real prompts done here instead of depending on ftfy:
///
/// 1. ftfy subset (each switchable): undo UTF-8 read as Windows-1252/Latin-1 ("cafÃ©" → "café") on
///    words where the round trip yields valid multi-byte UTF-8; expand Latin ligatures (`ﬁ` → "fi",
///    `ǅ` → "Dž"); fullwidth ASCII and the ideographic space to plain ASCII; curly quotes to
///    straight ones; drop control characters; then Unicode NFC.
/// 2. `html.unescape` twice (`&amp;amp;` → `&`), numeric and common named references.
/// 3. Whitespace: strip, collapse every run of Python `\s` (tabs, newlines, NO-BREAK SPACE…) to one
///    space, strip again.
/// 4. Full Unicode lower-casing (Python `str.lower()`: `İ` → `i` + U+0307).
///
/// What ftfy does beyond this (its statistical mojibake detector, HTML-in-text heuristics) is not
/// reproduced; on clean text, which prompts and class names are, the result is the same.
///
/// ```swift
/// CLIPTextCleaner().clean("  Tom &amp; Jerry\t")   // "tom & jerry"
/// ```
public struct CLIPTextCleaner: Sendable {
    public var repairMojibake = true
    public var expandLigatures = true
    public var narrowFullwidth = true
    public var straightenQuotes = true
    public var removeControlCharacters = true

    public init() {}

    /// The cleaned, lower-cased text.
    public func clean(_ text: String) -> String {
        var t = text
        if repairMojibake { t = Self.repairingMojibake(t) }
        t = Self.mapScalars(t, ligatures: expandLigatures, fullwidth: narrowFullwidth, quotes: straightenQuotes,
                            controls: removeControlCharacters)
        t = t.precomposedStringWithCanonicalMapping
        t = HTMLEntities.unescape(HTMLEntities.unescape(t))
        return Self.collapsingWhitespace(t).lowercased()
    }

    /// Python's `str.isspace()` set, which `re`'s `\s` and `str.strip()` use.
    public static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// Runs of whitespace → one space, ends trimmed.
    static func collapsingWhitespace(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for s in text.unicodeScalars {
            if isWhitespace(s) { pendingSpace = true; continue }
            if pendingSpace && !out.isEmpty { out.append(" ") }
            pendingSpace = false
            out.append(s)
        }
        return String(out)
    }

    /// ftfy's Latin ligature table (compatibility ligatures that are not language-specific letters).
    static let ligatures: [UInt32: String] = [
        0x132: "IJ", 0x133: "ij", 0x149: "\u{2BC}n", 0x1C4: "D\u{17D}", 0x1C5: "D\u{17E}", 0x1C6: "d\u{17E}",
        0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj", 0x1CA: "NJ", 0x1CB: "Nj", 0x1CC: "nj", 0xFB00: "ff", 0xFB01: "fi",
        0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "\u{17F}t", 0xFB06: "st",
    ]

    static func mapScalars(_ text: String, ligatures: Bool, fullwidth: Bool, quotes: Bool, controls: Bool) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            let v = s.value
            if ligatures, let expanded = Self.ligatures[v] { out.append(contentsOf: expanded.unicodeScalars); continue }
            if fullwidth, (0xFF01...0xFF5E).contains(v) { out.append(Unicode.Scalar(v - 0xFF01 + 0x21)!); continue }
            if fullwidth, v == 0x3000 { out.append(" "); continue }
            if quotes, v == 0x2BC || (0x2018...0x201B).contains(v) { out.append("'"); continue }
            if quotes, (0x201C...0x201F).contains(v) { out.append("\""); continue }
            if controls, isRemovedControl(v) { continue }
            out.append(s)
        }
        return String(out)
    }

    /// Control and formatting characters ftfy removes (tab, newline, CR and form feed stay).
    static func isRemovedControl(_ v: UInt32) -> Bool {
        (0x00...0x08).contains(v) || v == 0x0B || (0x0E...0x1F).contains(v) || v == 0x7F || (0x206A...0x206F).contains(v)
            || v == 0xFEFF || (0xFFF9...0xFFFC).contains(v) || (0xE0000...0xE007F).contains(v)
    }

    // MARK: - Mojibake

    /// Windows-1252 bytes 0x80…0x9F by the character they decode to.
    static let cp1252High: [UInt32: UInt8] = {
        var out: [UInt32: UInt8] = [:]
        for (code, mapped) in HTMLEntities.c1 { out[mapped] = UInt8(code) }
        return out
    }()

    /// Undoes UTF-8 that was decoded as Windows-1252 (or Latin-1), word by word: a word whose
    /// characters all map back to single bytes, whose bytes form valid UTF-8 and which contains at
    /// least one multi-byte sequence is replaced by that decoding. Clean text never qualifies,
    /// because valid UTF-8 needs a lead byte (Â…ô) followed by continuation bytes (0x80…0xBF),
    /// which as Latin-1 are symbols, not letters.
    static func repairingMojibake(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { (0xC2...0xF4).contains($0.value) }) else { return text }
        var out = ""
        var word = String.UnicodeScalarView()
        func flush() {
            out += repairedWord(String(word))
            word = String.UnicodeScalarView()
        }
        for s in text.unicodeScalars {
            if isWhitespace(s) { flush(); out.unicodeScalars.append(s) } else { word.append(s) }
        }
        flush()
        return out
    }

    static func repairedWord(_ word: String) -> String {
        var bytes: [UInt8] = []
        var multiByte = false
        for s in word.unicodeScalars {
            let b: UInt8
            if s.value < 0x100 { b = UInt8(s.value) } else if let mapped = cp1252High[s.value] { b = mapped } else { return word }
            bytes.append(b)
            if b >= 0x80 { multiByte = true }
        }
        guard multiByte, let decoded = String(validating: bytes, as: UTF8.self), decoded != word else { return word }
        return decoded
    }
}

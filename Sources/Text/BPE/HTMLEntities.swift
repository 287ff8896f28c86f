/// Python's `html.unescape` for the entities text actually contains: numeric references
/// (decimal and hex, with Python's replacements for invalid code points) and named references
/// from HTML's Latin-1 set plus the common typographic ones. Names work with `;`, and the legacy
/// names (Latin-1, `amp`, `lt`, `gt`, `quot`) also without it, as browsers and Python accept.
/// Unknown names are left as they are.
enum HTMLEntities {
    /// HTML 4's Latin-1 entity names for U+00A0…U+00FF, in code-point order.
    static let latin1Names = """
        nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 \
        acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml \
        Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde \
        Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig \
        ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide \
        oslash ugrave uacute ucirc uuml yacute thorn yuml
        """.split(separator: " ").map(String.init)

    /// Names usable without the trailing semicolon.
    static let legacy: [String: String] = {
        var out: [String: String] = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "AMP": "&", "LT": "<", "GT": ">",
                                     "QUOT": "\"", "COPY": "\u{A9}", "REG": "\u{AE}"]
        for (i, name) in latin1Names.enumerated() { out[name] = String(Character(Unicode.Scalar(UInt8(0xA0 + i)))) }
        return out
    }()

    /// Names that need the semicolon (a common subset of HTML5's list).
    static let named: [String: String] = {
        var out = legacy
        let extra: [(String, UInt32)] = [
            ("apos", 0x27), ("OElig", 0x152), ("oelig", 0x153), ("Scaron", 0x160), ("scaron", 0x161), ("Yuml", 0x178),
            ("fnof", 0x192), ("circ", 0x2C6), ("tilde", 0x2DC), ("ensp", 0x2002), ("emsp", 0x2003), ("thinsp", 0x2009),
            ("zwnj", 0x200C), ("zwj", 0x200D), ("lrm", 0x200E), ("rlm", 0x200F), ("ndash", 0x2013), ("mdash", 0x2014),
            ("lsquo", 0x2018), ("rsquo", 0x2019), ("sbquo", 0x201A), ("ldquo", 0x201C), ("rdquo", 0x201D), ("bdquo", 0x201E),
            ("dagger", 0x2020), ("Dagger", 0x2021), ("bull", 0x2022), ("hellip", 0x2026), ("permil", 0x2030), ("prime", 0x2032),
            ("Prime", 0x2033), ("lsaquo", 0x2039), ("rsaquo", 0x203A), ("euro", 0x20AC), ("trade", 0x2122), ("larr", 0x2190),
            ("uarr", 0x2191), ("rarr", 0x2192), ("darr", 0x2193), ("harr", 0x2194), ("minus", 0x2212), ("infin", 0x221E),
            ("ne", 0x2260), ("le", 0x2264), ("ge", 0x2265), ("spades", 0x2660), ("clubs", 0x2663), ("hearts", 0x2665),
            ("diams", 0x2666), ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("pi", 0x3C0),
            ("mu", 0x3BC), ("sigma", 0x3C3), ("lambda", 0x3BB), ("theta", 0x3B8), ("omega", 0x3C9),
        ]
        for (name, code) in extra { out[name] = String(Character(Unicode.Scalar(code)!)) }
        return out
    }()

    /// Windows-1252 meanings Python gives the C1 numeric references &#128;…&#159;.
    static let c1: [UInt32: UInt32] = [
        0x80: 0x20AC, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x02C6,
        0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8E: 0x017D, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201C,
        0x94: 0x201D, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC, 0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A,
        0x9C: 0x0153, 0x9E: 0x017E, 0x9F: 0x0178,
    ]

    /// The text of numeric reference `code`, as Python's `html.unescape` decides it.
    static func numeric(_ code: UInt32) -> String {
        if code == 0 { return "\u{FFFD}" }
        if code == 0x0D { return "\r" }
        if let mapped = c1[code] { return String(Character(Unicode.Scalar(mapped)!)) }
        if (0xD800...0xDFFF).contains(code) || code > 0x10FFFF { return "\u{FFFD}" }
        // Python drops control characters and non-characters entirely.
        let dropped = (0x01...0x08).contains(code) || code == 0x0B || (0x0E...0x1F).contains(code) || (0x7F...0x9F).contains(code)
            || (0xFDD0...0xFDEF).contains(code) || code & 0xFFFE == 0xFFFE
        if dropped { return "" }
        return String(Character(Unicode.Scalar(code)!))
    }

    /// `html.unescape(text)`.
    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            guard s[i] == "&", i + 1 < s.count else { out.append(s[i]); i += 1; continue }
            if s[i + 1] == "#" {
                // &#123; or &#x1F; (the semicolon is optional).
                var j = i + 2
                let hex = j < s.count && (s[j] == "x" || s[j] == "X")
                if hex { j += 1 }
                let digitsStart = j
                while j < s.count, hex ? s[j].properties.isASCIIHexDigit : ("0"..."9").contains(s[j]) { j += 1 }
                if j > digitsStart {
                    let digits = String(String.UnicodeScalarView(s[digitsStart..<j]))
                    let value = UInt64(digits.prefix(16), radix: hex ? 16 : 10) ?? UInt64.max
                    out.append(contentsOf: numeric(value > 0x10FFFF || digits.count > 16 ? 0x110000 : UInt32(value)).unicodeScalars)
                    i = j < s.count && s[j] == ";" ? j + 1 : j
                    continue
                }
                out.append(s[i]); i += 1; continue
            }
            // Named: up to 32 characters that are not tab, newline, form feed, space, <, &, # or ;.
            var j = i + 1
            while j < s.count, j - i - 1 < 32, !"\t\n\u{0C} <&#;".unicodeScalars.contains(s[j]) { j += 1 }
            let name = String(String.UnicodeScalarView(s[(i + 1)..<j]))
            if j < s.count, s[j] == ";", let value = named[name] {
                out.append(contentsOf: value.unicodeScalars)
                i = j + 1
                continue
            }
            // Longest legacy prefix (at least two characters), the rest kept as text.
            var matched = false
            var k = name.unicodeScalars.count
            while k >= 2 {
                let prefix = String(String.UnicodeScalarView(s[(i + 1)..<(i + 1 + k)]))
                if let value = legacy[prefix] {
                    out.append(contentsOf: value.unicodeScalars)
                    i += 1 + k
                    matched = true
                    break
                }
                k -= 1
            }
            if !matched { out.append(s[i]); i += 1 }
        }
        return String(out)
    }
}

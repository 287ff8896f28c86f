import Foundation

/// BERT's text normaliser, the `BertNormalizer` section of a Hugging Face `tokenizer.json`.
///
/// Steps, in the reference's order: (1) clean: drop NUL, U+FFFD and control/format characters,
/// turn every whitespace character into a plain space; (2) put spaces around CJK ideographs so
/// each becomes its own word; (3) strip accents: NFD-decompose, then drop nonspacing marks;
/// (4) lower-case each scalar with its full Unicode mapping (so `İ` becomes `i` + U+0307).
/// Everything works on Unicode scalars, as the Rust reference works on `char`s.
public struct BertNormalizer: Sendable, Equatable {
    /// Remove control characters and map all whitespace to U+0020.
    public var cleanText: Bool
    /// Surround CJK ideographs with spaces (`handle_chinese_chars`).
    public var handleChineseChars: Bool
    /// Strip accents; `nil` means "do it when lower-casing" (the reference's default).
    public var stripAccents: Bool?
    /// Lower-case the text (uncased models).
    public var lowercase: Bool

    /// Settings of an uncased BERT (all four steps on), e.g. all-MiniLM-L6-v2 or bert-base-uncased.
    public static let uncased = BertNormalizer(cleanText: true, handleChineseChars: true, stripAccents: nil, lowercase: true)
    /// Settings of a cased BERT: no lower-casing and, by default, no accent stripping.
    public static let cased = BertNormalizer(cleanText: true, handleChineseChars: true, stripAccents: nil, lowercase: false)

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    /// Whether accents are actually stripped (an unset `stripAccents` follows `lowercase`).
    public var effectiveStripAccents: Bool { stripAccents ?? lowercase }

    /// Normalises a run of scalars.
    public func normalize(_ input: some Sequence<Unicode.Scalar>) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(input.underestimatedCount)
        for c in input {
            if cleanText {
                if c.value == 0 || c.value == 0xFFFD || BertCharacterClass.isControl(c) { continue }
                if BertCharacterClass.isWhitespace(c) { out.append(" "); continue }
            }
            if handleChineseChars && BertCharacterClass.isChineseCharacter(c) {
                out.append(" "); out.append(c); out.append(" ")
            } else {
                out.append(c)
            }
        }
        if effectiveStripAccents {
            out = Self.stripAccents(out)
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(out.count)
            for c in out {
                // ASCII fast path; the general mapping may give several scalars.
                if c.value < 0x80 {
                    lowered.append((0x41...0x5A).contains(c.value) ? Unicode.Scalar(c.value + 32)! : c)
                } else {
                    lowered.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
                }
            }
            out = lowered
        }
        return out
    }

    /// Normalises a string (convenience for inspection and tests).
    public func normalize(_ text: String) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: normalize(text.unicodeScalars))
        return String(view)
    }

    /// NFD decomposition followed by removal of nonspacing marks (category Mn).
    static func stripAccents(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Pure ASCII has nothing to decompose; skip the Foundation round trip.
        if scalars.allSatisfy({ $0.value < 0x80 }) { return scalars }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        let decomposed = String(view).decomposedStringWithCanonicalMapping
        return decomposed.unicodeScalars.filter { !BertCharacterClass.isNonspacingMark($0) }
    }
}

// Character classes used by BERT's normaliser and pre-tokeniser.
//
// These follow the Hugging Face `tokenizers` (Rust) definitions, which is what BertTokenizerFast
// runs. They differ in small ways from Google's original Python (`tokenization.py`), e.g. whitespace
// is the Unicode White_Space property rather than "category Zs", and "control" is the whole
// Unicode C* group (Cc, Cf, Cs, Co, Cn), not just Cc/Cf. All checks work on Unicode scalars
// (Rust `char`s), never on Swift `Character`s (grapheme clusters), so that a combining accent
// is seen on its own exactly as the reference sees it.

/// Classification of single Unicode scalars as BERT sees them.
public enum BertCharacterClass {
    /// Whitespace: tab, newline, carriage return, and everything with the White_Space property
    /// (space, no-break space, U+2028, ideographic space, …).
    @inlinable
    public static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x0A, 0x0D: return true
        default: return c.properties.isWhitespace
        }
    }

    /// "Other" characters that the cleaning step removes: general category C* (control, format,
    /// surrogate, private use, unassigned), except tab / newline / carriage return, which count as
    /// whitespace instead.
    public static func isControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x0A, 0x0D: return false
        default:
            switch c.properties.generalCategory {
            case .control, .format, .surrogate, .privateUse, .unassigned: return true
            default: return false
            }
        }
    }

    /// BERT punctuation: every ASCII symbol in 33–47, 58–64, 91–96, 123–126 (so `$`, `+`, `<`, `^`,
    /// `` ` ``, `|`, `~` count even though Unicode files them as symbols), plus every Unicode P* scalar.
    public static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// CJK Unified Ideographs (and extensions / compatibility blocks) that BERT isolates as
    /// single-character words. Hangul, Hiragana and Katakana are not included: those scripts put
    /// spaces between words, so the reference leaves them alone. The ranges are the ones in
    /// `tokenizers`' BertNormalizer (note 0x2B820–0x2B91F is not among them there).
    public static func isChineseCharacter(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// A nonspacing mark (category Mn): what accent stripping removes after NFD decomposition.
    public static func isNonspacingMark(_ c: Unicode.Scalar) -> Bool {
        c.properties.generalCategory == .nonspacingMark
    }
}

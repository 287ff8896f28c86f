/// CLIP's pre-tokenisation regex, written out as a scanner over Unicode scalars:
///
///     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// At each position the alternatives are tried in that order and the first that matches wins, as
/// the regex engine does: the special tokens, the English contractions (only after an ASCII
/// apostrophe, with no word-boundary requirement), a run of letters, a single number character
/// (so "2024" is four pieces and "½" one), or a run of anything that is neither whitespace, letter
/// nor number. Whitespace is never part of a piece. Scalars, not grapheme clusters, are the unit:
/// a combining accent (category M) after a letter is its own piece, as in Python.
public enum CLIPPreTokenizer {
    public static let specialTokens = ["<|startoftext|>", "<|endoftext|>"]
    static let contractions = ["s", "t", "re", "ve", "m", "ll", "d"]

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    static func isSpace(_ s: Unicode.Scalar) -> Bool { CLIPTextCleaner.isWhitespace(s) || s.properties.isWhitespace }

    /// The pieces of (already cleaned) `text`.
    public static func split(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        let specials = specialTokens.map { Array($0.unicodeScalars) }
        let contractionScalars = contractions.map { Array($0.unicodeScalars) }
        var pieces: [String] = []
        var i = 0
        func emit(_ range: Range<Int>) { pieces.append(String(String.UnicodeScalarView(s[range]))) }
        func matches(_ pattern: [Unicode.Scalar], at k: Int) -> Bool {
            k + pattern.count <= s.count && Array(s[k..<(k + pattern.count)]) == pattern
        }
        scan: while i < s.count {
            for special in specials where matches(special, at: i) {
                emit(i..<(i + special.count)); i += special.count; continue scan
            }
            if s[i] == "'" {
                // Case-insensitive, as the pattern is compiled with IGNORECASE.
                for c in contractionScalars where i + 1 + c.count <= s.count
                    && zip(s[(i + 1)...], c).allSatisfy({ String($0.0).lowercased() == String($0.1) }) {
                    emit(i..<(i + 1 + c.count)); i += 1 + c.count; continue scan
                }
            }
            let start = i
            if isLetter(s[i]) {
                while i < s.count && isLetter(s[i]) { i += 1 }
                emit(start..<i)
            } else if isNumber(s[i]) {
                i += 1
                emit(start..<i)
            } else if isSpace(s[i]) {
                i += 1
            } else {
                while i < s.count && !isSpace(s[i]) && !isLetter(s[i]) && !isNumber(s[i]) { i += 1 }
                emit(start..<i)
            }
        }
        return pieces
    }
}

/// GPT-2's pre-tokenizer, written as a scanner instead of a regex. It splits text into the pieces
/// the pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` matches,
/// trying the alternatives in that order at each position (leftmost-first, like the regex engine):
/// - an English contraction suffix (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`; case-sensitive);
/// - an optional single space (U+0020) then a run of letters, or of numbers, or of other
///   non-space characters (punctuation, symbols, emoji);
/// - a run of whitespace that is not followed by a non-space (so the last space of a run before a
///   word is left to join the word), else a single whitespace character.
/// Classes are Unicode's: letters are categories L*, numbers N*, whitespace the White_Space property.
public enum GPT2PreTokenizer {
    enum Kind { case letter, number, space, other }

    static func kind(_ s: Unicode.Scalar) -> Kind {
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The pieces of `text`, in order; their concatenation is `text`.
    public static func split(_ text: Substring) -> [Substring] {
        let scalars = Array(text.unicodeScalars)
        let kinds = scalars.map(kind)
        // Scalar offsets → String indices, so pieces are substrings of the input.
        var indices: [String.Index] = []
        indices.reserveCapacity(scalars.count + 1)
        var i = text.unicodeScalars.startIndex
        while i != text.unicodeScalars.endIndex { indices.append(i); i = text.unicodeScalars.index(after: i) }
        indices.append(text.endIndex)

        var pieces: [Substring] = []
        var start = 0
        let n = scalars.count
        func run(from j: Int, of k: Kind) -> Int {
            var e = j
            while e < n && kinds[e] == k { e += 1 }
            return e
        }
        while start < n {
            var end = start + 1
            let s = scalars[start]
            if s == "'", let suffix = contraction(scalars, at: start + 1) {
                end = start + 1 + suffix
            } else {
                // ` ?` then a run of one class (letters, numbers, or "other").
                let body = (s == " " && start + 1 < n && kinds[start + 1] != .space) ? start + 1 : start
                switch kinds[body] {
                case .letter, .number: end = run(from: body, of: kinds[body])
                case .other: end = run(from: body, of: .other)
                case .space:
                    let e = run(from: start, of: .space)
                    // `\s+(?!\S)`: the whole run at the end of text, else all but its last character;
                    // a single space before a non-space falls to `\s+` (one character).
                    end = e == n ? e : max(e - 1, start + 1)
                }
            }
            pieces.append(text[indices[start]..<indices[end]])
            start = end
        }
        return pieces
    }

    /// Length of the contraction suffix after an apostrophe at `j` (`s`, `t`, `re`, `ve`, `m`, `ll`, `d`), if any.
    static func contraction(_ s: [Unicode.Scalar], at j: Int) -> Int? {
        guard j < s.count else { return nil }
        switch s[j] {
        case "s", "t", "m", "d": return 1
        case "r", "v":
            return j + 1 < s.count && s[j + 1] == "e" ? 2 : nil
        case "l":
            return j + 1 < s.count && s[j + 1] == "l" ? 2 : nil
        default: return nil
        }
    }
}

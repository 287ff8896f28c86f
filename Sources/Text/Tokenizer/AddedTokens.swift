/// A token matched whole in the input before normal tokenisation (`added_tokens` of a
/// `tokenizer.json`): `[CLS]`, `[SEP]`, `[MASK]`, … So the literal text "[SEP]" becomes the
/// separator id, as in BertTokenizerFast.
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int
    /// Special tokens (`[CLS]`, `[PAD]`, …) are marked in `Encoding.specialTokensMask` only when
    /// inserted by the encoder; a literal one in the text is an ordinary match.
    public var special: Bool
    /// Match only when not inside a word (no letter, digit or `_` right before or after).
    public var singleWord: Bool
    /// Match against the normalised text (e.g. lower-cased) instead of the raw input.
    public var normalized: Bool

    public init(content: String, id: Int, special: Bool = true, singleWord: Bool = false, normalized: Bool = false) {
        self.content = content
        self.id = id
        self.special = special
        self.singleWord = singleWord
        self.normalized = normalized
    }
}

/// One stretch of input after added-token extraction.
enum TextSegment {
    case text([Unicode.Scalar])
    case added(id: Int)
}

/// Leftmost-longest matcher for a set of added tokens (the reference uses Aho-Corasick with the
/// same match kind; with a handful of patterns a direct scan is as fast).
struct AddedTokenMatcher: Sendable {
    private struct Pattern: Sendable {
        let scalars: [Unicode.Scalar]
        let id: Int
        let singleWord: Bool
    }
    private let byFirstScalar: [Unicode.Scalar: [Pattern]]

    /// `contents` gives each pattern's scalars (raw or already normalised by the caller).
    init(_ tokens: [(scalars: [Unicode.Scalar], token: AddedToken)]) {
        var map: [Unicode.Scalar: [Pattern]] = [:]
        for (scalars, token) in tokens where !scalars.isEmpty {
            map[scalars[0], default: []].append(Pattern(scalars: scalars, id: token.id, singleWord: token.singleWord))
        }
        // Longest first, so the first pattern that matches at a position is the longest one.
        self.byFirstScalar = map.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
    }

    var isEmpty: Bool { byFirstScalar.isEmpty }

    /// Splits `input` into text stretches and added-token matches, scanning left to right.
    func split(_ input: [Unicode.Scalar]) -> [TextSegment] {
        if isEmpty { return [.text(input)] }
        var out: [TextSegment] = []
        var textStart = 0
        var i = 0
        while i < input.count {
            var matched: Pattern?
            if let candidates = byFirstScalar[input[i]] {
                for p in candidates where i + p.scalars.count <= input.count {
                    guard input[i..<(i + p.scalars.count)].elementsEqual(p.scalars) else { continue }
                    if p.singleWord {
                        let before = i > 0 && Self.isWordCharacter(input[i - 1])
                        let end = i + p.scalars.count
                        let after = end < input.count && Self.isWordCharacter(input[end])
                        if before || after { continue }
                    }
                    matched = p
                    break
                }
            }
            if let p = matched {
                if textStart < i { out.append(.text(Array(input[textStart..<i]))) }
                out.append(.added(id: p.id))
                i += p.scalars.count
                textStart = i
            } else {
                i += 1
            }
        }
        if textStart < input.count { out.append(.text(Array(input[textStart...]))) }
        return out
    }

    /// Letters, digits and `_`: the characters a single-word token may not touch.
    private static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
    }
}

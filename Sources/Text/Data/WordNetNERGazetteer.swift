import Foundation

/// Splits English gloss text into CoNLL-style word tokens: whitespace first, then punctuation
/// at either end of a chunk becomes its own token, and a possessive `'s` is split off
/// (`Einstein's` → `Einstein`, `'s`). A final period stays on abbreviations and initials
/// (`U.S.`, `St.`, `J.`) so names such as `John F. Kennedy` keep their shape.
///
/// Entity names are tokenized with the same function, so a name matches a sentence exactly
/// when its tokens appear there as whole tokens.
public enum GlossTokenizer {
    static let leading: Set<Character> = ["(", "[", "{", "\"", "'", "`"]
    static let trailing: Set<Character> = [")", "]", "}", "\"", "'", ",", ";", ":", "!", "?", "."]
    /// Short words that end in a period as abbreviations.
    static let abbreviations: Set<String> = [
        "Mr", "Mrs", "Ms", "Dr", "St", "Mt", "Ft", "Jr", "Sr", "Gen", "Col", "Capt", "Lt", "Gov", "Sen", "Rev",
        "Co", "Inc", "Ltd", "Corp", "Bros", "vs", "etc", "e.g", "i.e", "Ave", "No", "Vol",
    ]

    /// The tokens of `text`.
    public static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        for chunk in text.split(whereSeparator: { $0.isWhitespace }) {
            var core = Substring(chunk)
            var before: [String] = [], after: [String] = []
            while core.count > 1, let c = core.first, leading.contains(c) {
                before.append(String(c))
                core = core.dropFirst()
            }
            while let c = core.last, trailing.contains(c), !(c == "." && keepsPeriod(core)) {
                after.insert(String(c), at: 0)
                core = core.dropLast()
            }
            out += before
            if !core.isEmpty {
                if core.count > 2, core.hasSuffix("'s") {
                    out.append(String(core.dropLast(2)))
                    out.append("'s")
                } else {
                    out.append(String(core))
                }
            }
            out += after
        }
        return out
    }

    /// Whether `word` (ending in ".") is an abbreviation or initial whose period belongs to it.
    static func keepsPeriod(_ word: Substring) -> Bool {
        let stem = word.dropLast()
        guard !stem.isEmpty else { return false }
        if stem.contains(".") { return true }  // U.S., D.C., e.g.
        if stem.count == 1, stem.first?.isLetter == true { return true }  // initials: J.
        return abbreviations.contains(String(stem))
    }
}

/// The named entities of WordNet as a token trie, annotating sentences by whole-token,
/// leftmost-longest match with IOB2 tags.
///
/// Names come from instance synsets; a name must contain an upper-case letter (so common
/// words never match) and be more than one character. A name is an entity of the type of its
/// most frequent sense written with exactly that capitalisation (the first such synset in
/// `index.noun`'s sense order): `London` is the city (LOC), not Jack London; `French` is first
/// the language, which is no instance, so `French` is not tagged at all. Without an index
/// (or a name missing from it) the type most of the name's instance synsets have wins, ties
/// going to PER, then LOC, ORG, MISC. One-token person names that are also ordinary lemmas
/// (`King`, `Court`, `Pope`: surnames that collide with common nouns in titles) are left out.
///
/// A match is not tagged when it touches another capitalised word (`North American`,
/// `Supreme Court`, `United States Army`): it is then part of a longer name WordNet does not
/// list, and tagging the known part would give a wrong boundary. A one-token match at the
/// start of a sentence is skipped when the lower-cased word is also an ordinary WordNet lemma
/// (`Reading is fun`), because sentence-initial capitals say nothing there.
///
/// ```swift
/// let gazetteer = EntityGazetteer(synsets: synsets, nounIndex: index)
/// let tags = gazetteer.annotate(GlossTokenizer.tokens("born in New York City"))
/// // ["O", "O", "B-LOC", "I-LOC", "I-LOC"]
/// ```
public struct EntityGazetteer: Sendable {
    final class Node: @unchecked Sendable {
        var children: [String: Node] = [:]
        var type: String?
    }

    static let typePriority = ["PER", "LOC", "ORG", "MISC"]

    private let root = Node()
    private let commonWords: Set<String>
    /// Number of distinct names in the trie.
    public let nameCount: Int
    /// Instance names left out: their most frequent sense is no instance, or they are
    /// one-token person names that are also ordinary lemmas.
    public let leftOutNames: [String]

    /// Builds the gazetteer from all synsets of the data files (instances give names, every
    /// other synset gives the ordinary lemmas used by the sentence-start rule) and, when given,
    /// the noun index (lemma → synset offsets, most frequent sense first).
    public init(synsets: [WordNetSynset], nounIndex: [String: [Int]]? = nil) {
        var votes: [String: [String: Int]] = [:]
        var order: [String] = []  // first-seen order, so building never depends on hashing
        var common = Set<String>()
        var nouns: [Int: WordNetSynset] = [:]
        for s in synsets {
            if s.partOfSpeech == "n" { nouns[s.offset] = s }
            if s.isInstance {
                for w in s.words where w.count > 1 && w.contains(where: { $0.isUppercase }) {
                    if votes[w] == nil { order.append(w) }
                    votes[w, default: [:]][s.entityType, default: 0] += 1
                }
            } else {
                for w in s.words { common.insert(w.lowercased()) }
            }
        }
        var skipped: [String] = []
        var kept = 0
        for name in order {
            var type: String?
            let lemma = name.lowercased().replacingOccurrences(of: " ", with: "_")
            if let senses = nounIndex?[lemma], let first = senses.lazy.compactMap({ nouns[$0] }).first(where: { $0.words.contains(name) }) {
                type = first.isInstance ? first.entityType : nil
            } else {
                // Majority type; scanning in priority order and replacing only on a strictly
                // higher count makes ties go to the earlier type.
                let counts = votes[name] ?? [:]
                var bestCount = 0
                for t in Self.typePriority where (counts[t] ?? 0) > bestCount { type = t; bestCount = counts[t] ?? 0 }
            }
            let toks = GlossTokenizer.tokens(name)
            guard let type, !(type == "PER" && toks.count == 1 && common.contains(name.lowercased())) else {
                skipped.append(name)
                continue
            }
            guard !toks.isEmpty else { continue }
            var node = root
            for t in toks {
                if let next = node.children[t] { node = next } else {
                    let next = Node()
                    node.children[t] = next
                    node = next
                }
            }
            node.type = type
            kept += 1
        }
        commonWords = common
        nameCount = kept
        leftOutNames = skipped
    }

    /// The type of an exact name, nil when it is not in the gazetteer.
    public func type(of name: String) -> String? {
        var node = root
        for t in GlossTokenizer.tokens(name) {
            guard let next = node.children[t] else { return nil }
            node = next
        }
        return node.type
    }

    /// Whether a match `tokens[start..<end]` is tagged (the neighbour and sentence-start rules).
    private func accept(_ tokens: [String], _ start: Int, _ end: Int, previousTagged: Bool) -> Bool {
        if start == 0 && end == 1 && commonWords.contains(tokens[0].lowercased()) { return false }
        func capitalised(_ t: String) -> Bool { t.first?.isUppercase ?? false }
        // The sentence's first word is capitalised anyway; a tagged neighbour is its own entity.
        if start > 1, !previousTagged, capitalised(tokens[start - 1]) { return false }
        if end < tokens.count, capitalised(tokens[end]) { return false }
        return true
    }

    /// IOB2 tags for `tokens`: at each position the longest name starting there is tagged and
    /// the scan continues after it; positions no name covers get `O`.
    public func annotate(_ tokens: [String]) -> [String] {
        var tags = [String](repeating: "O", count: tokens.count)
        var i = 0
        while i < tokens.count {
            var node = root, j = i
            var best: (end: Int, type: String)?
            while j < tokens.count, let next = node.children[tokens[j]] {
                node = next
                j += 1
                if let t = node.type { best = (j, t) }
            }
            if let b = best, accept(tokens, i, b.end, previousTagged: i > 0 && tags[i - 1] != "O") {
                tags[i] = "B-" + b.type
                for k in (i + 1)..<b.end { tags[k] = "I-" + b.type }
                i = b.end
            } else {
                i += 1
            }
        }
        return tags
    }
}

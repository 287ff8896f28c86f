import Core

/// Puts grammatical and spelling errors into correct English token lists, seeded and
/// documented, to make (erroneous source, clean reference) pairs from real text.
///
/// Error types (each tried at a random suitable position; a type with no suitable position
/// is skipped):
/// - `SPELL`: a real human misspelling of the word from codespell's dictionary (Wikipedia's list
///   of common misspellings), first-letter case kept;
/// - `DET`: article omission (`the` / `a` / `an` deleted) or substitution (`a` ↔ `the`, `a` ↔ `an`);
/// - `SVA`: subject–verb agreement of common auxiliaries (`is` ↔ `are`, `was` ↔ `were`,
///   `has` ↔ `have`, `does` ↔ `do`) and of a third-person verb losing its `-s`;
/// - `NOUN:NUM`: a noun gains or loses a plural `-s`;
/// - `VERB:FORM`: `to` + verb becomes `to` + verb-`ing`;
/// - `PREP`: a preposition replaced by another;
/// - `MISSING`: a short function word deleted;  `DOUBLED`: a word repeated;
/// - `PUNCT`: a comma deleted or the final full stop dropped.
public struct ErrorInjector: Sendable {
    /// Correct word (lower case) → misspellings of it.
    public var misspellings: [String: [String]]
    /// Known noun and verb lemmas (lower case), e.g. from WordNet's index files.
    public var nouns: Set<String>
    public var verbs: Set<String>

    public static let types = ["SPELL", "DET", "SVA", "NOUN:NUM", "VERB:FORM", "PREP", "MISSING", "DOUBLED", "PUNCT"]
    static let prepositions = ["in", "on", "at", "of", "for", "to", "with", "from", "by", "about", "into"]
    static let agreement: [String: String] = ["is": "are", "are": "is", "was": "were", "were": "was", "has": "have", "have": "has", "does": "do", "do": "does"]
    static let functionWords: Set<String> = ["a", "an", "the", "of", "to", "in", "is", "are", "and", "or", "as", "by", "for", "that", "it"]

    public init(misspellings: [String: [String]], nouns: Set<String>, verbs: Set<String>) {
        self.misspellings = misspellings; self.nouns = nouns; self.verbs = verbs
    }

    /// Parses codespell's `dictionary.txt` (`wrong->right[, other]`, one per line) into
    /// correct → misspellings, keeping single-word entries with one suggestion.
    public static func codespellMisspellings(_ text: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for line in text.textLines(omittingEmpty: true) {
            let parts = line.components(separatedBy: "->")
            guard parts.count == 2 else { continue }
            let wrong = parts[0].trimmingCharacters(in: .whitespaces).lowercased()
            let rights = parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard rights.count == 1, let right = rights.first?.lowercased(), !wrong.contains(" "), !right.contains(" "),
                  !wrong.isEmpty, wrong != right else { continue }
            out[right, default: []].append(wrong)
        }
        for k in out.keys { out[k]!.sort() }
        return out
    }

    /// `tokens` with `count` errors of random types; returns the erroneous tokens and the types used.
    public func corrupt(_ tokens: [String], count: Int, rng: inout SplitMix64) -> (tokens: [String], types: [String]) {
        var t = tokens
        var used: [String] = []
        var attempts = 0
        while used.count < count && attempts < 20 {
            attempts += 1
            let type = Self.types[Int(rng.next() % UInt64(Self.types.count))]
            if let next = apply(type, to: t, rng: &rng), next != t { t = next; used.append(type) }
        }
        return (t, used)
    }

    static func pick<T>(_ xs: [T], _ rng: inout SplitMix64) -> T? { xs.isEmpty ? nil : xs[Int(rng.next() % UInt64(xs.count))] }

    static func matchCase(_ word: String, like original: String) -> String {
        guard let f = original.first, f.isUppercase else { return word }
        return word.prefix(1).uppercased() + word.dropFirst()
    }

    func apply(_ type: String, to t: [String], rng: inout SplitMix64) -> [String]? {
        var t = t
        let lower = t.map { $0.lowercased() }
        let idx = Array(t.indices)
        switch type {
        case "SPELL":
            guard let i = Self.pick(idx.filter { misspellings[lower[$0]] != nil }, &rng), let w = Self.pick(misspellings[lower[i]]!, &rng) else { return nil }
            t[i] = Self.matchCase(w, like: t[i])
        case "DET":
            guard let i = Self.pick(idx.filter { ["a", "an", "the"].contains(lower[$0]) }, &rng) else { return nil }
            if rng.next() % 2 == 0 { t.remove(at: i) } else {
                let sub = lower[i] == "the" ? "a" : (lower[i] == "a" ? (rng.next() % 2 == 0 ? "the" : "an") : "a")
                t[i] = Self.matchCase(sub, like: t[i])
            }
        case "SVA":
            let aux = idx.filter { Self.agreement[lower[$0]] != nil }
            let third = idx.filter { i in lower[i].count > 3 && lower[i].hasSuffix("s") && !lower[i].hasSuffix("ss") && verbs.contains(String(lower[i].dropLast())) && i > 0 }
            guard let i = Self.pick(aux + third, &rng) else { return nil }
            t[i] = Self.matchCase(Self.agreement[lower[i]] ?? String(lower[i].dropLast()), like: t[i])
        case "NOUN:NUM":
            let plural = idx.filter { i in lower[i].count > 3 && lower[i].hasSuffix("s") && !lower[i].hasSuffix("ss") && nouns.contains(String(lower[i].dropLast())) }
            let singular = idx.filter { i in lower[i].count > 2 && nouns.contains(lower[i]) && !lower[i].hasSuffix("s") && lower[i].allSatisfy(\.isLetter) }
            guard let i = Self.pick(plural + singular, &rng) else { return nil }
            t[i] = plural.contains(i) ? String(t[i].dropLast()) : t[i] + "s"
        case "VERB:FORM":
            guard let i = Self.pick(idx.filter { $0 > 0 && lower[$0 - 1] == "to" && verbs.contains(lower[$0]) && !lower[$0].hasSuffix("e") && lower[$0].allSatisfy(\.isLetter) }, &rng) else { return nil }
            t[i] += "ing"
        case "PREP":
            guard let i = Self.pick(idx.filter { Self.prepositions.contains(lower[$0]) }, &rng),
                  let p = Self.pick(Self.prepositions.filter { $0 != lower[i] }, &rng) else { return nil }
            t[i] = Self.matchCase(p, like: t[i])
        case "MISSING":
            guard t.count > 4, let i = Self.pick(idx.filter { Self.functionWords.contains(lower[$0]) }, &rng) else { return nil }
            t.remove(at: i)
        case "DOUBLED":
            guard let i = Self.pick(idx.filter { t[$0].allSatisfy(\.isLetter) }, &rng) else { return nil }
            t.insert(t[i], at: i)
        case "PUNCT":
            let commas = idx.filter { t[$0] == "," }
            if let i = Self.pick(commas, &rng), rng.next() % 2 == 0 || t.last != "." { t.remove(at: i) }
            else if t.count > 3, t.last == "." { t.removeLast() } else { return nil }
        default:
            return nil
        }
        return t
    }
}

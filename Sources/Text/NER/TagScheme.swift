/// Tagging schemes for named-entity spans, and conversion of a sentence's tags to IOB2
/// (`B-X` starts an entity, `I-X` continues it, `O` is outside), the form PEFTKit trains on.
///
/// - IOB1 (original CoNLL-2003): entities start with `I-X`; `B-X` only separates two adjacent
///   entities of the same type.
/// - IOB2 / BIO: every entity starts with `B-X`.
/// - IOBES: `S-X` single-token entity, `B-X … E-X` longer ones (`I-X` inside).
/// - BILOU: the same with `U-` (unit) and `L-` (last).
public enum TagScheme: String, Sendable, CaseIterable, Equatable {
    case iob1, iob2, iobes, bilou

    /// Prefix letters a tag may carry in this scheme (besides the plain `O`).
    public var prefixes: Set<Character> {
        switch self {
        case .iob1, .iob2: return ["B", "I"]
        case .iobes: return ["B", "I", "E", "S"]
        case .bilou: return ["B", "I", "L", "U"]
        }
    }

    /// Human-readable prefix list for messages ("B-/I-/E-/S-").
    var prefixList: String { ["B", "I", "E", "S", "L", "U"].filter { prefixes.contains(Character($0)) }.map { $0 + "-" }.joined(separator: "/") }

    /// Guesses the scheme from the prefixes a file uses: any `E-`/`S-` means IOBES, any `L-`/`U-`
    /// BILOU, otherwise IOB1 (IOB2 tags are valid IOB1 and convert to themselves, so this is the
    /// safe choice for B/I files). Returns nil when both IOBES and BILOU letters appear.
    public static func detect(prefixes used: Set<Character>) -> TagScheme? {
        let iobes = !used.isDisjoint(with: ["E", "S"])
        let bilou = !used.isDisjoint(with: ["L", "U"])
        switch (iobes, bilou) {
        case (true, true): return nil
        case (true, false): return .iobes
        case (false, true): return .bilou
        case (false, false): return .iob1
        }
    }
}

/// A tag split into its prefix letter and entity type (`B-PER` → `B`, `PER`; `O` → nil prefix).
public struct ParsedTag: Sendable, Equatable {
    public var prefix: Character?
    public var type: String

    /// Parses `O` or `P-TYPE` (split at the first hyphen; the type may contain hyphens).
    /// Returns nil for anything else, e.g. `PER`, `B-`, `B_PER`.
    public init?(_ tag: String) {
        if tag == "O" { prefix = nil; type = ""; return }
        guard let dash = tag.firstIndex(of: "-"), tag.distance(from: tag.startIndex, to: dash) == 1 else { return nil }
        let t = String(tag[tag.index(after: dash)...])
        guard !t.isEmpty else { return nil }
        prefix = tag.first
        type = t
    }
}

/// Why a tag sequence is not valid in its scheme: the token index and an explanation that says
/// what to do.
public struct TagSequenceProblem: Error, Sendable, Equatable {
    public var index: Int
    public var message: String
}

extension TagScheme {
    /// Checks one sentence's tags against the scheme and returns them in IOB2.
    /// IOB1 is repaired by definition (an entity-starting `I-X` becomes `B-X`); the other schemes
    /// must be well formed, since a broken IOBES/BILOU/IOB2 sequence usually means the wrong
    /// scheme was chosen and guessing would silently change entities.
    public func convertToIOB2(_ tags: [String]) -> Result<[String], TagSequenceProblem> {
        var parsed: [ParsedTag] = []
        parsed.reserveCapacity(tags.count)
        for (i, tag) in tags.enumerated() {
            guard let p = ParsedTag(tag), p.prefix.map({ prefixes.contains($0) }) ?? true else {
                return .failure(TagSequenceProblem(
                    index: i, message: "tag '\(tag)' is not valid \(rawValue.uppercased()) (expected O or \(prefixList) followed by a type); fix the tag or choose the file's scheme"))
            }
            parsed.append(p)
        }
        var out: [String] = []
        out.reserveCapacity(tags.count)
        for (i, p) in parsed.enumerated() {
            guard let prefix = p.prefix else { out.append("O"); continue }
            let prev: ParsedTag? = i > 0 ? parsed[i - 1] : nil
            let next: ParsedTag? = i + 1 < parsed.count ? parsed[i + 1] : nil
            // Does the previous tag belong to an open entity of the same type?
            let continues = prev.map { $0.prefix != nil && $0.type == p.type } ?? false
            func fail(_ what: String) -> Result<[String], TagSequenceProblem> {
                .failure(TagSequenceProblem(index: i, message: "\(tags[i]) \(what), which \(rawValue.uppercased()) does not allow; fix the tags or choose the file's scheme (iob1 accepts any B/I sequence)"))
            }
            let before = prev.map { q in "follows " + (q.prefix.map { "\($0)-\(q.type)" } ?? "O") } ?? "starts the sentence"
            switch self {
            case .iob1:
                out.append(prefix == "I" && !continues ? "B-" + p.type : "\(prefix)-\(p.type)")
            case .iob2:
                if prefix == "I" && !continues { return fail(before) }
                out.append("\(prefix)-\(p.type)")
            case .iobes, .bilou:
                let (inside, last, single): (Character, Character, Character) = self == .iobes ? ("I", "E", "S") : ("I", "L", "U")
                let prevOpen = prev.map { ($0.prefix == "B" || $0.prefix == inside) && $0.type == p.type } ?? false
                let nextCloses = next.map { ($0.prefix == inside || $0.prefix == last) && $0.type == p.type } ?? false
                switch prefix {
                case single: out.append("B-" + p.type)
                case "B":
                    if !nextCloses { return fail("is not followed by \(inside)-\(p.type) or \(last)-\(p.type)") }
                    out.append("B-" + p.type)
                case inside:
                    if !prevOpen { return fail(before) }
                    if !nextCloses { return fail("is not followed by \(inside)-\(p.type) or \(last)-\(p.type)") }
                    out.append("I-" + p.type)
                default: // last
                    if !prevOpen { return fail(before) }
                    out.append("I-" + p.type)
                }
            }
        }
        return .success(out)
    }
}

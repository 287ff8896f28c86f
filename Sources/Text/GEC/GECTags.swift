/// One edit tag of the GECToR-style tagger, attached to a source token (or to the start slot
/// before the first token, which can only keep or append).
///
/// Labels are written as GECToR does: `$KEEP`, `$DELETE`, `$REPLACE_w`, `$APPEND_w`; `w` may
/// hold several space-separated words (a tag then rewrites or inserts a short phrase). Two
/// families of transforms rewrite the token itself, so that one tag covers many words (GECToR's
/// `$TRANSFORM_…` tags do the same with a verb-form dictionary):
/// - `$SUFFIX_-x+y`: drop the suffix `x` and add `y` (`$SUFFIX_-+s` makes "bird" "birds",
///   `$SUFFIX_-ies+y` makes "flies" "fly"); both sides are at most 3 letters;
/// - `$CASE_CAPITAL` / `$CASE_LOWER`: upper- or lower-case the first letter. An uncased encoder
///   (all-MiniLM-L6-v2) cannot see case, so it can only learn these from position.
public enum GECTag: Hashable, Sendable, CustomStringConvertible {
    case keep
    case delete
    case replace(String)
    case append(String)
    case suffix(remove: String, add: String)
    case capitalize
    case lowercase

    public var description: String {
        switch self {
        case .keep: return "$KEEP"
        case .delete: return "$DELETE"
        case let .replace(w): return "$REPLACE_" + w
        case let .append(w): return "$APPEND_" + w
        case let .suffix(r, a): return "$SUFFIX_-\(r)+\(a)"
        case .capitalize: return "$CASE_CAPITAL"
        case .lowercase: return "$CASE_LOWER"
        }
    }

    /// Parses a label; nil for anything else.
    public init?(label: String) {
        if label == "$KEEP" { self = .keep } else if label == "$DELETE" { self = .delete }
        else if label == "$CASE_CAPITAL" { self = .capitalize } else if label == "$CASE_LOWER" { self = .lowercase }
        else if label.hasPrefix("$REPLACE_"), label.count > 9 { self = .replace(String(label.dropFirst(9))) }
        else if label.hasPrefix("$APPEND_"), label.count > 8 { self = .append(String(label.dropFirst(8))) }
        else if label.hasPrefix("$SUFFIX_-"), let plus = label.dropFirst(9).firstIndex(of: "+") {
            let r = String(label[label.index(label.startIndex, offsetBy: 9)..<plus]), a = String(label[label.index(after: plus)...])
            guard r != a, Self.isSuffix(r), Self.isSuffix(a) else { return nil }
            self = .suffix(remove: r, add: a)
        } else { return nil }
    }

    static func isSuffix(_ s: String) -> Bool { s.count <= 3 && s.allSatisfy(\.isLetter) }

    /// The token this tag makes of `token` (nil for keep/delete/append, which do not rewrite it).
    /// A suffix transform whose suffix is absent, or a case transform with nothing to change,
    /// leaves the token as it is.
    public func rewrite(_ token: String) -> String? {
        switch self {
        case let .suffix(r, a):
            guard token.hasSuffix(r), token.count > r.count else { return token }
            return String(token.dropLast(r.count)) + a
        case .capitalize:
            guard let f = token.first else { return token }
            return f.uppercased() + token.dropFirst()
        case .lowercase:
            guard let f = token.first else { return token }
            return f.lowercased() + token.dropFirst()
        default: return nil
        }
    }

    /// The transform that turns `source` into `target`, if one does: a first-letter case change,
    /// else a suffix change keeping a stem of at least 2 characters.
    public static func transform(from source: String, to target: String) -> GECTag? {
        let s = Array(source), t = Array(target)
        guard !s.isEmpty, !t.isEmpty, !GECTokens.same(source, target) else { return nil }
        if s.count == t.count, s.dropFirst().elementsEqual(t.dropFirst()), s[0] != t[0] {
            if String(s[0]).uppercased() == String(t[0]), String(s[0]) != String(t[0]) { return .capitalize }
            if String(s[0]).lowercased() == String(t[0]), String(s[0]) != String(t[0]) { return .lowercase }
        }
        var stem = 0
        while stem < min(s.count, t.count), s[stem] == t[stem] { stem += 1 }
        guard stem >= 2 else { return nil }
        let r = String(s[stem...]), a = String(t[stem...])
        guard isSuffix(r), isSuffix(a) else { return nil }
        let tag = GECTag.suffix(remove: r, add: a)
        // Exact only: the rewrite must give the target back code point for code point.
        return tag.rewrite(source).map { GECTokens.same($0, target) } == true ? tag : nil
    }
}

/// Turning a (source, correction) pair into one tag per slot and back.
///
/// Slots: 0 is the start (before the first token; the tagger reads it at `[CLS]`), slot i+1 is
/// source token i. Targets come from the unit-cost alignment (`EditExtraction.align`): a
/// matched token keeps, a substituted one is replaced, a deleted one deleted, and inserted
/// words are appended to the slot before them. One tag per slot holds everything: keep + insert
/// = `APPEND`, delete + insert = `REPLACE` by the inserted words, replace + insert = `REPLACE` by
/// both. A lone one-word replacement that a transform expresses becomes that transform (case
/// first, then suffix). So `apply(tags(s, t), s) == t` for every pair.
public enum GECTagging {
    /// `transforms: false` writes every rewrite as `REPLACE` (the tag set without transforms).
    public static func tags(source: [String], target: [String], transforms: Bool = true) -> [GECTag] {
        var own = [GECTag](repeating: .keep, count: source.count + 1)
        var appended = [[String]](repeating: [], count: source.count + 1)
        var slot = 0
        for op in EditExtraction.align(source, target).ops {
            switch op.op {
            case "M": slot = op.oStart + 1
            case "S": slot = op.oStart + 1; own[slot] = .replace(target[op.cStart])
            case "D": slot = op.oStart + 1; own[slot] = .delete
            default: appended[slot].append(target[op.cStart])
            }
        }
        return (0...source.count).map { i in
            let extra = appended[i].joined(separator: " ")
            switch (own[i], extra.isEmpty) {
            case let (.replace(w), true):
                return transforms && i > 0 ? GECTag.transform(from: source[i - 1], to: w) ?? own[i] : own[i]
            case (_, true): return own[i]
            case (.keep, false): return .append(extra)
            case (.delete, false): return .replace(extra)
            case let (.replace(w), false): return .replace(w + " " + extra)
            case (.append, false), (.suffix, false), (.capitalize, false), (.lowercase, false): return .append(extra)
            }
        }
    }

    /// The corrected tokens: `tags` has one tag per slot (`source.count + 1`); a missing or
    /// start-slot tag other than keep/append counts as keep.
    public static func apply(_ tags: [GECTag], to source: [String]) -> [String] {
        var out: [String] = []
        if case let .append(w)? = tags.first { out += GECTokens.split(w) }
        for (i, t) in source.enumerated() {
            switch i + 1 < tags.count ? tags[i + 1] : .keep {
            case .keep: out.append(t)
            case .delete: break
            case let .replace(w): out += GECTokens.split(w)
            case let .append(w): out.append(t); out += GECTokens.split(w)
            case let tag: out.append(tag.rewrite(t) ?? t)
            }
        }
        return out
    }
}

/// The tag set of a tagger: `$KEEP`, `$DELETE`, then the most frequent `REPLACE`/`APPEND` tags
/// of the training pairs (GECToR builds its vocabulary the same way). Ties in frequency are
/// broken by label text so the set is the same on every run.
public struct GECTagVocabulary: Sendable, Equatable {
    public let labels: [String]
    /// Whether training targets use the suffix/case transforms (else `REPLACE`).
    public let transforms: Bool
    private let index: [String: Int]

    public init(labels: [String], transforms: Bool = true) {
        self.labels = labels
        self.transforms = transforms
        var idx: [String: Int] = [:]
        for (i, l) in labels.enumerated() where idx[l] == nil { idx[l] = i }
        index = idx
    }

    /// The vocabulary of at most `maxTags` tags from training pairs (token lists), leaving out
    /// tags seen fewer than `minCount` times: a `$REPLACE_w` that occurs once (most misspellings
    /// and noun-number changes) cannot be learned, and as a target it only teaches the head to
    /// memorise one token; left out, its tokens get no label at all (not `$KEEP`).
    public static func build(pairs: [(source: [String], target: [String])], maxTags: Int, transforms: Bool = true,
                             minCount: Int = 1) -> GECTagVocabulary {
        var counts: [String: Int] = [:]
        for p in pairs {
            for t in GECTagging.tags(source: p.source, target: p.target, transforms: transforms) where t != .keep && t != .delete {
                counts[t.description, default: 0] += 1
            }
        }
        let ranked = counts.filter { $0.value >= minCount }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
        return GECTagVocabulary(labels: ["$KEEP", "$DELETE"] + ranked.prefix(max(maxTags - 2, 0)), transforms: transforms)
    }

    public var count: Int { labels.count }
    public static let keepID = 0
    public func id(of tag: GECTag) -> Int? { index[tag.description] }
    public func tag(_ id: Int) -> GECTag { labels.indices.contains(id) ? GECTag(label: labels[id]) ?? .keep : .keep }
}

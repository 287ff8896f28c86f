/// One edit tag of the GECToR-style tagger, attached to a source token (or to the start slot
/// before the first token, which can only keep or append).
///
/// Labels are written as GECToR does: `$KEEP`, `$DELETE`, `$REPLACE_w`, `$APPEND_w`; `w` may
/// hold several space-separated words (a tag then rewrites or inserts a short phrase).
public enum GECTag: Hashable, Sendable, CustomStringConvertible {
    case keep
    case delete
    case replace(String)
    case append(String)

    public var description: String {
        switch self {
        case .keep: return "$KEEP"
        case .delete: return "$DELETE"
        case let .replace(w): return "$REPLACE_" + w
        case let .append(w): return "$APPEND_" + w
        }
    }

    /// Parses a label; nil for anything else.
    public init?(label: String) {
        if label == "$KEEP" { self = .keep } else if label == "$DELETE" { self = .delete }
        else if label.hasPrefix("$REPLACE_"), label.count > 9 { self = .replace(String(label.dropFirst(9))) }
        else if label.hasPrefix("$APPEND_"), label.count > 8 { self = .append(String(label.dropFirst(8))) }
        else { return nil }
    }
}

/// Turning a (source, correction) pair into one tag per slot and back.
///
/// Slots: 0 is the start (before the first token; the tagger reads it at `[CLS]`), slot i+1 is
/// source token i. Targets come from the unit-cost alignment (`EditExtraction.align`): a
/// matched token keeps, a substituted one is replaced, a deleted one deleted, and inserted
/// words are appended to the slot before them. One tag per slot holds everything: keep + insert
/// = `APPEND`, delete + insert = `REPLACE` by the inserted words, replace + insert = `REPLACE` by
/// both. So `apply(tags(s, t), s) == t` for every pair.
public enum GECTagging {
    public static func tags(source: [String], target: [String]) -> [GECTag] {
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
            case (_, true): return own[i]
            case (.keep, false): return .append(extra)
            case (.delete, false): return .replace(extra)
            case let (.replace(w), false): return .replace(w + " " + extra)
            case (.append, false): return .append(extra)
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
    private let index: [String: Int]

    public init(labels: [String]) {
        self.labels = labels
        var idx: [String: Int] = [:]
        for (i, l) in labels.enumerated() where idx[l] == nil { idx[l] = i }
        index = idx
    }

    /// The vocabulary of at most `maxTags` tags from training pairs (token lists).
    public static func build(pairs: [(source: [String], target: [String])], maxTags: Int) -> GECTagVocabulary {
        var counts: [String: Int] = [:]
        for p in pairs {
            for t in GECTagging.tags(source: p.source, target: p.target) where t != .keep && t != .delete {
                counts[t.description, default: 0] += 1
            }
        }
        let ranked = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
        return GECTagVocabulary(labels: ["$KEEP", "$DELETE"] + ranked.prefix(max(maxTags - 2, 0)))
    }

    public var count: Int { labels.count }
    public static let keepID = 0
    public func id(of tag: GECTag) -> Int? { index[tag.description] }
    public func tag(_ id: Int) -> GECTag { labels.indices.contains(id) ? GECTag(label: labels[id]) ?? .keep : .keep }
}

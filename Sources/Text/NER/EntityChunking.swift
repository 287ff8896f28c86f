/// An entity span inside one sentence: `[start, end)` token indices, end exclusive.
public struct EntitySpan: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var start: Int
    public var end: Int

    public init(type: String, start: Int, end: Int) {
        self.type = type
        self.start = start
        self.end = end
    }

    public var description: String { "\(type)[\(start),\(end))" }
}

/// How entities are read off a tag sequence.
public enum EntityMode: Sendable, Equatable {
    /// seqeval's default (conlleval-like): accepts IOB1, IOB2 and IOBES prefixes; an `I-X` after
    /// `O` or after another type starts an entity; a type change ends one.
    case lenient
    /// seqeval `mode='strict'`: only well-formed entities of the scheme count.
    case strict(StrictScheme)
}

/// Schemes for strict entity extraction.
public enum StrictScheme: String, Sendable, Equatable {
    /// Only `B-X (I-X)*` is an entity; `E-`/`S-` tags are an error.
    case iob2
    /// Only `S-X` and `B-X (I-X)* E-X` are entities.
    case iobes
}

/// Errors from entity extraction and scoring.
public enum EntityMetricsError: Error, CustomStringConvertible, Equatable {
    case invalidTag(tag: String, scheme: StrictScheme)
    case sentenceCountMismatch(gold: Int, predicted: Int)
    case lengthMismatch(sentence: Int, gold: Int, predicted: Int)

    public var description: String {
        switch self {
        case let .invalidTag(tag, scheme):
            let allowed = scheme == .iob2 ? "B, I, O" : "B, I, E, S, O"
            return "invalid tag '\(tag)' for strict \(scheme.rawValue.uppercased()) (allowed prefixes: \(allowed)); score in lenient mode or convert the tags first"
        case let .sentenceCountMismatch(gold, predicted):
            return "\(gold) gold sentences but \(predicted) predicted; predictions must cover every sentence"
        case let .lengthMismatch(sentence, gold, predicted):
            return "sentence \(sentence + 1): \(gold) gold tags but \(predicted) predicted; predictions must have one tag per token"
        }
    }
}

/// Entity extraction from tag sequences, equal to seqeval 1.2.2.
public enum EntityChunker {
    /// Entities of one sentence in the given mode.
    public static func entities(_ tags: [String], mode: EntityMode) throws -> [EntitySpan] {
        switch mode {
        case .lenient: return lenient(tags)
        case let .strict(scheme): return try strict(tags, scheme: scheme)
        }
    }

    // MARK: Lenient (seqeval default)

    /// seqeval's reading of a tag: the first character is the prefix; the type is what follows the
    /// first hyphen after it (or the rest when there is none), `_` when empty.
    static func split(_ tag: String) -> (prefix: Character, type: String) {
        guard let first = tag.first else { return ("O", "_") }
        let rest = tag.dropFirst()
        let type = rest.firstIndex(of: "-").map { rest[rest.index(after: $0)...] } ?? rest
        return (first, type.isEmpty ? "_" : String(type))
    }

    /// Lenient chunking: scans the tags plus a closing `O`, ending and starting chunks at the
    /// boundaries seqeval (and conlleval) recognise.
    public static func lenient(_ tags: [String]) -> [EntitySpan] {
        var out: [EntitySpan] = []
        var prev: (prefix: Character, type: String) = ("O", "")
        var begin = 0
        for i in 0...tags.count {
            let cur = i < tags.count ? split(tags[i]) : ("O", "_")
            if lenientEnds(prev: prev, cur: cur) { out.append(EntitySpan(type: prev.type, start: begin, end: i)) }
            if lenientStarts(prev: prev, cur: cur) { begin = i }
            prev = cur
        }
        return out
    }

    /// A chunk ended just before `cur`: after an E/S; at B/S/O after B/I; or at a type change
    /// while inside a chunk.
    private static func lenientEnds(prev: (prefix: Character, type: String), cur: (prefix: Character, type: String)) -> Bool {
        switch (prev.prefix, cur.prefix) {
        case ("E", _), ("S", _): return true
        case ("B", "B"), ("B", "S"), ("B", "O"), ("I", "B"), ("I", "S"), ("I", "O"): return true
        default: return prev.prefix != "O" && prev.prefix != "." && prev.type != cur.type
        }
    }

    /// A chunk starts at `cur`: at B/S; at I/E after E/S/O; or at a type change on a non-O tag.
    private static func lenientStarts(prev: (prefix: Character, type: String), cur: (prefix: Character, type: String)) -> Bool {
        switch (prev.prefix, cur.prefix) {
        case (_, "B"), (_, "S"): return true
        case ("E", "E"), ("E", "I"), ("S", "E"), ("S", "I"), ("O", "E"), ("O", "I"): return true
        default: return cur.prefix != "O" && cur.prefix != "." && prev.type != cur.type
        }
    }

    // MARK: Strict (seqeval mode='strict')

    private struct StrictTag {
        let prefix: Character
        let type: String
    }

    /// Strict chunking: an entity starts at a start pattern, extends over inside patterns, and
    /// counts only when the token after it forms an end pattern with its last token.
    public static func strict(_ tags: [String], scheme: StrictScheme) throws -> [EntitySpan] {
        let allowed: Set<Character> = scheme == .iob2 ? ["B", "I", "O"] : ["B", "I", "E", "S", "O"]
        var seq: [StrictTag] = []
        seq.reserveCapacity(tags.count + 1)
        for t in tags {
            guard let p = t.first, allowed.contains(p) else { throw EntityMetricsError.invalidTag(tag: t, scheme: scheme) }
            // seqeval strips hyphens around the rest: "B-PER" → "PER".
            let type = String(t.dropFirst()).trimmingHyphens()
            seq.append(StrictTag(prefix: p, type: type.isEmpty ? "_" : type))
        }
        seq.append(StrictTag(prefix: "O", type: "_"))

        func isStart(_ prev: StrictTag, _ cur: StrictTag) -> Bool {
            scheme == .iob2 ? cur.prefix == "B" : (cur.prefix == "B" || cur.prefix == "S")
        }
        func isInside(_ prev: StrictTag, _ cur: StrictTag) -> Bool {
            guard prev.type == cur.type else { return false }
            switch scheme {
            case .iob2: return (prev.prefix == "B" || prev.prefix == "I") && cur.prefix == "I"
            case .iobes: return (prev.prefix == "B" || prev.prefix == "I") && (cur.prefix == "I" || cur.prefix == "E")
            }
        }
        func isEnd(_ prev: StrictTag, _ cur: StrictTag) -> Bool {
            switch scheme {
            case .iob2:
                // Any B/I followed by O, B, or an I of another type closes the entity.
                guard prev.prefix == "B" || prev.prefix == "I" else { return false }
                return cur.prefix == "O" || cur.prefix == "B" || (cur.prefix == "I" && cur.type != prev.type)
            case .iobes:
                return prev.prefix == "E" || prev.prefix == "S"
            }
        }

        var out: [EntitySpan] = []
        var prev = StrictTag(prefix: "O", type: "_")
        var i = 0
        while i < seq.count {
            if isStart(prev, seq[i]) {
                var end = i + 1
                var last = seq[i]
                while end < seq.count && isInside(last, seq[end]) { last = seq[end]; end += 1 }
                if end < seq.count && isEnd(seq[end - 1], seq[end]) {
                    out.append(EntitySpan(type: seq[i].type, start: i, end: end))
                }
                i = end
            } else {
                i += 1
            }
            prev = seq[i - 1]
        }
        return out
    }
}

private extension String {
    func trimmingHyphens() -> String {
        var s = Substring(self)
        while s.first == "-" { s = s.dropFirst() }
        while s.last == "-" { s = s.dropLast() }
        return String(s)
    }
}

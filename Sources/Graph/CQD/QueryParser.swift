/// A small readable syntax for `Query`, where a relation applied to a set gives the set of
/// its objects:
///
/// ```
/// r(e)                    {y : r(e, y)}                               1p
/// r2(r1(e))               ∃x . r1(e, x) ∧ r2(x, y)                    2p
/// r1(a) & r2(b)           r1(a, y) ∧ r2(b, y)                         2i
/// r3(r1(a) & r2(b))       ∃x . r1(a, x) ∧ r2(b, x) ∧ r3(x, y)         ip
/// r3(r1(a) | r2(b))       union before the hop                        up
/// r1(a) & !r2(b)          r1(a, y) ∧ ¬r2(b, y)                        2in
/// r^-1(e)                 the inverse relation: {y : r(y, e)}
/// ```
///
/// `&`/`and`, `|`/`or`, `!`/`not`, parentheses group; `&` binds tighter than `|`. Names are runs
/// of characters other than spaces and `()&|!^"`, or double-quoted strings (for names with
/// spaces); a name followed by `(` is a relation, otherwise an entity.
public struct QueryParser {
    public let entities: Vocabulary
    public let relations: Vocabulary

    public init(entities: Vocabulary, relations: Vocabulary) {
        self.entities = entities
        self.relations = relations
    }

    public init(_ data: KGDataset) { self.init(entities: data.entities, relations: data.relations) }

    /// Parses `text`; errors name the character position and what was expected.
    public func parse(_ text: String) throws -> Query {
        var p = Cursor(chars: Array(text), entities: entities, relations: relations)
        let q = try p.parseOr()
        p.skipSpace()
        if p.pos < p.chars.count { throw p.error("unexpected '\(p.chars[p.pos])'; expected '&', '|' or the end") }
        try q.validate(entityCount: entities.count, relationCount: relations.count)
        return q
    }

    /// Writes `query` back in this syntax with names (quoting names that need it).
    public func format(_ query: Query) -> String {
        func name(_ s: String) -> String {
            let special = Set(" ()&|!^\"\t")
            let keyword = ["and", "or", "not"].contains(s.lowercased())
            return s.contains(where: { special.contains($0) }) || keyword || s.isEmpty ? "\"\(s)\"" : s
        }
        func go(_ q: Query, top: Bool) -> String {
            switch q {
            case let .entity(e): return name(entities.name(e))
            case let .project(sub, r):
                let rel = r < relations.count ? name(relations.name(r)) : name(relations.name(r - relations.count)) + "^-1"
                return "\(rel)(\(go(sub, top: true)))"
            case let .and(qs): let s = qs.map { go($0, top: false) }.joined(separator: " & "); return top ? s : "(\(s))"
            case let .or(qs): let s = qs.map { go($0, top: false) }.joined(separator: " | "); return top ? s : "(\(s))"
            case let .not(sub): return "!" + go(sub, top: false)
            }
        }
        return go(query, top: true)
    }
}

private struct Cursor {
    let chars: [Character]
    let entities: Vocabulary
    let relations: Vocabulary
    var pos = 0

    func error(_ what: String) -> GraphDataError {
        GraphDataError("query: at character \(pos + 1): \(what)")
    }

    mutating func skipSpace() { while pos < chars.count && chars[pos].isWhitespace { pos += 1 } }

    mutating func take(_ c: Character) -> Bool {
        skipSpace()
        if pos < chars.count && chars[pos] == c { pos += 1; return true }
        return false
    }

    /// Consumes a keyword (`and`, `or`, `not`) when it stands alone as a word.
    mutating func takeWord(_ w: String) -> Bool {
        skipSpace()
        let save = pos
        if let (name, quoted) = try? readName(), !quoted, name.lowercased() == w { return true }
        pos = save
        return false
    }

    mutating func parseOr() throws -> Query {
        var parts = [try parseAnd()]
        while take("|") || takeWord("or") { parts.append(try parseAnd()) }
        return parts.count == 1 ? parts[0] : .or(parts)
    }

    mutating func parseAnd() throws -> Query {
        var parts = [try parseUnary()]
        while take("&") || takeWord("and") { parts.append(try parseUnary()) }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    mutating func parseUnary() throws -> Query {
        if take("!") || takeWord("not") { return .not(try parseUnary()) }
        if take("(") {
            let q = try parseOr()
            guard take(")") else { throw error("expected ')'") }
            return q
        }
        skipSpace()
        let start = pos
        guard pos < chars.count else { throw error("unexpected end of query; expected a relation or an entity") }
        let (name, _) = try readName()
        skipSpace()
        var inverse = false
        if pos < chars.count && chars[pos] == "^" {
            guard pos + 2 < chars.count && chars[pos + 1] == "-" && chars[pos + 2] == "1" else {
                throw error("'^' must be followed by -1 (inverse relation, e.g. r^-1(e))")
            }
            pos += 3
            inverse = true
        }
        if take("(") {
            guard let r = relations.id(name) else {
                pos = start
                throw error("unknown relation '\(name)'\(suggest(name, relations))")
            }
            let inner = try parseOr()
            guard take(")") else { throw error("expected ')' closing \(name)(…)") }
            return .project(inner, inverse ? r + relations.count : r)
        }
        if inverse { throw error("'\(name)^-1' must be applied to something, e.g. \(name)^-1(e)") }
        guard let e = entities.id(name) else {
            pos = start
            throw error("unknown entity '\(name)'\(suggest(name, entities))")
        }
        return .entity(e)
    }

    mutating func readName() throws -> (String, Bool) {
        guard pos < chars.count else { throw error("unexpected end of query; expected a relation or an entity") }
        if chars[pos] == "\"" {
            var s = ""
            pos += 1
            while pos < chars.count && chars[pos] != "\"" { s.append(chars[pos]); pos += 1 }
            guard pos < chars.count else { throw error("unterminated quoted name") }
            pos += 1
            return (s, true)
        }
        let stop = Set(" \t\n()&|!^\"")
        var s = ""
        while pos < chars.count && !stop.contains(chars[pos]) { s.append(chars[pos]); pos += 1 }
        guard !s.isEmpty else {
            throw error(pos < chars.count ? "unexpected '\(chars[pos])'; expected a relation or an entity name" : "unexpected end of query")
        }
        return (s, false)
    }

    /// A "did you mean" hint from names sharing a prefix (cheap, no edit distance).
    func suggest(_ name: String, _ vocab: Vocabulary) -> String {
        let lower = name.lowercased()
        let near = vocab.names.filter { $0.lowercased().hasPrefix(String(lower.prefix(3))) }.prefix(3)
        return near.isEmpty ? "" : " (did you mean \(near.joined(separator: ", "))?)"
    }
}

/// The readable first-order form of a query, as papers write them:
///
/// ```
/// ?y : r1(a, y)                                                        1p
/// ?y : exists x . r1(a, x) and r2(x, y)                                2p
/// ?y : exists x . r1(a, x) and r2(b, x) and r3(x, y)                   ip
/// ?y : exists x . (r1(a, x) or r2(b, x)) and r3(x, y)                  up
/// ?y : r3(b, y) and not (exists x . r1(a, x) and r2(x, y))             pni
/// ?y : exists x . r1(e1, x) and r2(x, y) and not r3(e2, y)             pin
/// ```
///
/// `?v :` (or `?v .`) names the answer variable; `exists`/`∃` introduces variables (several:
/// `exists x, z .`) and reaches as far right as possible; `and`/`&`/`∧`, `or`/`|`/`∨`,
/// `not`/`!`/`¬`; `not` binds tightest, then `and`, then `or`. An atom is `relation(term, term)`
/// where a term is a declared variable or an entity name (double quotes force an entity name,
/// e.g. `"x"` or `"New York"`). Names may contain dots (`dog.n.01`) but not end with one.
///
/// The formula must be tree-shaped, as CQD requires: starting from the answer variable every
/// atom is reached exactly once. It becomes the same `Query` tree the functional syntax gives
/// (`r2(r1(a))` ≡ `?y : exists x . r1(a, x) and r2(x, y)`).
public struct FirstOrderQueryParser {
    public let entities: Vocabulary
    public let relations: Vocabulary

    public init(entities: Vocabulary, relations: Vocabulary) {
        self.entities = entities
        self.relations = relations
    }

    /// Parses `text`; errors name the character position and what was expected.
    public func parse(_ text: String) throws -> Query {
        var p = try FOLParser(text)
        let (target, formula) = try p.parseQuery()
        let q = try FOLTranslator(entities: entities, relations: relations).translate(formula, target: target)
        try q.validate(entityCount: entities.count, relationCount: relations.count)
        return q
    }

    /// Writes `query` in the first-order form (answer variable `y`, others `x1`, `x2`, …).
    public func format(_ query: Query) -> String {
        var counter = 0
        func name(_ s: String) -> String {
            let plain = !s.isEmpty && s.allSatisfy { !FOLLexer.stop.contains($0) && !$0.isWhitespace } && !s.hasSuffix(".")
                && !FOLLexer.keywords.contains(s.lowercased()) && !(s.first == "x" && Int(s.dropFirst()) != nil) && s != "y"
            return plain ? s : "\"" + s + "\""
        }
        func atom(_ r: Int, _ from: String, _ to: String) -> String {
            r < relations.count ? "\(name(relations.name(r)))(\(from), \(to))"
                : "\(name(relations.name(r - relations.count)))(\(to), \(from))"
        }
        // Returns the formula, the existential variables it needs declared above it, and its
        // precedence (3 atom/not, 2 and, 1 or).
        func go(_ q: Query, _ v: String) -> (String, [String], Int) {
            switch q {
            case .entity(let e): return (name(entities.name(e)), [], 3)  // not reached for valid queries
            case let .project(.entity(e), r): return (atom(r, name(entities.name(e)), v), [], 3)
            case let .project(sub, r):
                counter += 1
                let x = "x\(counter)"
                let (s, vs, p) = go(sub, x)
                return ((p < 2 ? "(\(s))" : s) + " and " + atom(r, x, v), vs + [x], 2)
            case let .and(qs):
                let parts = qs.map { go($0, v) }
                return (parts.map { $0.2 < 2 ? "(\($0.0))" : $0.0 }.joined(separator: " and "), parts.flatMap(\.1), 2)
            case let .or(qs):
                // Each disjunct declares its own variables (∃ distributes over ∨).
                let parts = qs.map { go($0, v) }.map { (s, vs, p) in
                    vs.isEmpty ? (p == 2 ? "(\(s))" : s) : "(exists \(vs.joined(separator: ", ")) . \(s))"
                }
                return (parts.joined(separator: " or "), [], 1)
            case let .not(sub):
                let (s, vs, p) = go(sub, v)
                if !vs.isEmpty { return ("not (exists \(vs.joined(separator: ", ")) . \(s))", [], 3) }
                return (p == 3 ? "not \(s)" : "not (\(s))", [], 3)
            }
        }
        let (s, vs, _) = go(query, "y")
        return "?y : " + (vs.isEmpty ? s : "exists \(vs.joined(separator: ", ")) . \(s)")
    }
}

extension QueryParser {
    /// Parses either syntax: text starting with `?` is first-order (`?y : r(e, y)`), anything
    /// else the functional form (`r(e)`).
    public func parseAny(_ text: String) throws -> Query {
        if text.drop(while: \.isWhitespace).first == "?" {
            return try FirstOrderQueryParser(entities: entities, relations: relations).parse(text)
        }
        return try parse(text)
    }
}

// MARK: - Syntax tree

/// A term with the character position (0-based) where it starts.
struct FOLTerm {
    enum Kind { case variable(String), entity(String) }
    let kind: Kind
    let pos: Int
}

indirect enum FOLFormula {
    case atom(relation: String, args: [FOLTerm], pos: Int)
    case and([FOLFormula])
    case or([FOLFormula])
    case not(FOLFormula, pos: Int)
    case exists([String], FOLFormula, pos: Int)

    var pos: Int {
        switch self {
        case let .atom(_, _, p), let .not(_, p), let .exists(_, _, p): p
        case let .and(fs), let .or(fs): fs[0].pos
        }
    }

    /// Variables occurring free.
    var freeVariables: Set<String> {
        switch self {
        case let .atom(_, args, _):
            Set(args.compactMap { if case let .variable(v) = $0.kind { v } else { nil } })
        case let .and(fs), let .or(fs): fs.reduce(into: Set<String>()) { $0.formUnion($1.freeVariables) }
        case let .not(f, _): f.freeVariables
        case let .exists(vs, f, _): f.freeVariables.subtracting(vs)
        }
    }
}

func folError(_ pos: Int, _ what: String) -> GraphDataError {
    GraphDataError("query: at character \(pos + 1): \(what)")
}

// MARK: - Lexer and parser

enum FOLToken: Equatable {
    case question, colon, dot, comma, lparen, rparen, and, or, not, exists, end
    case name(String, quoted: Bool)
}

struct FOLLexer {
    static let stop = Set("()&|!,:?\"∧∨¬∃~")
    static let keywords: Set<String> = ["and", "or", "not", "exists"]
    let chars: [Character]
    var pos = 0

    /// The next token and where it starts.
    mutating func next() throws -> (FOLToken, Int) {
        while pos < chars.count && chars[pos].isWhitespace { pos += 1 }
        let start = pos
        guard pos < chars.count else { return (.end, start) }
        let c = chars[pos]
        pos += 1
        switch c {
        case "?": return (.question, start)
        case ":": return (.colon, start)
        case ".": return (.dot, start)
        case ",": return (.comma, start)
        case "(": return (.lparen, start)
        case ")": return (.rparen, start)
        case "&", "∧": return (.and, start)
        case "|", "∨": return (.or, start)
        case "!", "¬", "~": return (.not, start)
        case "∃": return (.exists, start)
        case "\"":
            var s = ""
            while pos < chars.count && chars[pos] != "\"" { s.append(chars[pos]); pos += 1 }
            guard pos < chars.count else { throw folError(start, "unterminated quoted name") }
            pos += 1
            return (.name(s, quoted: true), start)
        default:
            var s = String(c)
            while pos < chars.count && !FOLLexer.stop.contains(chars[pos]) && !chars[pos].isWhitespace {
                s.append(chars[pos])
                pos += 1
            }
            // A trailing dot ends the name ("exists x. r(x, y)"); names never end with one.
            while s.count > 1 && s.hasSuffix(".") { s.removeLast(); pos -= 1 }
            switch s.lowercased() {
            case "and": return (.and, start)
            case "or": return (.or, start)
            case "not": return (.not, start)
            case "exists": return (.exists, start)
            default: return (.name(s, quoted: false), start)
            }
        }
    }
}

struct FOLParser {
    var tokens: [(FOLToken, Int)] = []
    var i = 0

    /// Splits `text` into tokens (a lexical error, e.g. an unterminated quote, throws here).
    init(_ text: String) throws {
        var lexer = FOLLexer(chars: Array(text))
        repeat { tokens.append(try lexer.next()) } while tokens.last!.0 != .end
    }

    var scopes: [Set<String>] = []

    var peek: FOLToken { tokens[i].0 }
    var here: Int { tokens[i].1 }

    func describe(_ t: FOLToken) -> String {
        switch t {
        case .end: "the end of the query"
        case let .name(s, _): "'\(s)'"
        case .question: "'?'"
        case .colon: "':'"
        case .dot: "'.'"
        case .comma: "','"
        case .lparen: "'('"
        case .rparen: "')'"
        case .and: "'and'"
        case .or: "'or'"
        case .not: "'not'"
        case .exists: "'exists'"
        }
    }

    mutating func expect(_ t: FOLToken, _ what: String) throws {
        guard peek == t else { throw folError(here, "expected \(what), found \(describe(peek))") }
        i += 1
    }

    mutating func variableName(_ role: String) throws -> String {
        guard case let .name(v, quoted) = peek, !quoted else {
            throw folError(here, "expected a variable name after \(role), found \(describe(peek))")
        }
        i += 1
        return v
    }

    mutating func parseQuery() throws -> (String, FOLFormula) {
        try expect(.question, "'?' and the answer variable, e.g. ?y : r(e, y)")
        let target = try variableName("'?'")
        guard peek == .colon || peek == .dot else {
            throw folError(here, "expected ':' after ?\(target), found \(describe(peek))")
        }
        i += 1
        scopes = [[target]]
        let f = try parseOr()
        guard peek == .end else {
            throw folError(here, "unexpected \(describe(peek)); expected 'and', 'or', ')' or the end")
        }
        return (target, f)
    }

    mutating func parseOr() throws -> FOLFormula {
        var parts = [try parseAnd()]
        while peek == .or { i += 1; parts.append(try parseAnd()) }
        return parts.count == 1 ? parts[0] : .or(parts)
    }

    mutating func parseAnd() throws -> FOLFormula {
        var parts = [try parseUnary()]
        while peek == .and { i += 1; parts.append(try parseUnary()) }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    mutating func parseUnary() throws -> FOLFormula {
        let start = here
        switch peek {
        case .not:
            i += 1
            return .not(try parseUnary(), pos: start)
        case .exists:
            i += 1
            var vars: [String] = []
            repeat {
                if !vars.isEmpty { i += 1 }  // the comma
                let vpos = here
                let v = try variableName("'exists'")
                if scopes.contains(where: { $0.contains(v) }) || vars.contains(v) {
                    throw folError(vpos, "variable '\(v)' is already declared; use a new name")
                }
                vars.append(v)
            } while peek == .comma
            try expect(.dot, "'.' after the variables of 'exists'")
            scopes.append(Set(vars))
            defer { scopes.removeLast() }
            return .exists(vars, try parseOr(), pos: start)
        case .lparen:
            i += 1
            let f = try parseOr()
            try expect(.rparen, "')'")
            return f
        case let .name(rel, _):
            i += 1
            guard peek == .lparen else {
                throw folError(here, "expected '(' after relation '\(rel)' (atoms are relation(term, term)), found \(describe(peek))")
            }
            i += 1
            var args: [FOLTerm] = []
            repeat {
                if !args.isEmpty { i += 1 }
                guard case let .name(s, quoted) = peek else {
                    throw folError(here, "expected a variable or an entity name, found \(describe(peek))")
                }
                let isVar = !quoted && scopes.contains { $0.contains(s) }
                args.append(FOLTerm(kind: isVar ? .variable(s) : .entity(s), pos: here))
                i += 1
            } while peek == .comma
            try expect(.rparen, "')' closing \(rel)(…)")
            guard args.count == 2 else {
                throw folError(start, "'\(rel)' has \(args.count) argument(s); atoms are binary: relation(subject, object)")
            }
            return .atom(relation: rel, args: args, pos: start)
        default:
            throw folError(here, "expected an atom relation(term, term), 'not', 'exists' or '(', found \(describe(peek))")
        }
    }
}

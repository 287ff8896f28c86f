/// Turns a parsed first-order formula into CQD's `Query` tree.
///
/// The answer variable's set is the intersection of one branch per conjunct that mentions it:
/// an atom with an entity gives a projection of that entity; an atom with another variable `x`
/// gives a projection of `x`'s own set (built the same way from the remaining conjuncts, so the
/// walk follows the tree outwards); `not φ` and `φ ∨ ψ` mentioning only that variable give a
/// complement / union of the sub-formula's set. Anything else (a cycle, a variable or atom
/// not connected to the answer, a negation over a variable quantified outside it) is not a
/// tree CQD can score and is reported with its position.
struct FOLTranslator {
    let entities: Vocabulary
    let relations: Vocabulary

    func translate(_ f: FOLFormula, target: String) throws -> Query {
        try checkNames(f, target)
        guard f.freeVariables.contains(target) else {
            throw folError(f.pos, "the formula never mentions the answer variable '\(target)'")
        }
        return try setOf(target, f, pushed: [])
    }

    /// A conjunct of a flattened conjunction, with the variables it mentions freely.
    private struct Conjunct {
        let formula: FOLFormula
        let free: Set<String>
    }

    /// `{v : f}` where `pushed` are variables quantified outside `f` but used only inside it
    /// (legal to move inward through ∧ and ∨, never through ¬).
    private func setOf(_ v: String, _ f: FOLFormula, pushed: [String]) throws -> Query {
        var conjuncts: [Conjunct] = []
        var locals: [(name: String, pos: Int)] = pushed.map { ($0, f.pos) }
        func flatten(_ g: FOLFormula) {
            switch g {
            case let .and(gs): gs.forEach(flatten)
            case let .exists(vs, body, pos):
                locals += vs.map { ($0, pos) }
                flatten(body)
            default: conjuncts.append(Conjunct(formula: g, free: g.freeVariables))
            }
        }
        flatten(f)
        let localNames = Set(locals.map(\.name))
        var used = [Bool](repeating: false, count: conjuncts.count)
        var visited: Set<String> = [v]

        // The set of `u`, reached through conjunct `via` (excluded).
        func branch(_ u: String, via: Int?) throws -> Query {
            var parts: [Query] = []
            for (i, c) in conjuncts.enumerated() where i != via && c.free.contains(u) {
                used[i] = true
                switch c.formula {
                case let .atom(relName, args, pos):
                    guard let r = relations.id(relName) else {
                        throw folError(pos, "unknown relation '\(relName)'\(suggestion(relName, relations))")
                    }
                    let (s, o) = (args[0], args[1])
                    let uIsSubject = isVar(s, u), uIsObject = isVar(o, u)
                    if uIsSubject && uIsObject {
                        throw folError(pos, "'\(relName)(\(u), \(u))' relates a variable to itself; CQD answers tree-shaped queries only")
                    }
                    let other = uIsObject ? s : o
                    let rel = uIsObject ? r : r + relations.count  // u as subject: ask the inverse
                    switch other.kind {
                    case let .entity(name):
                        guard let e = entities.id(name) else {
                            throw folError(other.pos, "unknown entity '\(name)'\(suggestion(name, entities))"
                                           + " (not a declared variable either: declare variables with ?\(u) or 'exists')")
                        }
                        parts.append(.project(.entity(e), rel))
                    case let .variable(w):
                        guard !visited.contains(w) else {
                            throw folError(pos, "the query has a cycle through '\(w)'; CQD answers tree-shaped queries only")
                        }
                        guard localNames.contains(w) else {
                            throw folError(other.pos, "'\(w)' is quantified outside this sub-formula; a negation must contain "
                                           + "the 'exists' of its own variables, e.g. not (exists x . r1(a, x) and r2(x, y))")
                        }
                        visited.insert(w)
                        parts.append(.project(try branch(w, via: i), rel))
                    }
                case let .not(g, pos):
                    let outer = c.free.subtracting([u])
                    if let w = outer.sorted().first {
                        throw folError(pos, "this negation mentions '\(u)' and '\(w)'; CQD negates the set of one variable — "
                                       + "move 'exists \(w) .' inside the negation if \(w) is only used there")
                    }
                    parts.append(.not(try setOf(u, g, pushed: [])))
                case let .or(gs):
                    // Variables quantified outside the disjunction but used nowhere else may move
                    // inside it (∃ distributes over ∨).
                    let outer = c.free.subtracting([u])
                    for w in outer.sorted() {
                        let elsewhere = conjuncts.indices.contains { $0 != i && conjuncts[$0].free.contains(w) }
                        guard localNames.contains(w), !elsewhere, !visited.contains(w) else {
                            throw folError(c.formula.pos, "this disjunction shares '\(w)' with the rest of the query; "
                                           + "CQD unites sets of one variable, e.g. ?y : r1(a, y) or r2(b, y)")
                        }
                        visited.insert(w)
                    }
                    parts.append(.or(try gs.map { g in
                        let inner = outer.filter { g.freeVariables.contains($0) }.sorted()
                        return try setOf(u, g, pushed: inner)
                    }))
                case .and, .exists:
                    preconditionFailure("flattened above")
                }
            }
            guard !parts.isEmpty else {
                throw folError(f.pos, "variable '\(u)' has no atom constraining it")
            }
            return parts.count == 1 ? parts[0] : .and(parts)
        }

        let q = try branch(v, via: nil)
        if let i = used.firstIndex(of: false) {
            let c = conjuncts[i]
            throw folError(c.formula.pos, c.free.isEmpty
                ? "this atom has no variable; every atom must mention a variable connected to the answer"
                : "this part is not connected to the answer variable '\(v)' (it mentions \(c.free.sorted().joined(separator: ", ")))")
        }
        for l in locals where !visited.contains(l.name) {
            throw folError(l.pos, "variable '\(l.name)' is declared but not connected to the answer variable '\(v)'")
        }
        return q
    }

    /// Unknown names are reported before any structural problem they might cause.
    private func checkNames(_ f: FOLFormula, _ target: String) throws {
        switch f {
        case let .atom(rel, args, pos):
            guard relations.id(rel) != nil else { throw folError(pos, "unknown relation '\(rel)'\(suggestion(rel, relations))") }
            for a in args {
                if case let .entity(name) = a.kind, entities.id(name) == nil {
                    throw folError(a.pos, "unknown entity '\(name)'\(suggestion(name, entities))"
                                   + " (not a declared variable either: declare variables with ?\(target) or 'exists')")
                }
            }
        case let .and(fs), let .or(fs): try fs.forEach { try checkNames($0, target) }
        case let .not(g, _), let .exists(_, g, _): try checkNames(g, target)
        }
    }

    private func isVar(_ t: FOLTerm, _ name: String) -> Bool {
        if case let .variable(v) = t.kind { return v == name }
        return false
    }

    private func suggestion(_ name: String, _ vocab: Vocabulary) -> String {
        let p = String(name.lowercased().prefix(3))
        let near = vocab.names.filter { $0.lowercased().hasPrefix(p) }.prefix(3)
        return near.isEmpty ? "" : " (did you mean \(near.joined(separator: ", "))?)"
    }
}

import Testing
@testable import Graph

/// The first-order syntax parses to exactly the tree the functional syntax gives for the same
/// query, formats back to itself, and rejects what CQD cannot answer with the position.
@Suite struct FirstOrderSyntaxTests {
    static let entities = Vocabulary(["a", "b", "c", "e1", "e2", "dog.n.01", "New York", "x"])
    static let relations = Vocabulary(["r1", "r2", "r3", "has_part"])
    let functional = QueryParser(entities: entities, relations: relations)
    let fol = FirstOrderQueryParser(entities: entities, relations: relations)

    /// One query per BetaE structure (plus inverses, unicode connectives, quoting), each written
    /// both ways. The functional form is the independent reference.
    static let pairs: [(String, String, String)] = [
        ("1p", "r1(a)", "?y : r1(a, y)"),
        ("1p", "r1^-1(a)", "?y : r1(y, a)"),
        ("2p", "r2(r1(a))", "?y : exists x . r1(a, x) and r2(x, y)"),
        ("3p", "r3(r2(r1(a)))", "?y : exists x, z . r1(a, x) and r2(x, z) and r3(z, y)"),
        ("3p", "r3(r2(r1(a)))", "?y: ∃x. ∃z. r1(a,x) ∧ r2(x,z) ∧ r3(z,y)"),
        ("2i", "r1(a) & r2(b)", "?y : r1(a, y) and r2(b, y)"),
        ("3i", "r1(a) & r2(b) & r3^-1(c)", "?y : r1(a, y) & r2(b, y) & r3(y, c)"),
        ("ip", "r3(r1(a) & r2(b))", "?y : exists x . r1(a, x) and r2(b, x) and r3(x, y)"),
        ("pi", "r2(r1(a)) & r3(b)", "?y : exists x . r1(a, x) and r2(x, y) and r3(b, y)"),
        ("2u", "r1(a) | r2(b)", "?y : r1(a, y) or r2(b, y)"),
        ("up", "r3(r1(a) | r2(b))", "?y : exists x . (r1(a, x) or r2(b, x)) and r3(x, y)"),
        ("2in", "r1(a) & !r2(b)", "?y : r1(a, y) and not r2(b, y)"),
        ("3in", "r1(a) & r2(b) & !r3(c)", "?y : r1(a, y) ∧ r2(b, y) ∧ ¬r3(c, y)"),
        ("inp", "r3(r1(a) & !r2(b))", "?y : exists x . r1(a, x) and not r2(b, x) and r3(x, y)"),
        ("pin", "r2(r1(e1)) & !r3(e2)", "?y : exists x . r1(e1, x) and r2(x, y) and not r3(e2, y)"),
        ("pni", "!r2(r1(a)) & r3(b)", "?y : not (exists x . r1(a, x) and r2(x, y)) and r3(b, y)"),
        // Names with dots, spaces, or spelled like a variable.
        ("1p", "has_part(dog.n.01)", "?y : has_part(dog.n.01, y)"),
        ("2i", "r1(\"New York\") & r2(x)", "?v . r1(\"New York\", v) and r2(\"x\", v)"),
        // A query written inside-out still means the same tree.
        ("2p", "r2(r1(a))", "?y : exists x . r2(x, y) and r1(a, x)"),
        // Prenex ∃ over a disjunction moves into the branch that uses it.
        ("other", "r2(r1(a)) | r3(b)", "?y : exists x . (r1(a, x) and r2(x, y)) or r3(b, y)"),
    ]

    @Test func equalsTheFunctionalSyntax() throws {
        for (structure, f, text) in Self.pairs {
            let expected = try functional.parse(f)
            let got = try fol.parse(text)
            #expect(got == expected, "\(text)")
            #expect((got.structureName ?? "other") == structure, "\(text)")
            #expect(try functional.parseAny(text) == expected)
        }
    }

    @Test func formatParsesBackToTheSameQuery() throws {
        for (_, f, _) in Self.pairs {
            let q = try functional.parse(f)
            let text = fol.format(q)
            #expect(try fol.parse(text) == q, "\(f) → \(text)")
        }
        // Spot checks of the printed form.
        #expect(fol.format(try functional.parse("r2(r1(e1)) & !r3(e2)"))
                == "?y : exists x1 . r1(e1, x1) and r2(x1, y) and not r3(e2, y)")
        #expect(fol.format(try functional.parse("!r2(r1(a)) & r3(b)"))
                == "?y : not (exists x1 . r1(a, x1) and r2(x1, y)) and r3(b, y)")
        #expect(fol.format(try functional.parse("r1(\"New York\")")) == "?y : r1(\"New York\", y)")
        // Only declared names are variables, so an entity called x needs no quotes.
        #expect(fol.format(try functional.parse("r1(x)")) == "?y : r1(x, y)")
    }

    /// Malformed or non-tree queries: the message names the (1-based) character position.
    @Test func errorsNameThePosition() {
        let cases: [(String, String)] = [
            ("r1(a, y)", "at character 1: expected '?'"),
            ("?y r1(a, y)", "at character 4: expected ':' after ?y"),
            ("?y : r1(a, y", "at character 13: expected ')' closing r1(…), found the end"),
            ("?y : r1(a y)", "at character 11: expected ')'"),
            ("?y : r9(a, y)", "at character 6: unknown relation 'r9'"),
            ("?y : r1(zz, y)", "at character 9: unknown entity 'zz'"),
            ("?y : r1(a, y) and r2(a, w)", "at character 25: unknown entity 'w' (not a declared variable"),
            ("?y : r1(a)", "at character 6: 'r1' has 1 argument(s)"),
            ("?y : r1(a, b)", "at character 6: the formula never mentions the answer variable 'y'"),
            ("?y : exists x . r1(x, y) and r2(y, x)", "at character 30: the query has a cycle through"),
            ("?y : r1(y, y)", "relates a variable to itself"),
            ("?y : r1(a, y) and r2(a, b)", "at character 19: this atom has no variable"),
            ("?y : exists x . r1(a, y)", "at character 6: variable 'x' is declared but not connected"),
            ("?y : exists x . r1(a, x) and not r2(x, y)", "at character 30: this negation mentions 'y' and 'x'"),
            ("?y : exists x . r1(a, x) and (r2(x, y) or r3(b, y))", "this disjunction shares 'x'"),
            ("?y : exists y . r1(a, y)", "at character 13: variable 'y' is already declared"),
            ("?y : r1(\"a, y)", "at character 9: unterminated quoted name"),
            ("?y : r1(a, y) r2(b, y)", "at character 15: unexpected 'r2'; expected 'and', 'or', ')' or the end"),
            ("?y : ", "at character 6: expected an atom"),
            ("?y : not", "at character 9: expected an atom"),
        ]
        for (text, want) in cases {
            do {
                let q = try fol.parse(text)
                Issue.record("\(text) parsed as \(q)")
            } catch {
                #expect("\(error)".contains(want), "\(text): \(error)")
            }
        }
    }
}

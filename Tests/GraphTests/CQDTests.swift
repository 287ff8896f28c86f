import Core
import Foundation
import Testing
@testable import Graph
import TestSupport

/// Pointwise reference for CQD with k ≥ N: the truth of `q` at answer `y`, maximising over
/// every existential variable by enumeration, scalar by scalar (no top-k, no GEMM).
func bruteForceTruth(_ q: Query, _ y: Int, _ m: ComplExModel, _ t: TNorm) -> Double {
    func sig(_ x: Float) -> Double { 1 / (1 + exp(-Double(x))) }
    func and(_ a: Double, _ b: Double) -> Double { t == .product ? a * b : min(a, b) }
    func or(_ a: Double, _ b: Double) -> Double { t == .product ? a + b - a * b : max(a, b) }
    switch q {
    case .entity: fatalError("not a set")
    case let .project(.entity(e), r): return sig(m.score(anchor: e, relation: r, answer: y))
    case let .project(sub, r):
        return (0..<m.entityCount).map { x in and(bruteForceTruth(sub, x, m, t), sig(m.score(anchor: x, relation: r, answer: y))) }.max()!
    case let .and(qs): return qs.dropFirst().reduce(bruteForceTruth(qs[0], y, m, t)) { and($0, bruteForceTruth($1, y, m, t)) }
    case let .or(qs): return qs.dropFirst().reduce(bruteForceTruth(qs[0], y, m, t)) { or($0, bruteForceTruth($1, y, m, t)) }
    case let .not(sub): return 1 - bruteForceTruth(sub, y, m, t)
    }
}

@Suite struct QuerySyntaxTests {
    static let vocab = (Vocabulary(["a", "b", "c", "new york"]), Vocabulary(["r1", "r2", "r3"]))
    static var parser: QueryParser { QueryParser(entities: vocab.0, relations: vocab.1) }

    @Test func allFourteenStructuresParseAndAreNamed() throws {
        let cases: [(String, String)] = [
            ("r1(a)", "1p"), ("r2(r1(a))", "2p"), ("r3(r2(r1(a)))", "3p"),
            ("r1(a) & r2(b)", "2i"), ("r1(a) and r2(b) and r3(c)", "3i"),
            ("r3(r1(a) & r2(b))", "ip"), ("r2(r1(a)) & r3(b)", "pi"),
            ("r1(a) | r2(b)", "2u"), ("r3(r1(a) or r2(b))", "up"),
            ("r1(a) & !r2(b)", "2in"), ("r1(a) & r2(b) & not r3(c)", "3in"),
            ("r3(r1(a) & !r2(b))", "inp"), ("r2(r1(a)) & !r3(b)", "pin"), ("!r2(r1(a)) & r3(b)", "pni"),
        ]
        for (text, name) in cases {
            let q = try Self.parser.parse(text)
            #expect(q.structureName == name, "\(text)")
            // Formatting and parsing again gives the same tree.
            #expect(try Self.parser.parse(Self.parser.format(q)) == q, "\(Self.parser.format(q))")
        }
        #expect(try Self.parser.parse("r1^-1(\"new york\")") == .project(.entity(3), 3))  // r1⁻¹ = r1 + R with R = 3
        #expect(Self.parser.format(.project(.entity(3), 3)) == "r1^-1(\"new york\")")
    }

    @Test func badQueriesAreClearErrors() {
        let cases: [(String, String)] = [
            ("r9(a)", "query: at character 1: unknown relation 'r9'"),
            ("r1(zz)", "query: at character 4: unknown entity 'zz'"),
            ("r1(a", "expected ')'"),
            ("a", "a bare entity is not a question"),
            ("r1(a) &", "unexpected end of query"),
            ("r1(a) r2(b)", "unexpected 'r'"),
            ("r1^2(a)", "'^' must be followed by -1"),
            ("!a & r1(b)", "cannot negate a bare entity"),
            ("r1(\"a)", "unterminated quoted name"),
        ]
        for (text, message) in cases {
            do {
                _ = try Self.parser.parse(text)
                Issue.record("no error for \(text)")
            } catch let e as GraphDataError {
                #expect(e.message.contains(message), "\(text): \(e.message)")
            } catch { Issue.record("\(error)") }
        }
    }
}

@Suite struct CQDBeamTests {
    static let model = ComplExModel(entityCount: 7, relationCount: 2, rank: 3, initScale: 1.0, seed: 21)

    static func allStructures() -> [Query] {
        let p = { (e: Int, r: Int) -> Query in .project(.entity(e), r) }
        return [
            p(0, 0), .project(p(1, 1), 2), .project(.project(p(2, 3), 0), 1),
            .and([p(0, 0), p(3, 1)]), .and([p(0, 0), p(3, 1), p(5, 2)]),
            .project(.and([p(0, 0), p(3, 1)]), 3), .and([.project(p(1, 1), 2), p(4, 0)]),
            .or([p(0, 0), p(3, 1)]), .project(.or([p(0, 0), p(3, 1)]), 3),
            .and([p(0, 0), .not(p(3, 1))]), .and([p(0, 0), p(6, 1), .not(p(3, 1))]),
            .project(.and([p(0, 0), .not(p(3, 1))]), 2), .and([.project(p(1, 1), 2), .not(p(4, 0))]),
            .and([.not(.project(p(1, 1), 2)), p(4, 0)]),
        ]
    }

    @Test(arguments: TNorm.allCases)
    func fullBeamEqualsEnumerationOverAssignments(tNorm: TNorm) throws {
        let cqd = CQDBeam(model: Self.model, options: CQDOptions(beamWidth: 7, tNorm: tNorm))
        let queries = Self.allStructures()
        #expect(Set(queries.compactMap(\.structureName)).count == 14)
        for q in queries {
            let got = try cqd.truth(q).storage
            let want = (0..<7).map { bruteForceTruth(q, $0, Self.model, tNorm) }
            let worst = zip(got, want).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-5, "\(q.structureName ?? "?") \(tNorm): \(got) vs \(want)")
        }
    }

    @Test func beamOfOneFollowsTheBestFirstHop() throws {
        // k = 1 on 2p: only the best candidate c* of r1(a, ·) survives, so
        // truth(y) = σ-score of r1(a, c*) · σ-score of r2(c*, y).
        let m = Self.model
        let cqd = CQDBeam(model: m, options: CQDOptions(beamWidth: 1))
        let first = try cqd.truth(.project(.entity(1), 1)).storage
        let best = first.indices.max { first[$0] < first[$1] }!
        let got = try cqd.truth(.project(.project(.entity(1), 1), 2)).storage
        for y in 0..<7 {
            let want = Double(first[best]) / (1 + exp(-Double(m.score(anchor: best, relation: 2, answer: y))))
            #expect(abs(Double(got[y]) - want) < 1e-6)
        }
        let top = try cqd.answer(.project(.entity(1), 1), top: 3)
        #expect(top.count == 3 && top[0].entity == best && top[0].score >= top[1].score && top[1].score >= top[2].score)
    }

    @Test func minMaxNormalisationIsPerRowAndClamped() {
        let x = Tensor([2, 4, 6, -1, -1, 3], shape: [2, 3])
        let y = AtomNormalization.minMax.apply(x).storage
        let want: [Float] = [0.01, 0.5, 1, 0.01, 0.01, 1]
        #expect(zip(y, want).allSatisfy { abs($0 - $1) < 1e-6 }, "\(y)")
    }
}

@Suite struct QueryGeneratorTests {
    @Test func labelsAreExactAndSeeded() throws {
        let kg = syntheticGraph(entities: 24, heldOut: 6, seed: 9)
        let gen = QueryGenerator(full: kg.allTriples, easy: kg.train + kg.valid, entityCount: 24, relationCount: 3)
        let trainIdx = GraphIndex(kg.train + kg.valid, entityCount: 24, relationCount: 3)
        let fullIdx = GraphIndex(kg.allTriples, entityCount: 24, relationCount: 3)
        for s in Query.epfoStructures + Query.negationStructures {
            let qs = try gen.sample(s, count: 5, seed: 2)
            #expect(try gen.sample(s, count: 5, seed: 2) == qs)
            for ex in qs {
                #expect(ex.structure == s)
                #expect(Set(ex.easy) == trainIdx.answers(ex.query))
                #expect(Set(ex.hard) == fullIdx.answers(ex.query).subtracting(ex.easy))
                #expect(!ex.hard.isEmpty)
            }
        }
        // On this graph 2p needs a held-out edge on either hop: some must exist.
        #expect(try !gen.sample("2p", count: 5, seed: 2).isEmpty)
        #expect(throws: GraphDataError.self) { _ = try gen.sample("4p", count: 1, seed: 0) }
    }

    @Test func trainedComplExAnswersHardChainQueries() throws {
        let kg = syntheticGraph(entities: 32, heldOut: 10, seed: 5)
        let (model, _) = try ComplExTrainer.train(kg, options: ComplExLearningTests.options())
        let gen = QueryGenerator(full: kg.allTriples, easy: kg.train + kg.valid, entityCount: 32, relationCount: 3)
        var examples: [ComplexQueryExample] = []
        for s in ["2p", "3p", "2i", "ip", "pi", "up"] { examples += try gen.sample(s, count: 6, seed: 4) }
        let cqd = CQDBeam(model: model, options: CQDOptions(beamWidth: 4))
        let m = try evaluateComplexQueries(cqd, examples)
        let avg = m.averageMRR(Query.epfoStructures)!
        // Random filtered ranking among ~31 entities has MRR ≈ 0.13.
        #expect(avg > 0.6, "\(m.byStructure)")
    }
}

import Foundation
import Testing
import TestSupport
@testable import Text

/// The M² scorer against `shared/fixtures/gec` (numbers from the unmodified NUS m2scorer, commit
/// cb874a7, under Python 2.7; see the fixture README): per case the chosen edit sequence of every
/// annotator, its counts, the chosen annotator and P/R/F0.5; per corpus (scored in order) the
/// totals, including the `rules` gold file made by ERRANT's default extraction.
@Suite("M2 scorer (MaxMatch) vs m2scorer fixtures")
struct MaxMatchScorerTests {
    static func hypotheses() throws -> [[String]] {
        var lines = try Fixtures.text("gec/cases.hyp.txt").components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines.map(GECTokens.split)
    }

    static func counts(_ d: [String: Any]) -> MaxMatchCounts {
        MaxMatchCounts(correct: d["correct"] as! Int, proposed: d["proposed"] as! Int, gold: d["gold"] as! Int)
    }

    @Test func perCaseEditSequencesAndCountsMatch() throws {
        let (cases, _) = try GECScoringTests.cases()
        let gold = try M2File.parse(try Fixtures.text("gec/cases.m2"), path: "cases.m2")
        let hyps = try Self.hypotheses()
        #expect(gold.count == cases.count && hyps.count == cases.count)
        for (i, c) in cases.enumerated() where i < gold.count && i < hyps.count {
            let want = try #require((c.raw["scores"] as? [String: Any])?["m2scorer"] as? [String: Any])
            let s = MaxMatchScorer().score(reference: gold[i], hypothesis: hyps[i])
            let perAnnotator = try #require(want["per_annotator"] as? [[String: Any]])
            #expect(s.annotators.count == perAnnotator.count, "\(c.id): annotators")
            for (got, w) in zip(s.annotators, perAnnotator) {
                #expect(got.annotator == w["annotator"] as? Int, "\(c.id)")
                #expect(got.counts == Self.counts(w), "\(c.id) annotator \(got.annotator): \(got.counts)")
                let seq = (w["edit_seq"] as! [[Any]]).map {
                    MaxMatchScorer.Edit(start: $0[0] as! Int, end: $0[1] as! Int, original: $0[2] as! String, corrections: [$0[3] as! String])
                }
                // The fixture lists the edits as the scorer's verbose output shows them (shrunk).
                #expect(got.edits.map(\.shrunk) == seq, "\(c.id) annotator \(got.annotator): \(got.edits) vs \(seq)")
            }
            #expect(s.chosenAnnotator == want["chosen_annotator"] as? Int, "\(c.id): chosen")
            #expect(s.counts == Self.counts(want), "\(c.id)")
            #expect(abs(s.counts.precision - (want["p"] as! Double)) <= 1e-9 && abs(s.counts.recall - (want["r"] as! Double)) <= 1e-9
                    && abs(s.counts.f05 - (want["f05"] as! Double)) <= 1e-9, "\(c.id): P/R/F")
        }
    }

    @Test func corporaMatch() throws {
        let (cases, corpora) = try GECScoringTests.cases()
        let gold = try M2File.parse(try Fixtures.text("gec/cases.m2"), path: "cases.m2")
        let rules = try M2File.parse(try Fixtures.text("gec/cases.rules.m2"), path: "cases.rules.m2")
        let hyps = try Self.hypotheses()
        let index = Dictionary(uniqueKeysWithValues: cases.enumerated().map { ($1.id, $0) })
        for corpus in corpora {
            let name = corpus["name"] as! String
            let ids = strings(corpus["case_ids"]).compactMap { index[$0] }
            let scores = try #require((corpus["scores"] as? [String: Any])?["m2scorer"] as? [String: Any])
            for (setting, file) in [("lev_all_merge", gold), ("rules", rules)] {
                guard let want = scores[setting] as? [String: Any] else { continue }
                let r = try MaxMatchScorer().score(references: ids.map { file[$0] }, hypotheses: ids.map { hyps[$0] })
                #expect(r.counts == Self.counts(want), "\(name) \(setting): \(r.counts)")
                #expect(abs(r.counts.precision - (want["p"] as! Double)) <= 1e-9, "\(name) \(setting) P")
                #expect(abs(r.counts.recall - (want["r"] as! Double)) <= 1e-9, "\(name) \(setting) R")
                #expect(abs(r.counts.f05 - (want["f05"] as! Double)) <= 1e-9, "\(name) \(setting) F0.5")
            }
        }
    }

    /// Hand-worked: source "a b c", gold deletes "b" (1 2). A hypothesis "a c" yields the one
    /// deletion edit (a perfect match). "a x c" is not one substitution to MaxMatch: the cost-2
    /// matrix also aligns it as insert "x" + delete "b", and the lattice path takes the deletion
    /// because it is gold: correct 1, proposed 2. "a b c d" only inserts: P 0, R 0 → F 0. A
    /// correction list "x||y" accepts either; the annotator whose gold the hypothesis is wins.
    /// (Every number here was also confirmed by running the unmodified m2scorer under Python 2.7.)
    @Test func handWorkedCases() throws {
        let gold = try M2File.parse("S a b c\nA 1 2|||U:X|||-NONE-|||REQUIRED|||-NONE-|||0\n\n")[0]
        let perfect = MaxMatchScorer().score(reference: gold, hypothesis: ["a", "c"])
        #expect(perfect.counts == MaxMatchCounts(correct: 1, proposed: 1, gold: 1))
        let split = MaxMatchScorer().score(reference: gold, hypothesis: ["a", "x", "c"])
        #expect(split.counts == MaxMatchCounts(correct: 1, proposed: 2, gold: 1))
        #expect(split.annotators[0].edits == [.init(start: 1, end: 1, original: "", corrections: ["x"]),
                                              .init(start: 1, end: 2, original: "b", corrections: [""])])
        #expect(MaxMatchScorer.Edit(start: 0, end: 3, original: "She have a", corrections: ["She had a"]).shrunk
                == .init(start: 1, end: 2, original: "have", corrections: ["had"]))
        let wrong = MaxMatchScorer().score(reference: gold, hypothesis: ["a", "b", "c", "d"])
        #expect(wrong.counts == MaxMatchCounts(correct: 0, proposed: 1, gold: 1))
        #expect(wrong.counts.f05 == 0)
        let two = try M2File.parse("S a b c\nA 1 2|||U:X|||-NONE-|||REQUIRED|||-NONE-|||0\nA 1 2|||R:X|||x||y|||REQUIRED|||-NONE-|||1\n\n")[0]
        let s = MaxMatchScorer().score(reference: two, hypothesis: ["a", "y", "c"])
        #expect(s.chosenAnnotator == 1 && s.counts == MaxMatchCounts(correct: 1, proposed: 1, gold: 1))
        // Nothing to do and nothing done: P = R = F = 1.
        let noop = try M2File.parse("S a b\nA -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0\n\n")[0]
        let n = MaxMatchScorer().score(reference: noop, hypothesis: ["a", "b"])
        #expect(n.counts == MaxMatchCounts() && n.counts.f05 == 1)
        #expect(throws: GECError.self) { try MaxMatchScorer().score(references: [noop], hypotheses: []) }
    }
}

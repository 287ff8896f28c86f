import Foundation
import Testing
import TestSupport
@testable import Text

/// Edit extraction and `errant_compare` scoring against `shared/fixtures/gec` (made by ERRANT
/// 3.0.2 itself; see its README): spans, alignments, per-sentence counts, chosen references and
/// corpus P/R/F0.5 in the three modes.
@Suite("GEC scoring vs ERRANT fixtures")
struct GECScoringTests {
    static let root = "gec/cases.json"

    struct Case {
        let id: String, source: String, hypothesis: String, references: [String]
        let raw: [String: Any]
    }

    static func cases() throws -> (cases: [Case], corpora: [[String: Any]]) {
        let json = try #require(try Fixtures.json(root) as? [String: Any])
        let cases = try #require(json["cases"] as? [[String: Any]]).map {
            Case(id: $0["id"] as! String, source: $0["source"] as! String, hypothesis: $0["hypothesis"] as! String,
                 references: strings($0["references"]), raw: $0)
        }
        return (cases, try #require(json["corpora"] as? [[String: Any]]))
    }

    static func expectEdits(_ got: ExtractedEdits, _ want: [String: Any], _ context: String) {
        #expect(got.noop == (want["noop"] as? Bool), "\(context): noop")
        let edits = (want["edits"] as? [[String: Any]]) ?? []
        #expect(got.edits.count == edits.count, "\(context): \(got.edits) vs \(edits)")
        for (g, w) in zip(got.edits, edits) {
            #expect(g.oStart == w["o_start"] as? Int && g.oEnd == w["o_end"] as? Int && g.cStart == w["c_start"] as? Int
                    && g.cEnd == w["c_end"] as? Int, "\(context): span \(g)")
            #expect(GECTokens.same(g.oStr, w["o_str"] as! String) && GECTokens.same(g.cStr, w["c_str"] as! String), "\(context): strings \(g)")
        }
    }

    @Test func editsAndAlignmentsMatchERRANT() throws {
        for c in try Self.cases().cases {
            let edits = try #require(c.raw["edits"] as? [String: Any])
            for (setting, merge) in [("lev_all_merge", EditMerge.allMerge), ("lev_all_split", .allSplit)] {
                let s = try #require(edits[setting] as? [String: Any])
                Self.expectEdits(EditExtraction.extract(source: c.source, correction: c.hypothesis, merge: merge),
                                 s["hyp"] as! [String: Any], "\(c.id) \(setting) hyp")
                for (k, ref) in c.references.enumerated() {
                    Self.expectEdits(EditExtraction.extract(source: c.source, correction: ref, merge: merge),
                                     (s["refs"] as! [[String: Any]])[k], "\(c.id) \(setting) ref \(k)")
                }
            }
            let lev = try #require(c.raw["lev_alignment"] as? [String: Any])
            let pairs = [(c.hypothesis, lev["hyp"] as! [String: Any])] + zip(c.references, lev["refs"] as! [[String: Any]]).map { ($0, $1) }
            for (cor, want) in pairs {
                let a = EditExtraction.align(GECTokens.split(c.source), GECTokens.split(cor))
                #expect(String(a.ops.map(\.op)) == want["ops"] as? String, "\(c.id): ops")
                #expect(a.distance == want["distance"] as? Int, "\(c.id): distance")
            }
        }
    }

    /// Our M2 writer gives exactly the fixture's M2 text apart from the (spaCy) type field.
    @Test func m2WriterMatchesERRANTSpans() throws {
        let (cases, _) = try Self.cases()
        let refM2 = try M2File.parse(try Fixtures.text("gec/cases.m2"), path: "cases.m2")
        let hypM2 = try M2File.parse(try Fixtures.text("gec/cases.hyp.m2"), path: "cases.hyp.m2")
        #expect(refM2.count == cases.count && hypM2.count == cases.count)
        func strip(_ s: M2Sentence) -> [String] { s.annotations.map { "\($0.start) \($0.end)|\($0.correction)|\($0.coder)" } }
        for (i, c) in cases.enumerated() where i < refM2.count {
            let ours = M2Sentence(source: c.source, corrections: c.references)
            #expect(ours.tokens == refM2[i].tokens, "\(c.id)")
            #expect(strip(ours) == strip(refM2[i]), "\(c.id): \(ours.text) vs \(refM2[i].text)")
            #expect(strip(M2Sentence(source: c.source, corrections: [c.hypothesis])) == strip(hypM2[i]), "\(c.id) hyp")
            // Round trip through text.
            #expect(try M2File.parse(M2File.text([ours])) == [M2Sentence(tokens: ours.tokens, annotations: ours.annotations, line: 1)])
        }
    }

    /// Each case scored alone, from our own extraction, in cs/ds/dt.
    @Test func perSentenceScoresMatchErrantCompare() throws {
        for c in try Self.cases().cases {
            let scores = try #require((c.raw["scores"] as? [String: Any])?["lev_all_merge"] as? [String: Any])
            for mode in ERRANTMode.allCases {
                let want = try #require(scores[mode.rawValue] as? [String: Any])
                let r = try GECEvaluation.score(sources: [c.source], hypotheses: [c.hypothesis], references: [c.references], mode: mode)
                let s = r.sentences[0]
                let perRef = (want["per_ref"] as! [[String: Any]]).map { EditCounts(tp: $0["tp"] as! Int, fp: $0["fp"] as! Int, fn: $0["fn"] as! Int) }
                #expect(s.pairs.map(\.counts) == perRef, "\(c.id) \(mode): per ref")
                #expect(s.chosenReference == want["chosen_ref"] as? Int, "\(c.id) \(mode): chosen")
                #expect(r.counts == EditCounts(tp: want["tp"] as! Int, fp: want["fp"] as! Int, fn: want["fn"] as! Int), "\(c.id) \(mode)")
                #expect(abs(r.counts.precision - (want["p"] as! Double)) <= 1e-9 && abs(r.counts.recall - (want["r"] as! Double)) <= 1e-9
                        && abs(r.counts.f05 - (want["f05"] as! Double)) <= 1e-9, "\(c.id) \(mode): P/R/F")
            }
        }
    }

    /// Corpora scored in order (the choice depends on running totals), including the
    /// `rounded_tie` corpus where ERRANT's 4-decimal rounding decides the reference.
    @Test func corporaMatchErrantCompare() throws {
        let (cases, corpora) = try Self.cases()
        let byID = Dictionary(uniqueKeysWithValues: cases.map { ($0.id, $0) })
        for corpus in corpora {
            let ids = strings(corpus["case_ids"])
            let cs = ids.compactMap { byID[$0] }
            #expect(cs.count == ids.count)
            let scores = try #require((corpus["scores"] as? [String: Any])?["lev_all_merge"] as? [String: Any])
            for mode in ERRANTMode.allCases {
                let want = try #require(scores[mode.rawValue] as? [String: Any])
                let r = try GECEvaluation.score(sources: cs.map(\.source), hypotheses: cs.map(\.hypothesis), references: cs.map(\.references), mode: mode)
                let name = corpus["name"] as! String
                #expect(r.counts == EditCounts(tp: want["tp"] as! Int, fp: want["fp"] as! Int, fn: want["fn"] as! Int), "\(name) \(mode)")
                #expect(r.chosenReferences == ints(want["chosen_refs"]), "\(name) \(mode): chosen refs")
                #expect(abs(r.counts.precision - (want["p"] as! Double)) <= 1e-9, "\(name) \(mode) P")
                #expect(abs(r.counts.recall - (want["r"] as! Double)) <= 1e-9, "\(name) \(mode) R")
                #expect(abs(r.counts.f05 - (want["f05"] as! Double)) <= 1e-9, "\(name) \(mode) F0.5")
            }
        }
    }

    /// errant_compare on ERRANT's own default-extraction M2 files (linguistic spans and types):
    /// tests M2 reading and counting on real ERRANT output.
    @Test func rulesM2FilesScoreAsErrantCompare() throws {
        let (cases, corpora) = try Self.cases()
        let hyp = try M2File.parse(try Fixtures.text("gec/cases.rules.hyp.m2"), path: "cases.rules.hyp.m2")
        let ref = try M2File.parse(try Fixtures.text("gec/cases.rules.m2"), path: "cases.rules.m2")
        let r = try ERRANTScorer(mode: .cs).score(hypotheses: hyp, references: ref)
        let all = try #require(corpora.first { $0["name"] as? String == "all_cases" })
        let want = try #require(((all["scores"] as? [String: Any])?["rules"] as? [String: Any])?["cs"] as? [String: Any])
        #expect(r.counts == EditCounts(tp: want["tp"] as! Int, fp: want["fp"] as! Int, fn: want["fn"] as! Int))
        #expect(abs(r.counts.f05 - (want["f05"] as! Double)) <= 1e-9)
        // And per case, alone.
        for (i, c) in cases.enumerated() {
            let w = try #require(((c.raw["scores"] as? [String: Any])?["rules"] as? [String: Any])?["cs"] as? [String: Any])
            let s = ERRANTScorer(mode: .cs).score(hypothesis: hyp[i], reference: ref[i])
            #expect(s.counts == EditCounts(tp: w["tp"] as! Int, fp: w["fp"] as! Int, fn: w["fn"] as! Int), "\(c.id) rules")
            #expect(s.chosenReference == w["chosen_ref"] as? Int, "\(c.id) rules chosen")
        }
    }

    @Test func malformedM2LinesAreErrorsWithLineNumbers() {
        #expect(throws: GECError.malformed(path: "x.m2", line: 2, problem: "malformed A line (span 'a b' is not two integers); write 'A start end|||type|||correction|||REQUIRED|||-NONE-|||coder'")) {
            try M2File.parse("S a b c\nA a b|||R:X|||d|||REQUIRED|||-NONE-|||0\n", path: "x.m2")
        }
        #expect(throws: GECError.self) { try M2File.parse("S a b\nA 1 5|||R:X|||d|||REQUIRED|||-NONE-|||0\n", path: "x.m2") }
        #expect(throws: GECError.self) { try M2File.parse("A 0 1|||R:X|||d|||REQUIRED|||-NONE-|||0\n", path: "x.m2") }
        #expect(throws: GECError.self) { try M2File.parse("S a b\nA 0 1|||R:X|||d|||REQUIRED|||-NONE-|||zero\n", path: "x.m2") }
        #expect(throws: GECError.self) { try GECEvaluation.score(sources: ["a"], hypotheses: [], references: [["a"]]) }
    }
}

import Core
import Foundation
import Testing
@testable import Text

/// Error-type classification and per-type recall/precision counting, and the vocabulary's
/// minimum tag count, against hand-worked cases.
@Suite("GEC error types")
struct GECErrorTypeTests {
    /// One case per `ErrorInjector` type, written by hand from the injector's rules.
    @Test func classifiesEachInjectedType() {
        let s = ["the", "bird", "bird", "sings", "in", "a", "tree"]
        func c(_ o: [String], _ c: [String], _ start: Int) -> String { GECErrorTypes.classify(o, c, source: s, start: start) }
        #expect(c([], ["."], 7) == "PUNCT")          // final full stop dropped
        #expect(c([], [","], 3) == "PUNCT")          // comma dropped
        #expect(c([], ["the"], 0) == "DET")          // article omitted
        #expect(c(["a"], ["the"], 5) == "DET")       // article substituted
        #expect(c([], ["of"], 4) == "MISSING")       // function word missing
        #expect(c(["bird"], [], 2) == "DOUBLED")     // repeats the word before it
        #expect(c(["bird"], [], 1) == "DOUBLED")     // …or after it (the aligner may delete either copy)
        #expect(c(["sings"], [], 3) == "OTHER")      // a deletion that repeats nothing
        #expect(c(["in"], ["on"], 4) == "PREP")
        #expect(c(["are"], ["is"], 3) == "SVA")
        #expect(c(["bird"], ["birds"], 1) == "NOUN:NUM")
        #expect(c(["sing"], ["sings"], 3) == "NOUN:NUM") // a verb's lost -s looks the same
        #expect(c(["swiming"], ["swim"], 3) == "VERB:FORM") // the injector appends -ing as is
        #expect(c(["teh"], ["the"], 0) == "SPELL")
        #expect(c(["Bird"], ["bird"], 1) == "OTHER") // case only: no injected type makes it
        #expect(c(["a", "b"], ["c"], 0) == "OTHER")
    }

    /// Hand-worked corpus of two sentences (errors kept apart so all-merge does not join them).
    /// 1: source `the bird bird sings in tree with wing .` → reference `the bird sings in a tree
    ///    with wings .`: gold edits `bird→∅` (DOUBLED), `∅→a` (DET), `wing→wings` (NOUN:NUM).
    ///    Hypothesis `the bird sings in a tree by wing .` makes `bird→∅` ✓, `∅→a` ✓ and
    ///    `with→by` (PREP, not gold).
    /// 2: source `a cat`, reference `a cat .`, hypothesis `the cat .`: gold `∅→.` (PUNCT), made ✓;
    ///    `a→the` (DET, not gold).
    /// So DOUBLED 1/1 (1 of 1 proposal correct), DET 1/1 (1 of 2), NOUN:NUM 0/1, PUNCT 1/1 (1 of 1),
    /// PREP no gold and 0 of 1 proposal correct.
    @Test func countsRecallAndPrecisionPerType() {
        let r = GECErrorTypes.recall(
            sources: ["the bird bird sings in tree with wing .", "a cat"],
            hypotheses: ["the bird sings in a tree by wing .", "the cat ."],
            references: [["the bird sings in a tree with wings ."], ["a cat ."]])
        func counts(_ g: Int, _ r: Int, _ p: Int, _ c: Int) -> GECErrorTypes.Counts {
            var x = GECErrorTypes.Counts(); x.gold = g; x.recalled = r; x.proposed = p; x.correct = c; return x
        }
        #expect(r.types["DOUBLED"] == counts(1, 1, 1, 1))
        #expect(r.types["NOUN:NUM"] == counts(1, 0, 0, 0))
        #expect(r.types["DET"] == counts(1, 1, 2, 1))
        #expect(r.types["PUNCT"] == counts(1, 1, 1, 1))
        #expect(r.types["PREP"] == counts(0, 0, 1, 0))
        #expect(r.types.count == 5)
        #expect(r.line == "DET 1/1, NOUN:NUM 0/1, DOUBLED 1/1, PUNCT 1/1")
        #expect(r.table.contains("DET        1/1 (100%)        1/2 (50%)"))
        var sum = r
        sum.add(r)
        #expect(sum.types["DET"] == counts(2, 2, 4, 2))
    }

    /// Tags seen fewer than `minCount` times are left out; their tokens get no label.
    @Test func minimumTagCountDropsRareTags() {
        let pairs: [(source: [String], target: [String])] = [
            (["a", "cat"], ["a", "cat", "."]), (["a", "dog"], ["a", "dog", "."]), (["teh", "cat", "."], ["the", "cat", "."]),
        ]
        let all = GECTagVocabulary.build(pairs: pairs, maxTags: 10)
        #expect(all.labels == ["$KEEP", "$DELETE", "$APPEND_.", "$REPLACE_the"])
        let frequent = GECTagVocabulary.build(pairs: pairs, maxTags: 10, minCount: 2)
        #expect(frequent.labels == ["$KEEP", "$DELETE", "$APPEND_."])
        #expect(frequent.id(of: .replace("the")) == nil)
    }
}

/// Keep-label masking leaves the keeps next to an edit (hand-worked labels).
@Suite("GEC keep masking")
struct GECKeepMaskTests {
    /// Labels `[CLS]=0, 0, 0, -100 (sub-token), 1 (edit), 0, 0, -100`: with share ≈ 0 every keep
    /// is masked except the labelled neighbours of the edit (positions 2 and 5; the sub-token at
    /// 3 is skipped) and the start slot at 0.
    @Test func keepsTheNeighboursOfAnEdit() throws {
        let n = 8
        let enc = Encoding(ids: Array(repeating: 5, count: n), tokens: Array(repeating: "x", count: n), typeIDs: Array(repeating: 0, count: n),
                           attentionMask: Array(repeating: 1, count: n), specialTokensMask: Array(repeating: 0, count: n),
                           wordIDs: [nil, 0, 1, 1, 2, 3, 4, nil], sequenceIDs: Array(repeating: 0, count: n))
        let item = GECTrainingItem(encoding: enc, labels: [0, 0, 0, -100, 1, 0, 0, -100])
        var rng = SplitMix64(seed: 1)
        let masked = GECContinualRunner.maskKeep([item], share: 1e-12, rng: &rng)
        #expect(masked[0].labels == [0, -100, 0, -100, 1, 0, -100, -100])
        var rng2 = SplitMix64(seed: 1)
        #expect(GECContinualRunner.maskKeep([item], share: 1, rng: &rng2)[0].labels == item.labels)
    }
}

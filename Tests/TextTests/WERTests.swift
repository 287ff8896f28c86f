import Foundation
import Testing
import TestSupport
import Text

/// Word error rate against jiwer 4.0.0 (fixtures/metrics/wer_cases.json): counts exact, WER to 1e-12,
/// on the raw strings and after the fixture's normaliser.
@Suite struct WERTests {
    @Test func jiwerCasesMatch() throws {
        let root = try #require(try Fixtures.json("metrics/wer_cases.json") as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        #expect(cases.count == 12)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let refs = strings(c["references"]), hyps = strings(c["hypotheses"])
            #expect(strings(c["normalised_references"]) == refs.map { TranscriptNormaliser.standard($0) }, "\(name) normalised references")
            #expect(strings(c["normalised_hypotheses"]) == hyps.map { TranscriptNormaliser.standard($0) }, "\(name) normalised hypotheses")
            for (key, normaliser) in [("raw", TranscriptNormaliser.none), ("normalised", .standard)] {
                let e = try #require(c[key] as? [String: Any])
                let r = WordErrorRate.compute(references: refs, hypotheses: hyps, normaliser: normaliser)
                #expect(r.hits == e["hits"] as? Int && r.substitutions == e["substitutions"] as? Int
                        && r.deletions == e["deletions"] as? Int && r.insertions == e["insertions"] as? Int
                        && r.referenceWords == e["reference_words"] as? Int, "\(name) \(key): \(r)")
                #expect(abs((r.wer ?? -1) - (e["wer"] as? Double ?? -2)) < 1e-12, "\(name) \(key) WER")
            }
        }
    }

    @Test func numbersAsWordsAndEdgeCases() {
        let n = TranscriptNormaliser(lowercase: true, removePunctuation: true, numbersAsWords: true)
        #expect(n("Press 1, then 42.") == "press one then forty two")
        #expect(n("2026-11-25") == "two thousand twenty six eleven twenty five")
        #expect(n("room 101 or 1000000") == "room one hundred one or one million")
        #expect(WordErrorRate.compute(references: ["press 1"], hypotheses: ["press one"], normaliser: n).wer == 0)
        // No reference words: undefined, not a division by zero.
        #expect(WordErrorRate.compute(references: [""], hypotheses: ["hello"]).wer == nil)
        #expect(WordErrorRate.compute(references: [], hypotheses: []).referenceWords == 0)
    }
}

import Foundation
import Testing
@testable import Text

/// Entity extraction and scores against seqeval 1.2.2 (`fixtures/metrics/ner_seqeval.json`) and
/// conlleval.pl output (`ner_cases*.conlleval.txt`, byte-identical to the Perl script per README).
@Suite struct EntityMetricsTests {
    static func fixture() throws -> [String: Any] {
        try #require(try Fixtures.json("metrics/ner_seqeval.json") as? [String: Any])
    }

    static func cases() throws -> [[String: Any]] {
        try #require(try fixture()["cases"] as? [[String: Any]])
    }

    /// `[[type, start, end], …]` from the fixture.
    static func spans(_ any: Any?) -> [EntitySpan]? {
        guard let list = any as? [[Any]] else { return nil }
        return list.compactMap { e in
            guard e.count == 3, let t = e[0] as? String, let s = (e[1] as? NSNumber)?.intValue, let x = (e[2] as? NSNumber)?.intValue else { return nil }
            return EntitySpan(type: t, start: s, end: x)
        }
    }

    /// Compares a report with a fixture block `{precision, recall, f1, per_type: {T: {…, support}}}`.
    /// Values are computed from the same integer counts, so they must agree to the last bit
    /// (1e-12 allows for nothing but the division order).
    static func check(_ r: EntityReport, _ expected: [String: Any], _ label: String) {
        func close(_ a: Double, _ b: Any?) -> Bool { abs(a - ((b as? NSNumber)?.doubleValue ?? .nan)) <= 1e-12 }
        #expect(close(r.micro.precision, expected["precision"]), "\(label) precision \(r.micro.precision)")
        #expect(close(r.micro.recall, expected["recall"]), "\(label) recall \(r.micro.recall)")
        #expect(close(r.micro.f1, expected["f1"]), "\(label) f1 \(r.micro.f1)")
        let perType = expected["per_type"] as? [String: [String: Any]] ?? [:]
        #expect(r.perType.map(\.type) == perType.keys.sorted(), "\(label) types \(r.perType.map(\.type))")
        for (t, v) in perType {
            guard let s = r.score(of: t) else { continue }
            #expect(close(s.precision, v["precision"]) && close(s.recall, v["recall"]) && close(s.f1, v["f1"]), "\(label) \(t): \(s)")
            #expect(s.support == (v["support"] as? NSNumber)?.intValue, "\(label) \(t) support")
        }
    }

    @Test func entitySpansMatchSeqevalPerCase() throws {
        let cases = try Self.cases()
        #expect(cases.count == 14)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let gold = strings(c["gold"]), pred = strings(c["pred"])
            let lenient = try #require(c["entities_lenient"] as? [String: Any])
            #expect(EntityChunker.lenient(gold) == Self.spans(lenient["gold"]), "\(name) lenient gold")
            #expect(EntityChunker.lenient(pred) == Self.spans(lenient["pred"]), "\(name) lenient pred")
            let strict = try #require(c["entities_strict_iob2"] as? [String: Any])
            if let g = Self.spans(strict["gold"]), let p = Self.spans(strict["pred"]) {
                #expect(try EntityChunker.strict(gold, scheme: .iob2) == g, "\(name) strict gold")
                #expect(try EntityChunker.strict(pred, scheme: .iob2) == p, "\(name) strict pred")
            } else {
                // seqeval raises ValueError for E-/S- tags in strict IOB2.
                #expect(throws: EntityMetricsError.self) { try EntityChunker.strict(gold, scheme: .iob2) }
            }
            if let iobes = c["entities_strict_iobes"] as? [String: Any] {
                #expect(try EntityChunker.strict(gold, scheme: .iobes) == Self.spans(iobes["gold"]), "\(name) strict iobes gold")
                #expect(try EntityChunker.strict(pred, scheme: .iobes) == Self.spans(iobes["pred"]), "\(name) strict iobes pred")
            }
        }
    }

    @Test func scoresMatchSeqevalPerCase() throws {
        for c in try Self.cases() {
            let name = c["name"] as? String ?? "?"
            let gold = [strings(c["gold"])], pred = [strings(c["pred"])]
            Self.check(try EntityReport(gold: gold, predicted: pred), try #require(c["seqeval_default"] as? [String: Any]), "\(name) default")
            let strict = try #require(c["seqeval_strict_iob2"] as? [String: Any])
            if strict["error"] != nil {
                #expect(throws: EntityMetricsError.invalidTag(tag: gold[0].first { $0.hasPrefix("S-") || $0.hasPrefix("E-") } ?? "", scheme: .iob2)) {
                    try EntityReport(gold: gold, predicted: pred, mode: .strict(.iob2))
                }
            } else {
                Self.check(try EntityReport(gold: gold, predicted: pred, mode: .strict(.iob2)), strict, "\(name) strict")
            }
            if let iobes = c["seqeval_strict_iobes"] as? [String: Any] {
                Self.check(try EntityReport(gold: gold, predicted: pred, mode: .strict(.iobes)), iobes, "\(name) strict iobes")
            }
        }
    }

    @Test func corpusScoresMatchSeqeval() throws {
        let cases = try Self.cases()
        let corpus = try #require(try Self.fixture()["corpus"] as? [String: [String: Any]])
        for key in ["all_cases", "bio_cases"] {
            let block = try #require(corpus[key])
            let names = strings(block["cases"])
            let chosen = names.compactMap { n in cases.first { $0["name"] as? String == n } }
            #expect(chosen.count == names.count)
            let gold = chosen.map { strings($0["gold"]) }, pred = chosen.map { strings($0["pred"]) }
            let report = try EntityReport(gold: gold, predicted: pred)
            Self.check(report, try #require(block["seqeval_default"] as? [String: Any]), key)
            if let strict = block["seqeval_strict_iob2"] as? [String: Any] {
                Self.check(try EntityReport(gold: gold, predicted: pred, mode: .strict(.iob2)), strict, key + " strict")
            }
        }
    }

    /// Macro / weighted averages, which the fixture does not list: worked by hand from the
    /// fixture's per-type numbers for the BIO corpus (lenient): P = (1 + 1 + 1/6 + 0.4) / 4,
    /// R = (1 + 0.5 + 1/3 + 1/3) / 4, weighted P = (4·1 + 2·1 + 3/6 + 6·0.4) / 15.
    @Test func macroAndWeightedAverages() throws {
        let fixture = try Self.fixture()
        let cases = try Self.cases()
        let names = strings((fixture["corpus"] as? [String: [String: Any]])?["bio_cases"]?["cases"])
        let chosen = names.compactMap { n in cases.first { $0["name"] as? String == n } }
        let r = try EntityReport(gold: chosen.map { strings($0["gold"]) }, predicted: chosen.map { strings($0["pred"]) })
        #expect(abs(r.macro.precision - (1 + 1 + 1.0 / 6 + 0.4) / 4) < 1e-12)
        #expect(abs(r.macro.recall - (1 + 0.5 + 1.0 / 3 + 1.0 / 3) / 4) < 1e-12)
        #expect(abs(r.weighted.precision - (4 + 2 + 0.5 + 2.4) / 15) < 1e-12)
        #expect(r.micro.support == 15 && r.micro.predicted == 16 && r.micro.correct == 8)
        let text = r.text()
        #expect(text.contains("   micro avg     0.5000    0.5333    0.5161        15\n"), "\(text)")
    }

    @Test func mismatchedInputsAreErrors() {
        #expect(throws: EntityMetricsError.lengthMismatch(sentence: 0, gold: 2, predicted: 1)) {
            try EntityReport(gold: [["O", "O"]], predicted: [["O"]])
        }
        #expect(throws: EntityMetricsError.sentenceCountMismatch(gold: 1, predicted: 0)) {
            try EntityReport(gold: [["O"]], predicted: [])
        }
    }

    // MARK: conlleval

    /// The whole fixture files through the CoNLL reader (tag columns 2 and 3, no conversion),
    /// then the report text byte for byte.
    @Test(arguments: ["ner_cases", "ner_cases_bio"])
    func conllevalReportIsByteIdentical(_ name: String) throws {
        let path = Fixtures.path("metrics/\(name).conll")
        let gold = try CoNLLReader(tagColumn: 1, convertToIOB2: false).read(path: path)
        let pred = try CoNLLReader(tagColumn: 2, convertToIOB2: false).read(path: path)
        let c = try Conlleval(gold: gold.sentences.map(\.tags), predicted: pred.sentences.map(\.tags))
        #expect(c.report() == (try Fixtures.text("metrics/\(name).conlleval.txt")))
    }

    @Test func conllevalCountsPerCaseAndCorpus() throws {
        func check(_ c: Conlleval, _ e: [String: Any], _ label: String) {
            func n(_ k: String, _ d: [String: Any] = e) -> Int? { (d[k] as? NSNumber)?.intValue }
            #expect(c.tokens == n("tokens") && c.goldChunks == n("found_gold") && c.predictedChunks == n("found_pred"), "\(label)")
            #expect(c.correctChunks == n("correct") && c.correctTags == n("correct_tags"), "\(label)")
            #expect(abs(c.fb1 - ((e["fb1"] as? NSNumber)?.doubleValue ?? .nan)) < 1e-9, "\(label) fb1 \(c.fb1)")
            let perType = e["per_type"] as? [String: [String: Any]] ?? [:]
            #expect(Set(c.perType.keys) == Set(perType.keys), "\(label) types")
            for (t, v) in perType {
                let got = c.perType[t] ?? Conlleval.TypeCounts()
                #expect(got.gold == n("found_gold", v) && got.predicted == n("found_pred", v) && got.correct == n("correct", v), "\(label) \(t)")
            }
        }
        let cases = try Self.cases()
        for c in cases {
            check(try Conlleval(gold: [strings(c["gold"])], predicted: [strings(c["pred"])]),
                  try #require(c["conlleval"] as? [String: Any]), c["name"] as? String ?? "?")
        }
        let corpus = try #require(try Self.fixture()["corpus"] as? [String: [String: Any]])
        for key in ["all_cases", "bio_cases"] {
            let block = try #require(corpus[key])
            let chosen = strings(block["cases"]).compactMap { n in cases.first { $0["name"] as? String == n } }
            check(try Conlleval(gold: chosen.map { strings($0["gold"]) }, predicted: chosen.map { strings($0["pred"]) }),
                  try #require(block["conlleval"] as? [String: Any]), key)
        }
    }
}

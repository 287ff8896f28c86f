import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// Tag derivation, the tag vocabulary, the data readers and the error injector.
@Suite("GEC tagging and data")
struct GECTaggingTests {
    /// apply(tags(s, t), s) == t on every source/reference/hypothesis pair of the ERRANT fixture
    /// cases (insertions at the start, deletions, multi-word rewrites, empty hypothesis…).
    @Test func tagsReconstructTheCorrection() throws {
        let json = try #require(try Fixtures.json("gec/cases.json") as? [String: Any])
        let cases = try #require(json["cases"] as? [[String: Any]])
        var pairs = 0
        for c in cases {
            let src = GECTokens.split(c["source"] as! String)
            for t in [c["hypothesis"] as! String] + strings(c["references"]) {
                let tgt = GECTokens.split(t)
                let tags = GECTagging.tags(source: src, target: tgt)
                #expect(tags.count == src.count + 1)
                #expect(GECTagging.apply(tags, to: src) == tgt, "\(c["id"]!): \(tags)")
                pairs += 1
            }
        }
        #expect(pairs > 100)
    }

    /// Hand-worked tags: `went to park` → `We went to the park .`:
    /// start appends "We", "to" appends "the", "park" appends ".".
    @Test func handWorkedTags() {
        let tags = GECTagging.tags(source: ["went", "to", "park"], target: ["We", "went", "to", "the", "park", "."])
        #expect(tags == [.append("We"), .keep, .append("the"), .append(".")])
        let t2 = GECTagging.tags(source: ["She", "can", "to", "swims"], target: ["She", "can", "swim"])
        #expect(GECTagging.apply(t2, to: ["She", "can", "to", "swims"]) == ["She", "can", "swim"])
        #expect(GECTag(label: "$REPLACE_the") == .replace("the") && GECTag(label: "$APPEND_to the") == .append("to the"))
        #expect(GECTag(label: "$REPLACE_") == nil && GECTag(label: "KEEP") == nil)
    }

    @Test func vocabularyKeepsTheMostFrequentTags() {
        let pairs: [(source: [String], target: [String])] = [
            (["a", "b"], ["a", "the", "b"]), (["c", "d"], ["c", "the", "d"]), (["x"], ["y"]),
        ]
        let v = GECTagVocabulary.build(pairs: pairs, maxTags: 3)
        #expect(v.labels == ["$KEEP", "$DELETE", "$APPEND_the"])
        #expect(v.id(of: .replace("y")) == nil && v.id(of: .append("the")) == 2)
        #expect(v.tag(99) == .keep)
    }

    @Test func readersAndBadInput() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gec-data-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ text: String) throws -> String {
            let p = dir.appendingPathComponent(name).path
            try text.write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        let tsv = try GECDataReader.read(path: try write("a.tsv", "She go .\tShe goes .\tShe went .\nOk .\tOk .\n"))
        #expect(tsv == [GECExample(source: "She go .", references: ["She goes .", "She went ."]), GECExample(source: "Ok .", references: ["Ok ."])])
        let jl = try GECDataReader.read(path: try write("a.jsonl", #"{"source": "a b", "references": ["a c"], "category": "law"}"# + "\n"))
        #expect(jl == [GECExample(source: "a b", references: ["a c"], category: "law")])
        let m2 = try GECDataReader.read(path: try write("a.m2", "S He go home\nA 1 2|||R:VERB|||goes|||REQUIRED|||-NONE-|||0\nA 3 3|||M:PUNCT|||.|||REQUIRED|||-NONE-|||0\n\n"))
        #expect(m2 == [GECExample(source: "He go home", references: ["He goes home ."])])
        #expect(throws: GECError.malformed(path: dir.appendingPathComponent("b.tsv").path, line: 2, problem: "no tab: a TSV line is 'source<TAB>target' (the source again when it needs no correction)")) {
            try GECDataReader.read(path: try write("b.tsv", "a\tb\nno tab here\n"))
        }
        #expect(throws: GECError.self) { try GECDataReader.read(path: try write("c.tsv", " \tb\n\tx\n")) }
        #expect(throws: GECError.self) { try GECDataReader.read(path: try write("d.jsonl", #"{"references": ["x"]}"#)) }
        let s = try write("s.txt", "a\nb\nc\n"), t = try write("t.txt", "a\nb\n")
        #expect(throws: GECError.self) { try GECDataReader.readParallel(sourcePath: s, targetPath: t) }
        // A domain without training data and an unknown domain name.
        let data = GECDomainData(domains: [.init(name: "x", train: [], dev: [], test: tsv), .init(name: "y", train: tsv, dev: [], test: tsv)])
        #expect(throws: GECError.self) { try data.ordered(["x"]) }
        #expect(throws: GECError.self) { try data.ordered(["z"]) }
        #expect(try data.ordered(["y"]).map(\.name) == ["y"])
    }

    /// The injector is seeded and changes sentences with the types it reports.
    @Test func errorInjectionIsSeededAndReal() {
        let misspellings = ErrorInjector.codespellMisspellings("recieve->receive\nteh->the\nadn->and, add\n")
        #expect(misspellings == ["receive": ["recieve"], "the": ["teh"]])
        let inj = ErrorInjector(misspellings: misspellings, nouns: ["dog", "park"], verbs: ["run", "receive"])
        let s = ["The", "dog", "is", "happy", "to", "run", "in", "the", "park", ",", "and", "to", "receive", "food", "."]
        var a = SplitMix64(seed: 3), b = SplitMix64(seed: 3)
        let x = inj.corrupt(s, count: 2, rng: &a), y = inj.corrupt(s, count: 2, rng: &b)
        #expect(x.tokens == y.tokens && x.types == y.types && x.types.count == 2 && x.tokens != s)
        var kinds = Set<String>()
        for seed in 0..<200 {
            var r = SplitMix64(seed: UInt64(seed))
            let out = inj.corrupt(s, count: 1, rng: &r)
            kinds.formUnion(out.types)
            #expect(out.types.isEmpty || out.tokens != s)
        }
        #expect(kinds == Set(ErrorInjector.types))
    }
}

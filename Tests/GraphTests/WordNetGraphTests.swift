import Core
import Foundation
import Testing
@testable import Graph
import TestSupport

/// The WordNet builder on a hand-written miniature database in the wndb(5WN) format.
@Suite struct WordNetGraphTests {
    /// Five noun synsets: dog.n.01 (animal) → canine.n.01 (animal) → animal.n.01 (Tops);
    /// pack.n.01 (group) has dog as a member; dog.n.02 (food) has a lexical self-pointer.
    static func miniWordNet() throws -> URL {
        let dir = try TestPaths.temporaryDirectory()
        let header = "  1 This software and database is being provided to you, the LICENSEE\n"
        let files: [String: String] = [
            "index.noun": header + """
                animal n 1 1 ~ 1 0 00000030
                canine n 1 2 @ ~ 1 0 00000020
                dog n 2 2 @ #m 2 1 00000010 00000040
                domestic_dog n 1 1 @ 1 0 00000010
                pack n 1 1 %m 1 0 00000050

                """,
            "data.noun": header + """
                00000010 05 n 02 dog 0 domestic_dog 0 002 @ 00000020 n 0000 #m 00000050 n 0000 | a domesticated canid
                00000020 05 n 01 canine 0 002 ~ 00000010 n 0000 @ 00000030 n 0000 | a canid
                00000030 03 n 01 animal 0 001 ~ 00000020 n 0000 | a living organism
                00000040 13 n 01 dog 1 001 + 00000040 n 0101 | a sausage | with a bar in the gloss
                00000050 14 n 01 pack 0 001 %m 00000010 n 0000 | a group of hunting animals

                """,
        ]
        for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        for name in ["index.verb", "data.verb", "index.adj", "data.adj", "index.adv", "data.adv"] {
            try header.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func pointersBecomeWN18RRTriples() throws {
        let dir = try Self.miniWordNet()
        defer { try? FileManager.default.removeItem(at: dir) }
        var o = WordNetGraphOptions()
        o.wordnetFolder = dir.path
        // Inverse pointers (~, #m) fold onto their forward relation; the self-pointer is dropped.
        let folded = try WordNetGraph.triples(o)
        #expect(folded.synsetsRead == 5)
        #expect(folded.triples.map { [$0.0, $0.1, $0.2] } == [
            ["canine.n.01", "hypernym", "animal.n.01"],
            ["dog.n.01", "hypernym", "canine.n.01"],
            ["pack.n.01", "member_meronym", "dog.n.01"],
        ])
        o.withInverses = true
        #expect(try WordNetGraph.triples(o).triples.map { [$0.0, $0.1, $0.2] } == [
            ["animal.n.01", "hyponym", "canine.n.01"],
            ["canine.n.01", "hypernym", "animal.n.01"],
            ["canine.n.01", "hyponym", "dog.n.01"],
            ["dog.n.01", "hypernym", "canine.n.01"],
            ["dog.n.01", "member_holonym", "pack.n.01"],
            ["pack.n.01", "member_meronym", "dog.n.01"],
        ])
        o.withInverses = false
        o.lexicographerFiles = ["noun.animal"]
        #expect(try WordNetGraph.triples(o).triples.map { [$0.0, $0.1, $0.2] } == [["dog.n.01", "hypernym", "canine.n.01"]])
        o.lexicographerFiles = ["noun.animals"]
        #expect(throws: GraphDataError.self) { _ = try WordNetGraph.triples(o) }
        o.lexicographerFiles = nil
        o.wordnetFolder = dir.appendingPathComponent("missing").path
        #expect(throws: GraphDataError.self) { _ = try WordNetGraph.triples(o) }
    }

    @Test func splitKeepsHeldOutNamesInTrainingAndIsSeeded() throws {
        // A random graph over 60 names and 4 relations.
        var rng = SplitMix64(seed: 11)
        var set = Set<[String]>()
        while set.count < 600 {
            set.insert(["n\(rng.next() % 60)", "r\(rng.next() % 4)", "n\(rng.next() % 60)"])
        }
        let triples = set.sorted { $0.lexicographicallyPrecedes($1) }.map { ($0[0], $0[1], $0[2]) }
        var o = WordNetGraphOptions()
        o.validFraction = 0.1
        o.testFraction = 0.1
        let (tr, va, te) = WordNetGraph.split(triples, options: o)
        #expect(va.count == 60 && te.count == 60 && tr.count == 480)
        let trainNames = Set(tr.flatMap { [$0.0, $0.2] }), trainRels = Set(tr.map(\.1))
        for (h, r, t) in va + te { #expect(trainNames.contains(h) && trainNames.contains(t) && trainRels.contains(r)) }
        let again = WordNetGraph.split(triples, options: o)
        #expect(again.valid.map { [$0.0, $0.1, $0.2] } == va.map { [$0.0, $0.1, $0.2] })
        o.seed = 1
        #expect(WordNetGraph.split(triples, options: o).test.map { [$0.0, $0.1, $0.2] } != te.map { [$0.0, $0.1, $0.2] })
    }

    @Test func buildWritesALoadableFolder() throws {
        let dir = try Self.miniWordNet()
        defer { try? FileManager.default.removeItem(at: dir) }
        var o = WordNetGraphOptions()
        o.wordnetFolder = dir.path
        o.validFraction = 0
        o.testFraction = 0
        let out = dir.appendingPathComponent("graph")
        let report = try WordNetGraph.build(o, to: out)
        #expect(report.entities == 4 && report.train == 3 && report.valid == 0)
        let kg = try KGDataset.load(folder: out.path)
        #expect(kg.train.count == 3 && kg.entities.id("dog.n.01") != nil)
    }
}

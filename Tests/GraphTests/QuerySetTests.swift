import Core
import Foundation
import Testing
@testable import Graph
import TestSupport

/// The generated query splits follow BetaE's rules, checked against a brute-force answer
/// evaluator written here from the set semantics (independent of `GraphIndex`).
@Suite struct QuerySetTests {
    /// `{y : q(y)}` on `triples` by scanning every triple for every hop.
    static func brute(_ q: Query, _ triples: [Triple], n: Int, r: Int) -> Set<Int> {
        switch q {
        case let .entity(e): return [e]
        case let .project(sub, rel):
            let from = brute(sub, triples, n: n, r: r)
            var out = Set<Int>()
            for t in triples {
                if rel < r, t.relation == rel, from.contains(t.head) { out.insert(t.tail) }
                if rel >= r, t.relation == rel - r, from.contains(t.tail) { out.insert(t.head) }
            }
            return out
        case let .and(qs): return qs.map { brute($0, triples, n: n, r: r) }.reduce(Set(0..<n)) { $0.intersection($1) }
        case let .or(qs): return qs.map { brute($0, triples, n: n, r: r) }.reduce(Set()) { $0.union($1) }
        case let .not(sub): return Set(0..<n).subtracting(brute(sub, triples, n: n, r: r))
        }
    }

    /// Every (outer hop, inner hop) relation pair along chains.
    static func chainPairs(_ q: Query) -> [(Int, Int)] {
        switch q {
        case .entity: return []
        case let .project(.project(inner, ri), ro): return [(ri, ro)] + chainPairs(.project(inner, ri))
        case let .project(sub, _): return chainPairs(sub)
        case let .and(qs), let .or(qs): return qs.flatMap(chainPairs)
        case let .not(sub): return chainPairs(sub)
        }
    }

    /// A random multi-relational graph (relations are not functional, so intersections and
    /// negations have several answers), 15% valid and 15% test; every name stays in training.
    static func randomGraph(seed: UInt64 = 2) -> KGDataset {
        var rng = SplitMix64(seed: seed)
        var facts = Set<Triple>()
        while facts.count < 240 {
            let h = Int(rng.next() % 30), t = Int(rng.next() % 30)
            if h != t { facts.insert(Triple(h, Int(rng.next() % 3), t)) }
        }
        var all = facts.sorted { ($0.head, $0.relation, $0.tail) < ($1.head, $1.relation, $1.tail) }
        all.shuffle(using: &rng)
        let names = (0..<30).map { "n\($0)" }
        // Ids in the training split's order of first appearance, as KGDataset.parse makes them.
        let text = { (ts: ArraySlice<Triple>) in ts.map { "\(names[$0.head])\tr\($0.relation)\t\(names[$0.tail])" }.joined(separator: "\n") }
        return try! KGDataset.parse(train: ("train", text(all[72...])), valid: ("valid", text(all[..<36])), test: ("test", text(all[36..<72])))
    }

    static func options(seed: UInt64 = 4) -> QuerySetOptions {
        var o = QuerySetOptions()
        o.trainTypes = Query.epfoStructures + Query.negationStructures
        o.trainPerType = 6
        o.validPerType = 5
        o.testPerType = 5
        o.seed = seed
        return o
    }

    @Test func splitsFollowBetaERules() throws {
        let kg = Self.randomGraph()
        let (n, r) = (kg.entities.count, kg.relations.count)
        let set = try QuerySet.generate(kg, options: Self.options())
        let graphs: [(String, [ComplexQueryExample], [Triple], [Triple]?)] = [
            ("train", set.train, kg.train, nil),
            ("valid", set.valid, kg.train + kg.valid, kg.train),
            ("test", set.test, kg.allTriples, kg.train + kg.valid),
        ]
        for (split, examples, full, earlier) in graphs {
            #expect(!examples.isEmpty, "\(split)")
            var seen = Set<Query>()
            for ex in examples {
                #expect(seen.insert(ex.query).inserted, "\(split): repeated \(ex.query)")
                let all = Self.brute(ex.query, full, n: n, r: r)
                let easy = earlier.map { Self.brute(ex.query, $0, n: n, r: r) } ?? []
                #expect(Set(ex.easy) == easy && Set(ex.hard) == all.subtracting(easy), "\(split) \(ex.structure)")
                #expect(!ex.hard.isEmpty && ex.hard.count <= 100)
                if earlier != nil && Query.negationStructures.contains(ex.structure) {
                    // BetaE keeps a negation query only if a held-out edge removes an easy answer.
                    #expect(!easy.subtracting(all).isEmpty, "\(split) \(ex.structure)")
                }
                // No hop walks straight back along the inverse of the next one.
                for (inner, outer) in Self.chainPairs(ex.query) {
                    #expect(inner % r != outer % r || inner == outer, "\(ex.query)")
                }
            }
        }
        // Held-out edges make hard answers (and, for negations, lost easy answers) for every structure here.
        #expect(Set(set.test.map(\.structure)) == Set(Query.epfoStructures + Query.negationStructures), "\(QuerySet.counts(set.test))")
    }

    @Test func seededAndFiltered() throws {
        let kg = syntheticGraph(entities: 24, heldOut: 8, seed: 9)
        let a = try QuerySet.generate(kg, options: Self.options(seed: 4))
        let b = try QuerySet.generate(kg, options: Self.options(seed: 4))
        let c = try QuerySet.generate(kg, options: Self.options(seed: 5))
        #expect(a.train == b.train && a.valid == b.valid && a.test == b.test)
        #expect(a.test != c.test)

        var o = Self.options()
        o.maxAnswers = 2
        for ex in try QuerySet.generate(kg, options: o).test { #expect(ex.hard.count <= 2) }

        // Fraction: per structure max(1, round(count · f)) of the same queries.
        o = Self.options()
        o.queryFraction = 0.34
        let part = try QuerySet.generate(kg, options: o).train
        let full = Dictionary(QuerySet.counts(a.train), uniquingKeysWith: +)
        for (t, k) in QuerySet.counts(part) { #expect(k == max(1, Int((Double(full[t]!) * 0.34).rounded())), "\(t)") }
        #expect(Set(part).isSubset(of: Set(a.train)))

        o.queryFraction = 0
        #expect(throws: GraphDataError.self) { _ = try QuerySet.generate(kg, options: o) }
        o = Self.options()
        o.trainTypes = ["4p"]
        #expect(throws: GraphDataError.self) { _ = try QuerySet.generate(kg, options: o) }
        #expect(try filterStructures(a.test, ["2in"]).allSatisfy { $0.structure == "2in" })
    }

    @Test func queryFileRoundTrip() throws {
        let kg = syntheticGraph(entities: 24, heldOut: 8, seed: 9)
        let set = try QuerySet.generate(kg, options: Self.options())
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("q.jsonl")
        try QueryFile.write(set, entities: kg.entities, relations: kg.relations, seed: 4, source: "synthetic", to: url)
        let (header, back) = try QueryFile.read(url, entities: kg.entities, relations: kg.relations)
        #expect(back.train == set.train && back.valid == set.valid && back.test == set.test)
        #expect(header["vocab_hash"] == .string(vocabularyFingerprint(entities: kg.entities, relations: kg.relations)))
        #expect(header["seed"] == .int(4))

        // The human-readable field parses to the same query as the machine one.
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        let parser = QueryParser(entities: kg.entities, relations: kg.relations)
        for line in lines.dropFirst().prefix(40) {
            guard case let .object(o) = try JSONParser.parse(Array(line.utf8)),
                  case let .string(q)? = o["query"], case let .string(f)? = o["fol"] else { Issue.record("bad line"); continue }
            #expect(try parser.parse(q) == parser.parseAny(f), "\(q) vs \(f)")
        }
    }

    @Test func badQueryFilesNameTheLine() throws {
        let kg = syntheticGraph(entities: 24, heldOut: 8, seed: 9)
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("q.jsonl")
        let header = #"{"format":"kg-queries","version":1}"#
        func message(_ text: String) -> String {
            try? text.write(to: url, atomically: true, encoding: .utf8)
            do { _ = try QueryFile.read(url, entities: kg.entities, relations: kg.relations); return "read" } catch { return "\(error)" }
        }
        let ok = #"{"split":"test","structure":"2p","query":"succ(succ(e1))","easy":[],"hard":["e3"]}"#
        #expect(message(header + "\n" + ok + "\n") == "read")
        #expect(message(ok + "\n").contains(":1: the first line must be the header"))
        #expect(message(header + "\n" + ok.replacingOccurrences(of: "e3", with: "zz")).contains(":2: field 'hard'"))
        #expect(message(header + "\n\n" + ok.replacingOccurrences(of: "\"2p\"", with: "\"2i\"")).contains(":3: structure '2i'"))
        #expect(message(header + "\n" + ok.replacingOccurrences(of: "succ(succ", with: "succ(sux")).contains(":2: field 'query'"))
        #expect(message(header + "\n{\"split\":").contains(":2: not valid JSON"))
        #expect(message(header + "\n" + ok.replacingOccurrences(of: "test", with: "dev")).contains("split 'dev'"))
        #expect(message("").contains("empty query file"))
    }
}

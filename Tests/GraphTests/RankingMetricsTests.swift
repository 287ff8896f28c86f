import Foundation
import Testing
@testable import Graph
import TestSupport

/// Ranks, MRR and Hits@k against `metrics/kg_ranking.json` (tools/make_data_fixtures.py):
/// a 6 × 12 score matrix with ties, per-query filter sets, and expected ranks under the
/// optimistic / pessimistic / realistic tie rules, raw and filtered.
@Suite struct RankingMetricsTests {
    struct Fixture {
        let scores: [[Float]]
        let answers: [Int]
        let filters: [[Int]]
        let json: [String: Any]
    }

    static func load() throws -> Fixture {
        let url = TestPaths.fixture("metrics/kg_ranking.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw GraphDataError("fixture \(url.path) missing: set PEFTKIT_FIXTURES to the shared fixtures folder")
        }
        let j = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let scores = (j["scores"] as! [[Double]]).map { $0.map(Float.init) }
        return Fixture(scores: scores, answers: j["answers"] as! [Int], filters: j["filters"] as! [[Int]], json: j)
    }

    @Test(arguments: ["raw", "filtered"])
    func perQueryRanksAndSummaries(mode: String) throws {
        let f = try Self.load()
        let section = f.json[mode] as! [String: Any]
        var acc = RankAccumulator(hitsAt: [1, 3, 10])
        for (q, expected) in (section["per_query"] as! [[String: Any]]).enumerated() {
            let r = rankAnswer(scores: f.scores[q], answer: f.answers[q], filtered: mode == "raw" ? [] : f.filters[q])
            #expect(r.strictlyHigher == expected["strictly_higher"] as! Int, "q\(q)")
            #expect(r.tied == expected["tied"] as! Int, "q\(q)")
            #expect(r.optimistic == expected["optimistic"] as! Int, "q\(q)")
            #expect(r.pessimistic == expected["pessimistic"] as! Int, "q\(q)")
            #expect(r.realistic == expected["realistic"] as! Double, "q\(q)")
            acc.add(r)
        }
        let summary = section["summary"] as! [String: [String: Double]]
        for rule in TieRule.allCases {
            let want = summary[rule.rawValue]!, got = acc.summary(rule)
            #expect(abs(got.meanRank - want["mean_rank"]!) < 1e-12, "\(mode) \(rule)")
            #expect(abs(got.mrr - want["mrr"]!) < 1e-12, "\(mode) \(rule)")
            for k in [1, 3, 10] {
                #expect(abs(got.hits[k]! - want["hits_at_\(k)"]!) < 1e-12, "\(mode) \(rule) H@\(k)")
            }
        }
    }

    /// Evaluation in both directions through `KnownAnswers`: head queries use relation r + R.
    @Test func filteredBothDirectionsUseReciprocalRelations() {
        // 4 entities, 1 relation; a scorer that always prefers higher entity ids.
        final class ByID: LinkPredictor, @unchecked Sendable {
            let entityCount = 4, relationCount = 1
            func scoreAll(anchors: [Int], relations: [Int]) -> [Float] {
                anchors.flatMap { _ in (0..<4).map(Float.init) }
            }
        }
        // Known: 0→3, 0→1 (train), 0→2 (test). 2→1 (train).
        let train = [Triple(0, 0, 3), Triple(0, 0, 1), Triple(2, 0, 1)]
        let test = [Triple(0, 0, 2)]
        let known = KnownAnswers(train + test, relationCount: 1)
        #expect(known.answers(anchor: 0, relation: 0) == [1, 2, 3])
        #expect(known.answers(anchor: 1, relation: 1) == [0, 2])  // heads of (?, r, 1)
        #expect(known.contains(anchor: 2, relation: 1, answer: 0) && !known.contains(anchor: 2, relation: 0, answer: 0))
        let r = evaluateLinkPrediction(ByID(), triples: test, known: known)
        // Tail (0, r, ?) → 2: only entity 3 scores higher and it is known true, so filtered rank 1.
        #expect(r.tail.ranks == [AnswerRank(strictlyHigher: 0, tied: 0)])
        // Head (?, r, 2) → 0: entities 1, 2, 3 score higher; none is a known head of 2 except 0.
        #expect(r.head.ranks == [AnswerRank(strictlyHigher: 3, tied: 0)])
        #expect(abs(r.both.summary(.optimistic).mrr - (1 + 0.25) / 2) < 1e-12)
    }

    @Test func nanAnswerRanksLast() {
        let r = rankAnswer(scores: [1, .nan, 0, 2], answer: 1, filtered: [3])
        #expect(r.optimistic == 3)  // two compared candidates (0 and 2), both counted above
    }
}

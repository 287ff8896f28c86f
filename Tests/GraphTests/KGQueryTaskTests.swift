import Foundation
import Testing
@testable import Graph
import TestSupport

@Suite struct KGQueryTaskTests {
    /// Writes the synthetic graph as a triple folder and runs the whole job on it.
    @Test func endToEndOnATripleFolder() throws {
        let kg = syntheticGraph(entities: 32, heldOut: 10, seed: 5)
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, split) in [("train.txt", kg.train), ("valid.txt", kg.valid), ("test.txt", kg.test)] {
            let text = split.map { "\(kg.entities.name($0.head))\t\(kg.relations.name($0.relation))\t\(kg.entities.name($0.tail))" }
                .joined(separator: "\n")
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        var o = KGQueryOptions(dataFolder: dir.path)
        o.training = ComplExLearningTests.options()
        o.cqd = CQDOptions(beamWidth: 100)  // larger than the entity count: clamped
        o.testQueriesPerType = 4
        o.testTypes = ["1p", "2p", "2i", "2in"]
        o.trainQueriesPerType = 8
        o.trainTypes = ["1p", "2p", "2in"]
        o.adapterTraining.epochs = 2
        o.adapterTraining.progress = false
        let (model, data, adapter, report) = try KGQueryTask.run(o)
        #expect(report.trainTriples == 76 && report.entities == 32)
        #expect((report.linkPrediction?.mrr ?? 0) > 0.8)
        #expect(report.cqd.summary("2p") != nil && report.cqda?.summary("2p") != nil)
        #expect(report.adapterParameters == 2 * 32 * 2 + 4)
        #expect(report.table().contains("EPFO avg"))
        // succ(succ(e0)) = e2 on the full graph.
        // succ(succ(e0)) = e2 (plain CQD on the trained link predictor; any beam width).
        for k in [1, 4, 32] {
            let top = try KGQueryTask.answer("succ(succ(e0))", model: model, data: data, options: CQDOptions(beamWidth: k), top: 3)
            #expect(top.count == 3 && top[0].name == "e2", "k=\(k): \(top)")
        }
        // The adapter (2 epochs on 24 queries) only has to run here; its quality is measured on UMLS.
        #expect(try KGQueryTask.answer("succ(succ(e0))", model: model, data: data, adapter: adapter, top: 3).count == 3)
        #expect(throws: GraphDataError.self) { _ = try KGQueryTask.answer("succ(e99)", model: model, data: data) }
    }
}

import Foundation
import Testing
import TestSupport
@testable import Core

/// AP / BWT / FWT against `shared/fixtures/gec/cl_metrics.json` (exact rationals rounded once).
@Suite("Continual-learning metrics")
struct ContinualMetricsTests {
    @Test func matchFixtureMatrices() throws {
        let url = TestPaths.fixtures.appendingPathComponent("gec/cl_metrics.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let examples = try #require(json["examples"] as? [[String: Any]])
        #expect(examples.count == 3)
        for e in examples {
            let a = try #require(e["a"] as? [[Double]]), b = try #require(e["b"] as? [Double])
            let m = try ContinualMetrics(matrix: a, baseline: b)
            #expect(abs(m.averagePerformance - (e["AP"] as! Double)) <= 1e-12, "\(e["name"]!) AP")
            #expect(abs(m.backwardTransfer! - (e["BWT"] as! Double)) <= 1e-12, "\(e["name"]!) BWT")
            #expect(abs(m.forwardTransfer! - (e["FWT"] as! Double)) <= 1e-12, "\(e["name"]!) FWT")
        }
    }

    @Test func singleTaskAndBadShapes() throws {
        let m = try ContinualMetrics(matrix: [[0.5]], baseline: [0.1])
        #expect(m.averagePerformance == 0.5 && m.backwardTransfer == nil && m.forwardTransfer == nil)
        #expect(throws: ContinualMetrics.MetricsError.self) { try ContinualMetrics(matrix: [[0.5, 0.1]], baseline: nil) }
        #expect(throws: ContinualMetrics.MetricsError.self) { try ContinualMetrics(matrix: [[0.5]], baseline: [0.1, 0.2]) }
    }
}

import Foundation
import Testing
import TestSupport
@testable import AppSupport
@testable import Text

/// `gec-cl` argument handling and bad input: one-line errors, nothing written. No model needed.
@Suite("gec-cl command")
struct GECCLCommandTests {
    static func failure(_ args: [String]) -> String? {
        do { _ = try GECCLCommand.run(args); return nil } catch { return "\(error)" }
    }

    static func expectFailure(_ args: [String], contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let m = failure(args) else { Issue.record("gec-cl \(args) should fail", sourceLocation: sourceLocation); return }
        #expect(m.contains(text), "got: \(m)", sourceLocation: sourceLocation)
        #expect(!m.contains("\n"), "not one line: \(m)", sourceLocation: sourceLocation)
    }

    static func tempDir(_ name: String) throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("gec-cl-\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    @Test func badOptionsAndData() throws {
        let d = try Self.tempDir("bad")
        defer { try? FileManager.default.removeItem(at: d) }
        Self.expectFailure(["run", "--method", "sgd"], contains: "unknown method 'sgd'")
        Self.expectFailure(["frobnicate"], contains: "one of run, compare")
        Self.expectFailure(["run", "--epochs", "0", "--data", d.path], contains: "--epochs must be at least 1")
        Self.expectFailure(["run", "--data", d.path], contains: "no train.jsonl")
        let train = #"{"source": "a b .", "references": ["a c ."], "category": "x"}"# + "\n"
        try train.write(to: d.appendingPathComponent("train.jsonl"), atomically: true, encoding: .utf8)
        try #"{"source": "a b .", "references": ["a c ."], "category": "y"}"#.write(to: d.appendingPathComponent("test.jsonl"), atomically: true, encoding: .utf8)
        Self.expectFailure(["run", "--data", d.path, "--order", "x"], contains: "domain 'x' has no test sentences")
        Self.expectFailure(["run", "--data", d.path, "--order", "y"], contains: "domain 'y' has no training sentences")
        Self.expectFailure(["run", "--data", d.path, "--order", "q"], contains: "unknown domain 'q'")
        try "S a b\nA 0 x|||R|||c|||REQUIRED|||-NONE-|||0\n".write(to: d.appendingPathComponent("bad.m2"), atomically: true, encoding: .utf8)
        Self.expectFailure(["score", "--hyp", d.appendingPathComponent("bad.m2").path, "--ref", d.appendingPathComponent("bad.m2").path], contains: "bad.m2:2: malformed A line")
        try "a\nb\n".write(to: d.appendingPathComponent("s.txt"), atomically: true, encoding: .utf8)
        try "a\n".write(to: d.appendingPathComponent("h.txt"), atomically: true, encoding: .utf8)
        Self.expectFailure(["score", "--source", d.appendingPathComponent("s.txt").path, "--hyp", d.appendingPathComponent("h.txt").path,
                            "--ref", d.appendingPathComponent("s.txt").path], contains: "has 2 lines and")
        Self.expectFailure(["correct", "--adapter", d.path], contains: "no gec_tags.json")
    }

    /// `score` on the fixture M2 files prints errant_compare's corpus line.
    @Test func scoreOnFixtureM2() throws {
        let root = TestPaths.fixtures
        let hyp = root.appendingPathComponent("gec/cases.hyp.m2").path, ref = root.appendingPathComponent("gec/cases.m2").path
        let r = try ERRANTScorer().score(hypotheses: try M2File.read(path: hyp), references: try M2File.read(path: ref))
        // all_cases, cs: TP 43 FP 25 FN 29 (cases.json corpora[0]).
        #expect(r.counts == EditCounts(tp: 43, fp: 25, fn: 29))
        #expect(try GECCLCommand.run(["score", "--hyp", hyp, "--ref", ref]) == 0)
    }

    @Test func heatMapColoursAndSummary() {
        #expect(HeatMap.colour(0) == [68, 1, 84] && HeatMap.colour(1) == [253, 231, 37] && HeatMap.colour(0.5) == [33, 145, 140])
        let table = GECCLCommand.summaryTable([("ogd", [])])
        #expect(table.contains("ogd") && table.contains("n/a"))
    }
}

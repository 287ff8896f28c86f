import Core
import Foundation
import Testing
@testable import AppSupport
import TestSupport

/// `peft-inspect` on the tiny HF BERT fixture: module grouping, peft matching, method counts.
@Suite struct PeftInspectTests {
    static var bert: String { TestPaths.fixture("tiny/bert_tokencls").path }

    @Test func countsFollowEachMethodsFormula() throws {
        let files = try PeftInspectCommand.checkpointFiles(Self.bert)
        var shapes: [String: [Int]] = [:]
        for f in files { for (k, i) in try SafeTensors.header(of: f).tensors { shapes[k] = i.shape } }
        let modules = PeftInspectCommand.groupModules(shapes)
        let linears = modules.filter { $0.linearShape != nil }
        let spec = TargetSpec(targets: .names(["query", "value"]))
        let matched = linears.filter { spec.matches($0.path) }
        // The tiny BERT has 2 layers: query and value in each.
        #expect(matched.map(\.path).allSatisfy { $0.hasSuffix(".query") || $0.hasSuffix(".value") })
        #expect(matched.count == 4)
        let counts = Dictionary(uniqueKeysWithValues: PeftInspectCommand.methodCounts(matched: matched, all: modules, rank: 4))
        let loraExpected = matched.compactMap(\.linearShape).reduce(0) { $0 + 4 * ($1[0] + $1[1]) }
        #expect(counts["lora / rslora  r·(in+out)"] == loraExpected)
        #expect(counts["dora  r·(in+out) + out"] == loraExpected + matched.compactMap(\.linearShape).reduce(0) { $0 + $1[0] })
        // Embedding tables are not Linear modules even though their weight is 2-D.
        #expect(!linears.contains { $0.path.contains("embeddings") })
    }

    @Test func commandExitCodes() throws {
        #expect(try PeftInspectCommand.run([Self.bert, "--target", "query,value"]) == 0)
        #expect(try PeftInspectCommand.run([Self.bert, "--target", "no_such_module"]) == 1)
        #expect(throws: (any Error).self) { try PeftInspectCommand.run(["/nonexistent/checkpoint"]) }
        #expect(throws: (any Error).self) { try PeftInspectCommand.run([Self.bert, "--rank", "0"]) }
        #expect(throws: (any Error).self) { try PeftInspectCommand.run([Self.bert, "--bogus"]) }
    }
}

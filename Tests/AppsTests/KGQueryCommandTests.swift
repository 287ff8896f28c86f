import AppSupport
import Core
import Foundation
import Graph
import Testing
import TestSupport

/// `kg-query` as a user runs it: argument mistakes give one clear error, and the whole chain
/// train → queries → adapt → eval → answer works on a tiny graph.
@Suite struct KGQueryCommandTests {
    /// A ring of `n` entities: succ(e_i, e_i+1), pred(e_i+1, e_i), partner(e_i, e_i xor 1); a few
    /// facts held out (never a fact together with its mirror image, so both stay inferable).
    static func writeGraph(to dir: URL, n: Int = 24) throws {
        var facts: [(String, String, String)] = []
        for i in 0..<n {
            facts.append(("e\(i)", "succ", "e\((i + 1) % n)"))
            facts.append(("e\((i + 1) % n)", "pred", "e\(i)"))
            facts.append(("e\(i)", "partner", "e\(i ^ 1)"))
        }
        // Held out: succ from e3, e9, e15 (valid) and e5, e11, e17 (test); their pred mirrors stay in training.
        let valid = [3, 9, 15].map { ("e\($0)", "succ", "e\($0 + 1)") }, test = [5, 11, 17].map { ("e\($0)", "succ", "e\($0 + 1)") }
        let held = Set((valid + test).map { "\($0.0) \($0.2)" })
        let train = facts.filter { !($0.1 == "succ" && held.contains("\($0.0) \($0.2)")) }
        for (name, rows) in [("train.txt", train), ("valid.txt", valid), ("test.txt", test)] {
            try rows.map { "\($0.0)\t\($0.1)\t\($0.2)\n" }.joined().write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }

    static let trainFlags = ["--rank", "16", "--batch", "32", "--lr", "0.1", "--n3", "0.001", "--init", "0.1", "--epochs", "150",
                             "--valid-every", "10", "--patience", "0", "--seed", "3", "--quiet"]

    static func message(_ args: [String]) -> String {
        do { _ = try KGQueryCommand.run(args); return "ok" } catch { return "\(error)" }
    }

    @Test func argumentMistakesAreClearErrors() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeGraph(to: dir)
        let out = dir.appendingPathComponent("m").path
        let cases: [([String], String)] = [
            ([], "missing subcommand"),
            (["frob"], "unknown subcommand 'frob'"),
            (["train", "--data", dir.path], "option --out is required"),
            (["train", "--data", dir.path, "--out", out, "--bogus", "1"], "unknown option --bogus; accepted:"),
            (["train", "--data", dir.path, "--out", out, "--rank", "0"], "rank must be ≥ 1"),
            (["train", "--data", dir.path, "--out", out, "--epochs", "many"], "option --epochs: 'many' is not an integer"),
            (["train", "--data", dir.appendingPathComponent("nope").path, "--out", out], "not a folder"),
            (["train", "--data", dir.path, "--out", out, "extra"], "unexpected argument 'extra'"),
            (["queries", "--data", dir.path, "--out", out, "--query-fraction", "1.5"], "--query-fraction: '1.5' is not a fraction"),
            (["queries", "--data", dir.path, "--out", out, "--types", "2p,5p"], "--types: '5p' is not a query structure"),
            (["eval", "--model", out, "--queries", out], "no config.json"),
            (["answer", "--model", out], "give exactly one query"),
            (["train", "--data", dir.path, "--out", out, "--format", "xml"], "--format: 'xml' is not table or json"),
        ]
        for (args, want) in cases {
            let m = Self.message(args)
            #expect(m.contains(want), "\(args): \(m)")
        }
    }

    @Test func endToEndOnATinyGraph() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeGraph(to: dir)
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        #expect(try KGQueryCommand.run(["train", "--data", dir.path, "--out", path("model"), "--json", path("train.json")] + Self.trainFlags) == 0)
        #expect(try KGQueryCommand.run(["queries", "--data", dir.path, "--out", path("q.jsonl"), "--train-per-type", "8",
                                        "--valid-per-type", "0", "--test-per-type", "4", "--types", "1p,2p,2i,2in",
                                        "--train-types", "1p,2p,2in", "--quiet"]) == 0)
        #expect(try KGQueryCommand.run(["adapt", "--model", path("model"), "--queries", path("q.jsonl"), "--out", path("adapter"),
                                        "--epochs", "2", "--beam", "4", "--quiet"]) == 0)
        #expect(try KGQueryCommand.run(["eval", "--model", path("model"), "--queries", path("q.jsonl"), "--adapter", path("adapter"),
                                        "--json", path("eval.json"), "--quiet"]) == 0)
        #expect(try KGQueryCommand.run(["answer", "--model", path("model"), "--top", "3", "--json", path("answer.json"),
                                        "?y : exists x . succ(e4, x) and succ(x, y)"]) == 0)

        func json(_ name: String) throws -> JSONConfig { try JSONConfig(contentsOf: dir.appendingPathComponent(name)) }
        // Training reached the test facts (e5→e6 needs the pred mirror; ComplEx learns it).
        #expect(try json("train.json").nested("test_filtered").double("mrr") > 0.8)
        let eval = try json("eval.json")
        #expect(try eval.string("split") == "test" && eval.int("beam") == 4)  // the adapter's beam is the default
        for key in ["cqd", "cqda"] {
            let perType = try eval.nested(key).nested("per_type")
            #expect(perType.keys.contains("2p"), "\(key): \(perType.keys)")
            #expect(try perType.nested("1p").double("mrr") > 0.5)
        }
        // succ(succ(e4)) = e6, which needs the held-out test fact succ(e5, e6).
        let answers = try JSONParser.parse(Array(try Data(contentsOf: dir.appendingPathComponent("answer.json"))))
        guard case let .array(rows) = answers, case let .object(first)? = rows.first else {
            Issue.record("answer.json is not an array of objects")
            return
        }
        #expect(rows.count == 3 && first["entity"] == .string("e6"), "\(rows)")
        #expect(FileManager.default.fileExists(atPath: path("adapter/adapter_config.json")))

        // The adapter is refused on a model of another rank.
        #expect(try KGQueryCommand.run(["train", "--data", dir.path, "--out", path("model8")] + Self.trainFlags + ["--rank", "8", "--epochs", "10"]) == 0)
        #expect(Self.message(["eval", "--model", path("model8"), "--queries", path("q.jsonl"), "--adapter", path("adapter")])
            .contains("adapter rank 16, model rank 8"))
        // A query over an unknown name points at it.
        #expect(Self.message(["answer", "--model", path("model"), "?y : succ(e99, y)"]).contains("at character 11: unknown entity 'e99'"))
    }
}

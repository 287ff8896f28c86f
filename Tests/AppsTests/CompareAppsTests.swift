import Core
import Foundation
import Testing
@testable import AppSupport
import TestSupport
import Vision

/// `compare` in each training app: a tiny run (tiny random model or the smallest real one, two
/// methods — one of the app's own and one from the adapter library —, few steps) must write the
/// shared table with the app's metric columns, and a recommendation consistent with its numbers.
@Suite("compare in every app", .serialized)
struct CompareAppsTests {
    /// Checks `compare.md`, `compare.json` and `compare.png` in `dir`; returns the JSON rows.
    @discardableResult
    static func checkOutputs(_ dir: URL, methods: [String], metric: String, extras: [String] = [],
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        let md = try String(contentsOf: dir.appendingPathComponent("compare.md"), encoding: .utf8)
        let header = "| method | size | trainable | share | \(metric) (mean ± std) |" + extras.map { " \($0) |" }.joined() + " train s |"
        #expect(md.contains(header), "header \(header) in\n\(md)", sourceLocation: sourceLocation)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("compare.json"))) as? [String: Any])
        let rows = try #require(json["rows"] as? [[String: Any]])
        #expect(rows.compactMap { $0["method"] as? String } == methods, sourceLocation: sourceLocation)
        #expect(json["metric"] as? String == metric && json["extra_metrics"] as? [String] == extras, sourceLocation: sourceLocation)
        // The recommendation names the method with the best mean, and the cheapest within one std of it.
        let scored = rows.compactMap { r -> (String, Double, Double, Int)? in
            guard let m = r["method"] as? String, let mean = r["mean"] as? Double, let std = r["std"] as? Double, let n = r["trainable"] as? Int else { return nil }
            return (m, mean, std, n)
        }
        let best = try #require(scored.max { $0.1 < $1.1 })
        let cheapest = scored.filter { $0.1 >= best.1 - best.2 }.min { $0.3 < $1.3 }!
        let text = try #require(json["recommendation"] as? String)
        #expect(text.hasPrefix("Best \(metric): \(best.0) with"), "\(text)", sourceLocation: sourceLocation)
        if cheapest.0 != best.0 {
            #expect(text.contains("cheapest within one standard deviation of it is \(cheapest.0)"), "\(text)", sourceLocation: sourceLocation)
        } else {
            #expect(text.contains("No cheaper method comes within one standard deviation"), "\(text)", sourceLocation: sourceLocation)
        }
        #expect(md.hasSuffix(text + "\n"), sourceLocation: sourceLocation)
        let png = try PNGCodec.decode(contentsOf: dir.appendingPathComponent("compare.png"))
        #expect(png.width == 640 && png.height == 400, sourceLocation: sourceLocation)
        return rows
    }

    @Test("vision-adapt compare: probe and LoKr on the tiny DINOv2, accuracy column")
    func vision() throws {
        let root = try VisionAdaptCommandTests.makeFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("cmp")
        #expect(try VisionAdaptCommand.run(["compare", "--data", root.path, "--model", TestPaths.fixture("tiny/dinov2").path,
                                            "--methods", "probe,lokr", "--seeds", "1,2", "--iterations", "2", "--batch", "4",
                                            "--image-size", "32", "--shots", "2", "--r", "2", "--out", out.path]) == 0)
        let rows = try Self.checkOutputs(out, methods: ["probe", "lokr"], metric: "accuracy")
        // Both train the same cosine head; LoKr adds, per q and v of the 2 layers (32 × 32 = (4·8) × (4·8), r 2 <
        // 8/2 so W2 = W2a [8, 2]·W2b [2, 8]): W1 16 + W2a 16 + W2b 16 = 48, so 4·48 = 192 more (peft's LoKr formula).
        let probe = try #require(rows[0]["trainable"] as? Int), lokr = try #require(rows[1]["trainable"] as? Int)
        #expect(lokr - probe == 192 && (rows[1]["size"] as? Int) == 2)
        #expect((rows[0]["size"] as? Int) == 0)
    }

    @Test("gec-cl compare: seq-lora and a zoo adapter under the same strategy; AP with BWT and FWT columns")
    func gec() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ResumeSupport.modelFolder(in: dir, dropout: 0)
        let data = dir.appendingPathComponent("gec")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        func line(_ s: String, _ r: String, _ c: String) -> String { #"{"source": "\#(s)", "references": ["\#(r)"], "category": "\#(c)"}"# + "\n" }
        let train = (0..<6).map { i in line("anna live in paris .", "anna lives in paris .", "x") + line("the dog sit on the mat .", "the dog sat on the mat .", "y") + (i % 2 == 0 ? line("ben saw the the cat .", "ben saw the cat .", "x") : "") }.joined()
        try train.write(to: data.appendingPathComponent("train.jsonl"), atomically: true, encoding: .utf8)
        try (line("ben live in paris .", "ben lives in paris .", "x") + line("the cat sit on the mat .", "the cat sat on the mat .", "y"))
            .write(to: data.appendingPathComponent("test.jsonl"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("cmp")
        #expect(try GECCLCommand.run(["compare", "--data", data.path, "--model", model.path, "--methods", "seq-lora,lokr", "--epochs", "1",
                                      "--batch", "4", "--seeds", "1", "--r", "2", "--max-tags", "20", "--max-length", "32", "--out", out.path]) == 0)
        let rows = try Self.checkOutputs(out, methods: ["seq-lora", "lokr"], metric: "AP (F0.5)", extras: ["BWT", "FWT"])
        #expect(rows.allSatisfy { ($0["trainable"] as? Int).map { $0 > 0 } == true })
        // Each run's own files are still written (make demo reads them).
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("seq-lora/results.json").path))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("lokr-seq-lora/results.json").path))
    }

    @Test("crosstune compare: prototype and a LoKr white-box on MiniLM; accuracy with macro-F1")
    func crosstune() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (train, test) = try CrossTuneCommandTests.data(in: dir)
        let out = dir.appendingPathComponent("cmp")
        #expect(try CrossTuneCommand.run(["compare", "--model", CrossTuneCommandTests.model, "--train", train, "--test", test, "--shots", "2",
                                          "--seeds", "1", "--methods", "prototype,lokr", "--lora-epochs", "1", "--r", "2",
                                          "--cache", dir.appendingPathComponent("cache").path, "--out", out.path]) == 0)
        let rows = try Self.checkOutputs(out, methods: ["prototype", "lokr"], metric: "test accuracy", extras: ["macro-F1"])
        // prototype trains nothing; LoKr on MiniLM's query/value (384 = 16 ⊗ 24 … factors) plus the 3-class head.
        #expect(rows[0]["trainable"] as? Int == 0 && (rows[1]["trainable"] as? Int).map { $0 > 1155 } == true)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("results.json").path))
    }

    @Test("kg-query compare: CQD and CQD-A on a tiny graph; MRR with Hits@k columns; a Linear method is a skip note")
    func kg() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try KGQueryCommandTests.writeGraph(to: dir)
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        #expect(try KGQueryCommand.run(["train", "--data", dir.path, "--out", path("model")] + KGQueryCommandTests.trainFlags) == 0)
        #expect(try KGQueryCommand.run(["queries", "--data", dir.path, "--out", path("q.jsonl"), "--train-per-type", "8",
                                        "--valid-per-type", "0", "--test-per-type", "4", "--types", "1p,2p", "--train-types", "1p,2p", "--quiet"]) == 0)
        let out = dir.appendingPathComponent("cmp")
        #expect(try KGQueryCommand.run(["compare", "--model", path("model"), "--queries", path("q.jsonl"), "--methods", "cqd,cqda-sp,lora",
                                        "--seeds", "1,2", "--epochs", "2", "--beam", "4", "--types", "1p,2p", "--out", out.path, "--quiet"]) == 0)
        let rows = try Self.checkOutputs(out, methods: ["cqd", "cqda-sp"], metric: "MRR", extras: ["Hits@1", "Hits@3", "Hits@10"])
        // CQD-A "sp" on rank 16 (width 32): 2·(2·32)… = 2 inputs × (2·32 weights + 2 biases) = 132 (the adapter's formula).
        #expect(rows[0]["trainable"] as? Int == 0 && rows[1]["trainable"] as? Int == 132)
        let md = try String(contentsOf: out.appendingPathComponent("compare.md"), encoding: .utf8)
        #expect(md.contains("lora: skipped") && md.contains("no Linear layers"))
    }

    @Test("ner-tune compare: LoRA and RandLoRA on the tiny BERT; dev entity F1 column")
    func ner() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try ResumeSupport.setUp(in: dir, dropout: 0)
        let out = dir.appendingPathComponent("cmp")
        #expect(try NERTuneCommand.run(["compare", "--model", dir.appendingPathComponent("tiny-bert").path,
                                        "--train", dir.appendingPathComponent("train.conll").path, "--dev", dir.appendingPathComponent("dev.conll").path,
                                        "--methods", "lora,randlora", "--seeds", "1,2", "--steps", "3", "--r", "2", "--batch", "4",
                                        "--max-length", "16", "--out", out.path]) == 0)
        let rows = try Self.checkOutputs(out, methods: ["lora", "randlora"], metric: "dev entity F1")
        // Both train the same token head; LoRA r 2 on query and value (32 × 32) of 2 layers adds 4·2·(32 + 32) = 512.
        let n = rows.compactMap { $0["trainable"] as? Int }
        let head = n[0] - 512
        // RandLoRA r 2 on 32 × 32: N = 16 bases, Λ [2, 16] + Γ [16, 32] = 544 per layer, 4 layers.
        #expect(n[1] - head == 4 * 544)
    }
}

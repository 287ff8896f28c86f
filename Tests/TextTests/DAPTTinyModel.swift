import Core
import Foundation
import TestSupport
@testable import Text

/// A tiny BERT model folder for DAPT tests: the random-init `tiny/bert_tokencls` checkpoint of
/// the fixtures (transformers `BertForTokenClassification`, `bert.` keys, 2 layers, width 32,
/// vocab 100) plus a small `vocab.txt` written here (the fixture has no tokenizer).
enum DAPTTinyModel {
    /// 5 specials, 40 words, 5 continuation pieces, punctuation: 52 of the 100 embedding rows.
    static let vocabulary: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","] + [
        "the", "a", "cat", "dog", "bird", "sat", "ran", "flew", "on", "under", "over", "mat", "tree", "house", "red", "blue",
        "green", "big", "small", "is", "was", "and", "or", "it", "he", "she", "they", "saw", "ate", "fish", "seed", "bone",
        "river", "hill", "sun", "moon", "star", "sky", "night",
    ] + ["##s", "##ing", "##ed", "##er", "##ly"]

    /// A fresh folder under the temporary directory with the tiny checkpoint and the vocab.
    static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dapt-tiny-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = TestPaths.fixture("tiny/bert_tokencls")
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: src.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        try (vocabulary.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        return dir
    }

    /// Simple sentences over the tiny vocabulary, seeded: a "domain" with strong regularities
    /// (subject verb preposition object) that masked-LM training can learn quickly.
    static func sentences(_ n: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        func pick(_ a: [String]) -> String { a[Int(rng.next() % UInt64(a.count))] }
        return (0..<n).map { _ in
            "the \(pick(["red", "big", "small"])) \(pick(["cat", "dog", "bird"])) \(pick(["sat", "ran"])) on the \(pick(["mat", "hill"])) ."
        }
    }
}

import Core
import Foundation

/// A Hugging Face BERT-family model folder: `config.json`, `model.safetensors` (or shards) and
/// `tokenizer.json` / `vocab.txt`. Finds whether the weights carry a `bert.` prefix (saved from a
/// `BertForX` class) or none (a bare `BertModel`, as all-MiniLM-L6-v2), and checks that the
/// tokenizer and the embedding table agree.
///
/// ```swift
/// let ckpt = try BertCheckpoint(folder: dir)
/// let model = try BertModel(config: ckpt.config, at: ckpt.encoderPath)
/// try ckpt.verifyAllUsed()
/// ```
public struct BertCheckpoint {
    public let folder: URL
    public let config: BertConfig
    public let store: WeightStore
    /// `"bert"` when the keys are `bert.embeddings…`, `""` when they are `embeddings…`.
    public let encoderPrefix: String

    /// Reads the config and the weights (decoded to Float32, frozen). No tokenizer is read here.
    public init(folder path: String) throws {
        folder = URL(fileURLWithPath: path)
        let configURL = folder.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw IOError(.fileNotFound, file: configURL, "no config.json",
                          advice: "pass a Hugging Face model folder (config.json + model.safetensors + vocab.txt or tokenizer.json)")
        }
        config = try BertConfig(contentsOf: configURL)
        store = try WeightStore.load(directory: folder)
        if store.tensors["embeddings.word_embeddings.weight"] != nil {
            encoderPrefix = ""
        } else if store.tensors["bert.embeddings.word_embeddings.weight"] != nil {
            encoderPrefix = "bert"
        } else {
            throw BertError.notABertCheckpoint(folder: folder.path, sampleKeys: store.tensors.keys.sorted())
        }
    }

    /// Where the encoder's weights sit in the store.
    public var encoderPath: ParamPath { encoderPrefix.isEmpty ? store.root : store.root.pp(encoderPrefix) }

    /// Dotted key of an encoder-relative name in the checkpoint.
    public func encoderKey(_ name: String) -> String { encoderPrefix.isEmpty ? name : encoderPrefix + "." + name }

    /// Whether the checkpoint has pooler weights.
    public var hasPooler: Bool { store.tensors[encoderKey("pooler.dense.weight")] != nil }

    /// The checkpoint's own token-classification head when it has one of `numLabels` rows
    /// (made trainable, like a fresh head).
    public func classifierHead(numLabels: Int) throws -> Linear? {
        guard store.tensors["classifier.weight"]?.shape == [numLabels, config.hiddenSize],
              store.tensors["classifier.bias"]?.shape == [numLabels] else { return nil }
        let head = try Linear(inFeatures: config.hiddenSize, outFeatures: numLabels, at: store.root.pp("classifier"))
        head.weight.requiresGrad = true
        head.bias?.requiresGrad = true
        return head
    }

    /// Loads the folder's tokenizer and checks every id it can produce has an embedding row.
    public func tokenizer() throws -> WordPieceTokenizer {
        let tok = try WordPieceTokenizer(folder: folder.path)
        try checkVocabulary(tok)
        return tok
    }

    /// Throws when the tokenizer's ids reach past the word-embedding table. A smaller tokenizer
    /// is accepted: some checkpoints pad the table to a multiple of 8 or 64 rows.
    public func checkVocabulary(_ tokenizer: WordPieceTokenizer) throws {
        let rows = store.tensors[encoderKey("embeddings.word_embeddings.weight")]?.shape.first ?? config.vocabSize
        let size = max(tokenizer.vocabulary.count, (tokenizer.addedTokens.map(\.id).max() ?? -1) + 1)
        if size > rows || rows != config.vocabSize {
            throw BertError.vocabularyMismatch(folder: folder.path, tokenizerSize: size, embeddingRows: rows)
        }
    }

    /// Strict loading: every checkpoint tensor must have been used, except the `position_ids`
    /// buffer, heads of other tasks (`cls.`, `qa_outputs.`, …) and `extra` patterns.
    public func verifyAllUsed(ignoring extra: [String] = []) throws {
        let heads = ["embeddings.position_ids", "cls.", "qa_outputs.", "classifier.", "pooler."]
        // Task heads are skipped only when they are not what the caller built.
        let unused = store.unusedKeys.filter { key in
            !(heads + extra).contains { key.hasPrefix($0) || key.hasPrefix(encoderKey($0)) }
        }
        if !unused.isEmpty { throw WeightError.unusedKeys(unused) }
    }
}

extension BertModel {
    /// Loads a model folder: config, weights (strictly: every encoder tensor must exist with the
    /// right shape and none may be left over) and tokenizer. The pooler is built when the
    /// checkpoint has one unless `addPooler` says otherwise.
    public static func load(folder: String, addPooler: Bool? = nil, seed: UInt64 = 0) throws -> (model: BertModel, tokenizer: WordPieceTokenizer) {
        let ckpt = try BertCheckpoint(folder: folder)
        let tokenizer = try ckpt.tokenizer()
        let model = try BertModel(config: ckpt.config, addPooler: addPooler ?? ckpt.hasPooler, seed: seed, at: ckpt.encoderPath)
        try ckpt.verifyAllUsed()
        return (model, tokenizer)
    }
}

extension BertForTokenClassification {
    /// Loads a model folder with a token-classification head of `labels.count` classes: the
    /// checkpoint's own `classifier` when it has that shape, else a fresh seeded head (trainable).
    /// The encoder is frozen (loaded weights are) and the head trainable; call `unfreeze()` for
    /// full fine-tuning.
    public static func load(folder: String, labels: [String], seed: UInt64 = 0) throws -> (model: BertForTokenClassification, tokenizer: WordPieceTokenizer) {
        guard !labels.isEmpty else { throw BertError.badInput("a token classifier needs at least one label") }
        let ckpt = try BertCheckpoint(folder: folder)
        let tokenizer = try ckpt.tokenizer()
        var seeds = SplitMix64(seed: seed)
        let bert = try BertModel(config: ckpt.config, addPooler: false, seed: seeds.next(), at: ckpt.encoderPath)
        let headSeed = seeds.next()
        let head = try ckpt.classifierHead(numLabels: labels.count)
            ?? freshHead(config: ckpt.config, numLabels: labels.count, seed: headSeed)
        try ckpt.verifyAllUsed()
        return (BertForTokenClassification(bert: bert, classifier: head, labels: labels, seed: seeds.next()), tokenizer)
    }
}

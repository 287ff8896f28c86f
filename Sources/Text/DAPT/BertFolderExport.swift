import Core
import Foundation

/// Writes a plain Hugging Face BERT folder — `config.json`, `model.safetensors`, `vocab.txt`
/// (plus the source's `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json` when
/// it has them) — that `transformers.AutoModel.from_pretrained` and `BertModel.load` both read.
///
/// The weights are the encoder's module tree under a bare `BertModel`'s keys
/// (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`,
/// `pooler.dense.weight` when the model has a pooler), Float32. When the source checkpoint
/// carried the `embeddings.position_ids` buffer (all-MiniLM-L6-v2 does), it is written too
/// (int64 `[1, max_position_embeddings]`), so the key set equals the source's. The config is the
/// source `config.json` with `architectures` set to `["BertModel"]`; every other field is kept.
/// Each file is written to a temporary name and renamed.
public enum BertFolderExport {
    /// The tokenizer files copied from the source folder when present.
    public static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]

    /// Exports `bert` to `directory`. `source` is the folder the model was loaded from (config
    /// and tokenizer files); `tokenizer` writes `vocab.txt` when the source has none.
    public static func write(_ bert: BertModel, source: BertCheckpoint, tokenizer: WordPieceTokenizer, to directory: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        // Weights.
        var raw: [String: SafeTensors.RawTensor] = [:]
        for (key, t) in bert.namedParameters() {
            if let bad = t.storage.firstIndex(where: { !$0.isFinite }) {
                throw DAPTError("weight \(key)[\(bad)] is \(t.storage[bad]); training diverged — nothing was exported (lower --lr)")
            }
            raw[key] = SafeTensors.RawTensor(dtype: .f32, shape: t.shape, bytes: t.storage.withUnsafeBytes { Array($0) })
        }
        if source.store.tensors[source.encoderKey("embeddings.position_ids")] != nil {
            let n = bert.config.maxPositionEmbeddings
            let ids = (0..<Int64(n)).map { $0.littleEndian }
            raw["embeddings.position_ids"] = SafeTensors.RawTensor(dtype: .i64, shape: [1, n], bytes: ids.withUnsafeBytes { Array($0) })
        }
        try SafeTensors.write(raw: raw, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))

        // Config: the source's fields, as a bare BertModel.
        let configURL = source.folder.appendingPathComponent("config.json")
        guard let data = fm.contents(atPath: configURL.path),
              var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw DAPTError("\(configURL.path): cannot re-read the model's config.json to export it")
        }
        object["architectures"] = ["BertModel"]
        object["model_type"] = "bert"
        let json = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json + Data("\n".utf8), to: directory.appendingPathComponent("config.json"))

        // Tokenizer.
        let vocab = source.folder.appendingPathComponent("vocab.txt")
        if let bytes = fm.contents(atPath: vocab.path) {
            try AtomicFile.write(bytes, to: directory.appendingPathComponent("vocab.txt"))
        } else {
            let lines = tokenizer.vocabulary.tokens.joined(separator: "\n") + "\n"
            try AtomicFile.write(lines, to: directory.appendingPathComponent("vocab.txt"))
        }
        for name in tokenizerFiles {
            if let bytes = fm.contents(atPath: source.folder.appendingPathComponent(name).path) {
                try AtomicFile.write(bytes, to: directory.appendingPathComponent(name))
            }
        }
    }
}

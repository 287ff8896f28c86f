import Core
import Foundation

/// Problems loading or running a BERT-family model. Each description is one line that names the
/// file or input concerned and says what to do.
public enum BertError: Error, CustomStringConvertible, Equatable {
    /// `config.json` holds a value this implementation cannot honour (an unknown activation, a
    /// relative position scheme, a width not divisible by the head count).
    case unsupportedConfig(file: String, key: String, problem: String)
    /// The checkpoint holds neither `embeddings.word_embeddings.weight` nor `bert.embeddings…`.
    case notABertCheckpoint(folder: String, sampleKeys: [String])
    /// The tokenizer can produce ids the embedding table does not have.
    case vocabularyMismatch(folder: String, tokenizerSize: Int, embeddingRows: Int)
    /// Model inputs that do not fit together or exceed the model's limits.
    case badInput(String)

    public var description: String { oneLineMessage(rawDescription) }

    /// The message before control characters are escaped: keys and values come from the file.
    private var rawDescription: String {
        switch self {
        case let .unsupportedConfig(file, key, problem):
            return "\(file): key '\(clippedForMessage(key))': \(problem)"
        case let .notABertCheckpoint(folder, keys):
            let shown = keys.prefix(6).joined(separator: ", ")
            return "\(folder): no 'embeddings.word_embeddings.weight' (with or without a 'bert.' prefix) among the checkpoint keys (\(shown)\(keys.count > 6 ? ", …" : "")); pass a Hugging Face BERT-family model folder"
        case let .vocabularyMismatch(folder, tokenizerSize, rows):
            return "\(folder): the tokenizer has \(tokenizerSize) tokens but the word embedding has \(rows) rows; the vocab.txt/tokenizer.json belongs to a different model than model.safetensors — use the files from one model folder"
        case let .badInput(problem):
            return "BERT input: \(problem)"
        }
    }
}

extension BertError: LocalizedError {
    public var errorDescription: String? { description }
}

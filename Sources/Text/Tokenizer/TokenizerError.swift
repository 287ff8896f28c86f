/// Errors from loading a tokenizer. Each names the file and says what to do.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read at all.
    case unreadable(path: String, reason: String)
    /// The folder holds neither `tokenizer.json` nor `vocab.txt`.
    case noTokenizerFiles(folder: String)
    /// The file was read but its content is not what a WordPiece tokenizer needs.
    case invalid(path: String, problem: String)
    /// A required special token is not in the vocabulary.
    case missingSpecialToken(path: String, token: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read tokenizer file (\(reason)); check the path and permissions"
        case let .noTokenizerFiles(folder):
            return "\(folder): no tokenizer.json or vocab.txt found; point at a Hugging Face BERT model folder (run `make models` for the default MiniLM)"
        case let .invalid(path, problem):
            return "\(path): \(problem); use a Hugging Face BERT tokenizer file (WordPiece model)"
        case let .missingSpecialToken(path, token):
            return "\(path): special token '\(token)' is not in the vocabulary; the vocabulary does not belong to a BERT-style model or the token name is wrong"
        }
    }
}

import Core
import Foundation

/// The in-process encoder behind `--endpoint local` and behind `crosstune serve`: a BERT-family
/// model run in inference mode, returning the last hidden state per token (with [CLS] and
/// [SEP], as TEI's `/embed_all` does) or the masked mean, L2-normalised (`/embed`, as
/// sentence-transformers pools all-MiniLM-L6-v2).
///
/// Every text is encoded on its own (batch 1, no padding), so a text's features do not depend
/// on which other texts share its request: the HTTP path, whose batches differ with the cache
/// state, gives bit-identical numbers.
public final class LocalTextEncoder: TextFeatureSource {
    public let model: BertModel
    public let tokenizer: WordPieceTokenizer
    public let modelID: String
    public let endpointID = "local"
    /// Longest token sequence (the model's position limit); longer texts are truncated when
    /// `truncate` is set, else refused.
    public let maxLength: Int
    public private(set) var apiCalls = 0

    /// Loads a model folder (config.json, model.safetensors, vocab.txt / tokenizer.json).
    public init(folder: String, modelID: String? = nil) throws {
        (model, tokenizer) = try BertModel.load(folder: folder)
        model.eval()
        self.modelID = modelID ?? Self.defaultID(folder: folder)
        maxLength = model.config.maxPositionEmbeddings
    }

    /// A model already in memory (tests).
    public init(model: BertModel, tokenizer: WordPieceTokenizer, modelID: String) {
        self.model = model
        self.tokenizer = tokenizer
        self.modelID = modelID
        model.eval()
        maxLength = model.config.maxPositionEmbeddings
    }

    /// The folder's last path components that name the model (`…/all-MiniLM-L6-v2`).
    static func defaultID(folder: String) -> String {
        let parts = URL(fileURLWithPath: folder).standardizedFileURL.pathComponents.filter { $0 != "/" }
        if parts.count >= 2, parts.last == "model" { return parts[parts.count - 2] }
        return parts.last ?? folder
    }

    public func features(_ texts: [String], kind: FeatureKind) throws -> [TokenFeatures] {
        try features(texts, kind: kind, truncate: true)
    }

    /// Encodes each text; `truncate: false` refuses a text longer than `maxLength` tokens (TEI
    /// answers 422 then).
    public func features(_ texts: [String], kind: FeatureKind, truncate: Bool) throws -> [TokenFeatures] {
        apiCalls += 1
        return try withoutGrad {
            try texts.enumerated().map { (i, text) in
                var ids = tokenizer.encode(text).ids
                if ids.count > maxLength {
                    guard truncate else {
                        throw CrossTuneError("input \(i) has \(ids.count) tokens, more than the model's \(maxLength); set truncate")
                    }
                    // Keep [CLS] … and end with the last token ([SEP]), as TEI's right truncation does.
                    let last = ids[ids.count - 1]
                    ids = Array(ids.prefix(maxLength - 1)) + [last]
                }
                let input = try BertInput(inputIDs: ids, batch: 1, length: ids.count)
                let h = try model(input).lastHiddenState
                let dim = h.shape[2]
                let tokenFeatures = TokenFeatures(tokens: ids.count, dim: dim, values: h.storage)
                switch kind {
                case .tokens: return tokenFeatures
                case .pooled:
                    let m = tokenFeatures.mean
                    let norm = max(sqrt(m.reduce(0) { $0 + $1 * $1 }), 1e-12)
                    return TokenFeatures(tokens: 1, dim: dim, values: m.map { $0 / norm })
                }
            }
        }
    }
}

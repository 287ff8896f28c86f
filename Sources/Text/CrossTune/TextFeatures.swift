import Core
import Foundation

/// The hidden states a black-box encoder returns for one text: one `dim`-wide vector per token
/// (`/embed_all`), or a single pooled vector (`tokens == 1`, `/embed`). Row-major.
public struct TokenFeatures: Sendable, Equatable {
    public let tokens: Int
    public let dim: Int
    public let values: [Float]

    public init(tokens: Int, dim: Int, values: [Float]) {
        precondition(values.count == tokens * dim, "TokenFeatures: \(values.count) values do not fill [\(tokens), \(dim)]")
        self.tokens = tokens
        self.dim = dim
        self.values = values
    }

    /// The mean of the token vectors (`[dim]`).
    public var mean: [Float] {
        var out = [Float](repeating: 0, count: dim)
        for t in 0..<tokens { for j in 0..<dim { out[j] += values[t * dim + j] } }
        let n = Float(max(tokens, 1))
        return out.map { $0 / n }
    }
}

/// What kind of features a request asks for.
public enum FeatureKind: String, Sendable, CaseIterable {
    /// Per-token last hidden states (TEI `/embed_all`).
    case tokens
    /// The pooled, L2-normalised sentence embedding (TEI `/embed`).
    case pooled
}

/// The black-box interface: the only way CrossTune and its baselines see the language model.
/// It returns hidden representations for texts and nothing else: no weights, no gradients.
/// Implementations: `TEIClient` (HTTP), `LocalTextEncoder` (in process), `CachedFeatureSource`.
public protocol TextFeatureSource: AnyObject {
    /// Identifies the endpoint in caches and reports (`http://…` or `local`).
    var endpointID: String { get }
    /// The model behind it (TEI's `/info` `model_id`).
    var modelID: String { get }
    /// Features of each text, in order.
    func features(_ texts: [String], kind: FeatureKind) throws -> [TokenFeatures]
    /// How many requests went to the model so far (one per batch).
    var apiCalls: Int { get }
}

/// Errors of the black-box pipeline that are not plain HTTP or file errors.
public struct CrossTuneError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

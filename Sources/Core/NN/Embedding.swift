/// Errors from looking token ids up in an embedding table.
public enum EmbeddingError: Error, CustomStringConvertible, Equatable {
    case indexOutOfRange(key: String, index: Int, position: Int, size: Int)
    case shapeMismatch(key: String, ids: Int, shape: [Int])

    public var description: String {
        switch self {
        case let .indexOutOfRange(key, index, position, size):
            return "embedding '\(key)': id \(index) at position \(position) is outside 0..<\(size): check the tokenizer/vocabulary matches the model"
        case let .shapeMismatch(key, ids, shape):
            return "embedding '\(key)': \(ids) ids do not fill shape \(shape): pass a shape whose product is the number of ids"
        }
    }
}

/// A lookup table `weight [num, dim]` (PyTorch's `nn.Embedding`): id `i` selects row `i`.
/// The backward pass scatter-adds each output row's gradient into the row it came from, so
/// repeated ids accumulate (through `indexSelect`'s gradient).
///
/// ```swift
/// let emb = try Embedding(count: 100, dim: 32, at: root.pp("embeddings.word_embeddings"))
/// let x = try emb([3, 7, 7, 1], shape: [2, 2])   // [2, 2, 32]
/// ```
public final class Embedding: Module {
    public let weight: Tensor
    /// Checkpoint key of the table (for error messages).
    public let key: String
    public var count: Int { weight.shape[0] }
    public var dim: Int { weight.shape[1] }

    /// A table over an existing tensor `[num, dim]`.
    public init(weight: Tensor, key: String = "weight") {
        precondition(weight.rank == 2, "Embedding: weight must be [num, dim], got \(weight.shape)")
        self.weight = weight
        self.key = key
        super.init()
    }

    /// Builds `path.weight [count, dim]`; a fresh table is N(0, initStd²) (PyTorch's default is std 1,
    /// BERT-style models use 0.02).
    public convenience init(count: Int, dim: Int, initStd: Float = 1, at path: ParamPath) throws {
        let w = try path.get([count, dim], "weight", initializer: .normal(std: initStd))
        self.init(weight: w, key: path.key("weight"))
    }

    override public func namedLocalParameters() -> [(String, Tensor)] { [("weight", weight)] }

    /// Rows for `ids` arranged as `shape + [dim]`. Ids come from outside data (tokenizers,
    /// datasets), so a bad id is a thrown error, not a crash.
    public func callAsFunction(_ ids: [Int], shape: [Int]) throws -> Tensor {
        guard shape.reduce(1, *) == ids.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw EmbeddingError.shapeMismatch(key: key, ids: ids.count, shape: shape)
        }
        if let bad = ids.firstIndex(where: { $0 < 0 || $0 >= count }) {
            throw EmbeddingError.indexOutOfRange(key: key, index: ids[bad], position: bad, size: count)
        }
        return weight.indexSelect(axis: 0, ids).reshaped(shape + [dim])
    }

    /// Rows for a flat list of ids: `[ids.count, dim]`.
    public func callAsFunction(_ ids: [Int]) throws -> Tensor { try self(ids, shape: [ids.count]) }
}

/// Errors from looking weights up by name. Each names the dotted key and says what to do.
public enum WeightError: Error, CustomStringConvertible, Equatable {
    case missing(key: String, nearMatches: [String])
    case shapeMismatch(key: String, expected: [Int], found: [Int])
    case unusedKeys([String])

    public var description: String {
        switch self {
        case let .missing(key, near):
            let hint = near.isEmpty ? "check the checkpoint's key names (a rename may be needed)" : "did you mean \(near.joined(separator: ", "))?"
            return "missing weight '\(key)': \(hint)"
        case let .shapeMismatch(key, expected, found):
            return "weight '\(key)' has shape \(found) but the model expects \(expected): check the model config matches the checkpoint"
        case let .unusedKeys(keys):
            let shown = keys.prefix(10).joined(separator: ", ")
            return "\(keys.count) checkpoint key(s) were not used by the model: \(shown)\(keys.count > 10 ? ", …" : "") (strict mode; pass strict: false to ignore)"
        }
    }
}

/// Where model weights come from: a name → tensor map (loaded from files), optionally with
/// random initialisation for names it does not hold (new heads, tests). Records which keys
/// the model asked for, so unused and missing keys can be reported after building.
///
/// Weights found in the store are returned frozen (`requiresGrad = false`): loaded means
/// frozen, so adapters are the only trainable tensors unless a caller unfreezes.
public final class WeightStore {
    public private(set) var tensors: [String: Tensor]
    /// When set, names absent from `tensors` are created with this generator instead of failing.
    public var randomInit: SplitMix64?
    /// Maps a model key to the checkpoint key (candle's `rename_f`, mlx's `sanitize`).
    public var rename: (String) -> String = { $0 }
    public private(set) var usedKeys = Set<String>()
    /// Keys that were created by random initialisation, in request order.
    public private(set) var initializedKeys: [String] = []

    public init(tensors: [String: Tensor] = [:], randomSeed: UInt64? = nil) {
        self.tensors = tensors
        self.randomInit = randomSeed.map { SplitMix64(seed: $0) }
    }

    /// A store that holds nothing and initialises every weight randomly (fresh models, tests).
    public static func random(seed: UInt64) -> WeightStore { WeightStore(randomSeed: seed) }

    /// Root path for building a model.
    public var root: ParamPath { ParamPath(store: self, prefix: "") }

    /// How a weight is created when it is absent and random init is on.
    public enum Initializer {
        case kaimingUniform, zeros, ones, normal(std: Float), uniform(bound: Float)
    }

    /// The tensor for `key` with `shape`: from the map (frozen), or freshly initialised (trainable).
    public func get(_ key: String, shape: [Int], initializer: Initializer) throws -> Tensor {
        let source = rename(key)
        if let t = tensors[source] {
            guard t.shape == shape else { throw WeightError.shapeMismatch(key: source, expected: shape, found: t.shape) }
            usedKeys.insert(source)
            t.requiresGrad = false
            return t
        }
        guard var rng = randomInit else {
            throw WeightError.missing(key: source, nearMatches: nearMatches(for: source))
        }
        let t: Tensor
        switch initializer {
        case .kaimingUniform: t = Tensor.kaimingUniform(shape, using: &rng)
        case .zeros: t = Tensor.zeros(shape)
        case .ones: t = Tensor.ones(shape)
        case let .normal(std): t = Tensor.normal(shape, std: std, using: &rng)
        case let .uniform(bound): t = Tensor.uniform(shape, low: -bound, high: bound, using: &rng)
        }
        randomInit = rng
        t.requiresGrad = true
        initializedKeys.append(source)
        return t
    }

    /// Whether the store holds `key` (after renaming).
    public func contains(_ key: String) -> Bool { tensors[rename(key)] != nil }

    /// Checkpoint keys nobody asked for.
    public var unusedKeys: [String] { tensors.keys.filter { !usedKeys.contains($0) }.sorted() }

    /// Throws listing unused keys (strict loading, like mlx's `verify: [.all]`).
    public func verifyAllUsed(ignoring patterns: [String] = []) throws {
        let unused = unusedKeys.filter { key in !patterns.contains { key.contains($0) } }
        if !unused.isEmpty { throw WeightError.unusedKeys(unused) }
    }

    /// Up to three stored keys sharing the longest suffix with `key` (for error hints).
    func nearMatches(for key: String) -> [String] {
        let leaf = key.split(separator: ".").suffix(2).joined(separator: ".")
        let byLeaf = tensors.keys.filter { $0.hasSuffix(leaf) }.sorted()
        if !byLeaf.isEmpty { return Array(byLeaf.prefix(3)) }
        let last = key.split(separator: ".").last.map(String.init) ?? key
        return Array(tensors.keys.filter { $0.hasSuffix(last) }.sorted().prefix(3))
    }
}

/// A position in the weight namespace, like candle's `VarBuilder`: `pp("query")` goes one
/// level deeper, `get(shape, "weight")` fetches `prefix.weight` and checks its shape.
public struct ParamPath {
    public let store: WeightStore
    public let prefix: String

    public init(store: WeightStore, prefix: String) {
        self.store = store
        self.prefix = prefix
    }

    /// The path one level deeper (`encoder` → `encoder.layer`).
    public func pp(_ name: String) -> ParamPath {
        ParamPath(store: store, prefix: key(name))
    }

    /// Full dotted key of `name` under this path.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// The tensor `prefix.name` with the expected shape.
    public func get(_ shape: [Int], _ name: String, initializer: WeightStore.Initializer = .kaimingUniform) throws -> Tensor {
        try store.get(key(name), shape: shape, initializer: initializer)
    }

    /// Whether `prefix.name` exists in the store.
    public func contains(_ name: String) -> Bool { store.contains(key(name)) }
}

extension Linear {
    /// Builds a layer from `path.weight [out, in]` and (if `bias`) `path.bias [out]`.
    public convenience init(inFeatures: Int, outFeatures: Int, bias: Bool = true, at path: ParamPath) throws {
        let bound = 1 / Float(Swift.max(inFeatures, 1)).squareRoot()
        let w = try path.get([outFeatures, inFeatures], "weight", initializer: .kaimingUniform)
        let b = bias ? try path.get([outFeatures], "bias", initializer: .uniform(bound: bound)) : nil
        self.init(weight: w, bias: b)
    }
}

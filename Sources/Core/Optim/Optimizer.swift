/// Errors from restoring optimizer state (resume).
public enum OptimizerError: Error, CustomStringConvertible, Equatable {
    case stateShapeMismatch(key: String, expected: [Int], found: [Int])
    case unknownStateKey(key: String)
    /// A state value no optimizer writes (a step count that is negative, fractional or not finite).
    case badStateValue(key: String, value: String)

    public var description: String {
        switch self {
        case let .stateShapeMismatch(key, expected, found):
            return "optimizer state '\(key)' has shape \(found) but its parameter needs \(expected): the checkpoint belongs to a different model or adapter config"
        case let .unknownStateKey(key):
            return "optimizer state '\(key)' names no trainable parameter: resume with the same adapter config the checkpoint was saved with"
        case let .badStateValue(key, value):
            return "optimizer state '\(key)' holds \(value), which no optimizer writes: the checkpoint is damaged"
        }
    }
}

/// A gradient-descent optimizer over named trainable parameters (`model.trainableParameters()`).
///
/// State (moments, momentum buffers, step counts) is kept per parameter *name*, so it can be
/// written with the adapter checkpoint and restored on resume; `stateDict()` uses keys
/// `<parameter name>.<state name>`. Each optimizer implements one per-tensor update (mlx's
/// `applySingle`); parameters without a gradient are skipped, as in PyTorch.
///
/// ```swift
/// let opt = AdamW(learningRate: 1e-3)
/// let params = model.trainableParameters()
/// loss.backward(); opt.step(params); opt.zeroGrad(params)
/// ```
public protocol Optimizer: AnyObject {
    /// Learning rate used by the next `step` (schedules set it before each step). Double, like
    /// PyTorch's Python-float hyperparameters, so coefficients round to Float exactly as there.
    var learningRate: Double { get set }
    /// Applies one update to every parameter that has a gradient.
    func step(_ parameters: [(String, Tensor)])
    /// All state as named tensors (`<name>.exp_avg`, `<name>.step`, …).
    func stateDict() -> [String: Tensor]
    /// Restores state saved by `stateDict()`, checking each entry against `parameters`.
    func loadStateDict(_ state: [String: Tensor], for parameters: [(String, Tensor)]) throws
    /// Clears the state of some elements of parameter `name` (flat indices) as if they had never
    /// been updated: adapters that activate new slots of a tensor mid-training (TriAdaptLoRA)
    /// call it so the new slots start from zero moments. Default: nothing to clear.
    func resetState(_ name: String, elements: [Int])
}

extension Optimizer {
    public func resetState(_ name: String, elements: [Int]) {}

    /// Clears the gradients of `parameters`.
    public func zeroGrad(_ parameters: [(String, Tensor)]) {
        for (_, p) in parameters { p.zeroGrad() }
    }
}

/// Which parameters get weight decay, by name.
public enum WeightDecayRule: Sendable {
    /// Every parameter (PyTorch's default for one parameter group).
    case all
    /// Everything except biases and normalisation weights (Hugging Face Trainer's grouping).
    case excludeBiasAndNorm

    /// Whether the parameter `name` decays.
    public func applies(to name: String) -> Bool {
        switch self {
        case .all: return true
        case .excludeBiasAndNorm:
            if name == "bias" || name.hasSuffix(".bias") { return false }
            let parts = name.lowercased().split(separator: ".")
            return !parts.dropLast().contains { $0.contains("norm") }
        }
    }
}

/// Shared helpers for the optimizers' state dictionaries.
enum OptimizerState {
    /// Splits `<param>.<state>` and checks the parameter exists with the expected shape.
    static func validate(_ state: [String: Tensor], parameters: [(String, Tensor)],
                         shapes: (String, [Int]) -> [Int]?) throws -> [String: (param: String, entry: String)] {
        let byName = Dictionary(parameters.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        var out: [String: (String, String)] = [:]
        for (key, value) in state {
            guard let dot = key.lastIndex(of: ".") else { throw OptimizerError.unknownStateKey(key: key) }
            let param = String(key[..<dot]), entry = String(key[key.index(after: dot)...])
            guard let p = byName[param], let expected = shapes(entry, p.shape) else {
                throw OptimizerError.unknownStateKey(key: key)
            }
            guard value.shape == expected else {
                throw OptimizerError.stateShapeMismatch(key: key, expected: expected, found: value.shape)
            }
            out[key] = (param, entry)
        }
        return out
    }
}

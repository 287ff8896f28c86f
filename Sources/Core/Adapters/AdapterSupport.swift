import Foundation

/// Errors raised while building, injecting, merging or loading adapters. Each message names
/// the key or setting at fault and says what to do.
public enum AdapterError: Error, CustomStringConvertible, Equatable {
    case invalidRank(key: String, rank: Int, limit: Int)
    case invalidSetting(String)
    case nothingMatched(targets: String, available: [String])
    case duplicateAdapter(name: String)
    case unknownAdapter(name: String, available: [String])
    case notMergeable(method: String)
    case missingKey(file: String, key: String)
    case shapeMismatch(file: String, key: String, expected: [Int], found: [Int])
    case badConfig(file: String, detail: String)
    case badFile(file: String, detail: String)

    public var description: String {
        switch self {
        case let .invalidRank(key, rank, limit):
            return "'\(key)': rank \(rank) is invalid (must be 1…\(limit)); choose r within that range"
        case let .invalidSetting(s):
            return s
        case let .nothingMatched(targets, available):
            let shown = available.prefix(40).joined(separator: ", ")
            return "target_modules \(clippedForMessage(targets, limit: 200)) matched no module; the model's Linear layers are: \(shown)\(available.count > 40 ? ", …" : "") (use a name, a dotted suffix, or a regex that matches the whole key)"
        case let .duplicateAdapter(name):
            return "an adapter named '\(name)' already exists; delete it first or choose another name"
        case let .unknownAdapter(name, available):
            return "no adapter named '\(name)' (present: \(available.joined(separator: ", ")))"
        case let .notMergeable(method):
            return "\(method) cannot be merged into the base weights (its output depends on per-call inputs); keep it unmerged"
        case let .missingKey(file, key):
            return "\(file): missing tensor '\(key)'; the adapter file does not match this configuration (wrong base model or target_modules?)"
        case let .shapeMismatch(file, key, expected, found):
            return "\(file): tensor '\(key)' has shape \(found) but the model needs \(expected): the adapter was trained for another base model"
        case let .badConfig(file, detail):
            return "\(file): \(detail)"
        case let .badFile(file, detail):
            return "\(file): \(detail)"
        }
    }
}

/// What `PeftModel` needs from each adapter attached to a `Linear`: its name (for several
/// adapters on one layer), its parameters under PEFT file keys, and whether it can merge.
public protocol ManagedLinearAdapter: LinearAdapter {
    /// The adapter name (peft's `adapter_name`); `"default"` keeps file-style keys
    /// (`lora_A.weight`), any other name is inserted after the first key segment
    /// (`lora_A.second.weight`), as peft does in memory.
    var adapterName: String { get set }
    /// Parameters keyed as in an `adapter_model.safetensors`, relative to the host Linear,
    /// without the adapter name.
    func stateEntries() -> [(String, Tensor)]
    /// Whether `merge(into:)` is exact (false for adapters whose output depends on per-call
    /// mixing weights, conditions or task ids).
    var isMergeable: Bool { get }
}

extension ManagedLinearAdapter {
    /// `stateEntries()` with the adapter name inserted, for `namedLocalParameters()`.
    func taggedEntries() -> [(String, Tensor)] {
        stateEntries().map { (insertAdapterName(adapterName, into: $0.0), $0.1) }
    }
}

/// `lora_A.weight` → `lora_A.<name>.weight`; `lora_magnitude_vector` → `lora_magnitude_vector.<name>`.
/// The default adapter keeps the file key so a model's parameter keys equal peft's saved keys.
func insertAdapterName(_ name: String, into key: String) -> String {
    guard name != "default" else { return key }
    guard let dot = key.firstIndex(of: ".") else { return key + "." + name }
    return String(key[..<dot]) + "." + name + String(key[dot...])
}

/// Inverted dropout with a caller-owned seeded stream: masks depend only on the adapter's
/// own seed and how many times it ran, never on other layers.
func seededDropout(_ x: Tensor, p: Float, rng: inout SplitMix64) -> Tensor {
    guard p > 0 else { return x }
    if p >= 1 { return x * Tensor.zeros(x.shape) }
    let keep = 1 / (1 - p)
    var mask = [Float](repeating: 0, count: x.count)
    for i in 0..<mask.count where rng.nextUnitFloat() >= p { mask[i] = keep }
    return x * Tensor(mask, shape: x.shape)
}

/// `c[m, n] += alpha · a[m, k] · b[k, n]` on row-major buffers (used to fold low-rank
/// products into a weight without building a temporary tensor).
func addProduct(_ c: inout [Float], _ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, alpha: Float) {
    precondition(c.count == m * n && a.count == m * k && b.count == k * n, "addProduct: sizes do not agree")
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                BLAS.sgemm(
                    transA: false, transB: false, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: k,
                    b: bp.baseAddress!, ldb: n, beta: 1, c: cp.baseAddress!, ldc: n)
            }
        }
    }
}

/// Euclidean norm of each row of a row-major `[rows, cols]` buffer, accumulated in Double.
func rowNorms(_ w: [Float], rows: Int, cols: Int) -> [Float] {
    (0..<rows).map { i in
        var s = 0.0
        for j in 0..<cols {
            let v = Double(w[i * cols + j])
            s += v * v
        }
        return Float(s.squareRoot())
    }
}

/// A stable 64-bit FNV-1a hash of a string (seeds per-layer random streams by module key, so
/// initialisation does not depend on the order layers are visited).
func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01B3
    }
    return h
}

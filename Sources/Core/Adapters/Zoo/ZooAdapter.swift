import Foundation

/// Common ground of the methods-zoo adapters (`docs/methods-zoo.md`): PEFT-layout state with
/// trainable tensors and frozen *buffers*, and a default forward/merge for methods whose
/// update is a dense `ΔW [out, in]` (plus an optional `Δb [out]`).
///
/// Buffers (random bases, fixed indices, locations) are saved and loaded under their PEFT keys
/// (they are part of `stateEntries()`), but they never appear in `namedLocalParameters()`, so
/// they are neither counted nor handed to an optimiser. `PeftModel` marks every state entry
/// trainable when it activates an adapter; `freezeBuffers()` (called at the top of every
/// forward) undoes that for buffers before any graph is recorded, so no gradient work is spent
/// on them.
///
/// Merging stores the delta it folded in and unmerge subtracts exactly that, so methods whose
/// delta depends on the base weight itself (Hydra's sequential branch, TLoRA's transform)
/// restore the weight up to float rounding.
public class ZooAdapter: Module, ManagedLinearAdapter {
    public var adapterName = "default"
    /// The delta folded in by the last `merge(into:)` (weight, bias).
    var mergedDelta: (weight: [Float], bias: [Float]?)?

    override init() { super.init() }

    /// Tensors the optimiser updates, keyed as in `adapter_model.safetensors`.
    public func trainableEntries() -> [(String, Tensor)] { [] }
    /// Frozen tensors saved with the adapter (bases, indices, locations).
    public func bufferEntries() -> [(String, Tensor)] { [] }

    public func stateEntries() -> [(String, Tensor)] { trainableEntries() + bufferEntries() }
    override public func namedLocalParameters() -> [(String, Tensor)] {
        trainableEntries().map { (insertAdapterName(adapterName, into: $0.0), $0.1) }
    }
    public var isMergeable: Bool { true }

    /// Scalars the optimiser updates (the method's parameter-count formula).
    public var trainableCount: Int { trainableEntries().reduce(0) { $0 + $1.1.count } }

    /// Checks loaded buffers (indices, locations) against `layer`, so a corrupt or mismatched file
    /// is a one-line error naming `file` instead of a failure in the forward. Meant to run right
    /// after `PeftModel` copies a file's tensors in.
    public func validateLoaded(layer: Linear, file: String) throws {}

    /// Whether every value is a whole number in `0..<limit`.
    static func allIndices(_ values: [Float], below limit: Int) -> Bool {
        values.allSatisfy { $0 >= 0 && $0 < Float(limit) && $0 == $0.rounded() }
    }

    /// Re-freezes buffers (see the type comment).
    func freezeBuffers() { for (_, t) in bufferEntries() where t.requiresGrad { t.requiresGrad = false } }

    /// `ΔW [out, in]`, recorded for autograd. Methods with a factored forward override
    /// `forward` too and use this for merging only.
    public func deltaWeight(layer: Linear) -> Tensor {
        preconditionFailure("\(type(of: self)) must override deltaWeight(layer:)")
    }

    /// `Δb [out]` (nil: the bias is unchanged).
    public func deltaBias(layer: Linear) -> Tensor? { nil }

    public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        freezeBuffers()
        return baseOutput + input.linear(weight: deltaWeight(layer: layer), bias: deltaBias(layer: layer))
    }

    public func merge(into layer: Linear) {
        freezeBuffers()
        let (dw, db) = withoutGrad { (deltaWeight(layer: layer).storage, deltaBias(layer: layer)?.storage) }
        precondition(dw.count == layer.weight.count, "\(type(of: self)): delta does not fit \(layer.weight.shape)")
        for i in 0..<dw.count { layer.weight.storage[i] += dw[i] }
        if let db {
            precondition(layer.bias != nil, "\(type(of: self)): a bias delta needs a Linear with a bias")
            for i in 0..<db.count { layer.bias!.storage[i] += db[i] }
        }
        mergedDelta = (dw, db)
    }

    public func unmerge(from layer: Linear) {
        guard let (dw, db) = mergedDelta else { return }
        for i in 0..<dw.count { layer.weight.storage[i] -= dw[i] }
        if let db, let b = layer.bias { for i in 0..<db.count { b.storage[i] -= db[i] } }
        mergedDelta = nil
    }
}

/// Small numeric helpers shared by the zoo methods.
enum ZooMath {
    /// A value uniform in [−√3, √3) (mean 0, standard deviation 1) that depends only on the seed
    /// and the index tuple, so any slice of a large basis equals the basis generated at the
    /// slice's size (the property peft gets by slicing one shared basis).
    static func unitUniform(seed: UInt64, _ indices: [Int]) -> Float {
        (2 * unitFloat(seed: seed, indices) - 1) * Float(3).squareRoot()
    }

    /// A value uniform in [0, 1) that depends only on the seed and the index tuple.
    static func unitFloat(seed: UInt64, _ indices: [Int]) -> Float {
        var h = SplitMix64(seed: seed)
        for i in indices { h = h.fork(UInt64(truncatingIfNeeded: i) &+ 0x9E37) }
        return h.nextUnitFloat()
    }

    /// The first `count` entries of a seeded Fisher–Yates permutation of `0..<n`.
    static func randomSubset(_ n: Int, count: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        var p = Array(0..<n)
        for i in 0..<Swift.min(count, n) {
            let j = i + Int(rng.next() % UInt64(n - i))
            p.swapAt(i, j)
        }
        return Array(p[0..<Swift.min(count, n)])
    }

    /// Xavier (Glorot) uniform for a `[fanOut, fanIn]` weight.
    static func xavierUniform(_ shape: [Int], using rng: inout SplitMix64) -> Tensor {
        let bound = (6 / Float(shape[0] + shape[1])).squareRoot()
        return Tensor.uniform(shape, low: -bound, high: bound, using: &rng)
    }

    /// peft's `factorization(dimension, factor)` (LoKr): the divisor pair `(m, n)`, `m ≤ n`,
    /// `m·n = dimension`, closest to √dimension, or `(factor, dimension/factor)` when `factor`
    /// divides it. With `factor > 0` not dividing, the search stops at divisors above `factor`.
    static func factorization(_ dimension: Int, factor: Int = -1) -> (Int, Int) {
        if factor > 0 && dimension % factor == 0 {
            let m = factor, n = dimension / factor
            return m > n ? (n, m) : (m, n)
        }
        let limit = factor < 0 ? dimension : factor
        var m = 1, n = dimension
        let length = m + n  // peft compares against the first sum only
        while m < n {
            var newM = m + 1
            while dimension % newM != 0 { newM += 1 }
            let newN = dimension / newM
            if newM + newN > length || newM > limit { break }
            m = newM
            n = newN
        }
        return m > n ? (n, m) : (m, n)
    }

    /// Orthonormal DCT-II matrix `[n, n]`: row k is the k-th cosine basis vector, so
    /// `C·x` is the DCT of x and `Cᵀ·X` its inverse.
    static func dctMatrix(_ n: Int) -> [Float] {
        var c = [Float](repeating: 0, count: n * n)
        for k in 0..<n {
            let norm = (k == 0 ? (1 / Double(n)) : (2 / Double(n))).squareRoot()
            for t in 0..<n { c[k * n + t] = Float(norm * cos(Double.pi * Double((2 * t + 1) * k) / Double(2 * n))) }
        }
        return c
    }

    /// Row `k` of the DCT-II matrix of size `n`.
    static func dctRow(_ n: Int, _ k: Int) -> [Float] {
        let norm = (k == 0 ? (1 / Double(n)) : (2 / Double(n))).squareRoot()
        return (0..<n).map { t in Float(norm * cos(Double.pi * Double((2 * t + 1) * k) / Double(2 * n))) }
    }
}

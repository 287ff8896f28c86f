/// A dense, contiguous, row-major Float32 array with an optional autograd history.
///
/// Every op returns a new tensor; storage is never shared between tensors, so in-place
/// updates (optimizers, merges) cannot silently change another tensor's value.
///
/// ```swift
/// let x = Tensor([1, 2, 3, 4], shape: [2, 2], requiresGrad: true)
/// let y = (x * x).sum()
/// y.backward()          // x.grad == 2x
/// ```
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Element values, row-major. Mutate only outside of a recorded graph (optimizer steps, loading).
    public var storage: [Float]
    /// Sizes of each axis; `[]` is a scalar.
    public let shape: [Int]
    /// Whether gradients flow to this tensor. Leaves set it explicitly (parameters);
    /// results of ops set it when any input requires a gradient and grad mode is on.
    public var requiresGrad: Bool
    /// Accumulated gradient buffer (same count as `storage`), filled by `backward()`.
    public var gradStorage: [Float]?
    /// How this tensor was computed; nil for leaves and for results built without grad.
    var node: GradNode?
    /// Optional label used in error messages and debugging.
    public var label: String?

    /// Creates a tensor from values and a shape; the product of `shape` must equal `values.count`.
    public init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative size in shape \(shape)")
        precondition(
            shape.reduce(1, *) == values.count,
            "Tensor: \(values.count) values do not fill shape \(shape) (needs \(shape.reduce(1, *)))")
        self.storage = values
        self.shape = shape
        self.requiresGrad = requiresGrad
    }

    /// A 1-D tensor holding `values`.
    public convenience init(_ values: [Float], requiresGrad: Bool = false) {
        self.init(values, shape: [values.count], requiresGrad: requiresGrad)
    }

    /// A 0-d tensor.
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init([scalar], shape: [], requiresGrad: requiresGrad)
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }

    /// The gradient as a tensor (nil until `backward()` reached this tensor).
    public var grad: Tensor? {
        get { gradStorage.map { Tensor($0, shape: shape) } }
        set {
            if let g = newValue {
                precondition(g.shape == shape, "grad shape \(g.shape) != tensor shape \(shape)")
                gradStorage = g.storage
            } else {
                gradStorage = nil
            }
        }
    }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        return storage[0]
    }

    /// Size of axis `axis` (negative counts from the end).
    public func size(_ axis: Int) -> Int { shape[normalizeAxis(axis, rank: rank)] }

    /// A copy with no autograd history (shares nothing with `self`).
    public func detached() -> Tensor { Tensor(storage, shape: shape) }

    /// Clears the accumulated gradient.
    public func zeroGrad() { gradStorage = nil }

    /// Adds `g` (same count) into the gradient buffer, allocating it on first use.
    @inlinable
    public func accumulateGrad(_ g: [Float]) {
        if gradStorage == nil {
            gradStorage = g
            return
        }
        precondition(g.count == count, "accumulateGrad: \(g.count) values for \(count)")
        gradStorage!.withUnsafeMutableBufferPointer { dst in
            g.withUnsafeBufferPointer { src in
                for i in 0..<dst.count { dst[i] += src[i] }
            }
        }
    }

    public var description: String {
        let head = storage.prefix(8).map { String(format4($0)) }.joined(separator: ", ")
        let more = count > 8 ? ", …" : ""
        return "Tensor(shape: \(shape), [\(head)\(more)]\(requiresGrad ? ", requiresGrad" : ""))"
    }
}

/// Short fixed formatting without Foundation.
@usableFromInline func format4(_ v: Float) -> String {
    let r = (Double(v) * 10_000).rounded() / 10_000
    return "\(r)"
}

/// Maps a possibly negative axis into `0..<rank`, trapping with a clear message when out of range.
@inlinable
public func normalizeAxis(_ axis: Int, rank: Int) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < max(rank, 1), "axis \(axis) out of range for rank \(rank)")
    return a
}

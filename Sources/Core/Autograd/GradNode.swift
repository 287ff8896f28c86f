/// The autograd record of one op result: its differentiable inputs and a rule that,
/// given the gradient of the result, accumulates into those inputs' gradients.
///
/// The rule must only do work for parents whose `requiresGrad` is true, so a frozen
/// weight costs nothing in the backward pass.
final class GradNode {
    let parents: [Tensor]
    let name: String
    let backward: (_ gradOut: [Float]) -> Void

    init(_ name: String, parents: [Tensor], backward: @escaping (_ gradOut: [Float]) -> Void) {
        self.name = name
        self.parents = parents
        self.backward = backward
    }
}

extension Tensor {
    /// True when an op on `inputs` should record history right now.
    @inlinable
    static func shouldRecord(_ inputs: [Tensor]) -> Bool {
        GradMode.isEnabled && inputs.contains { $0.requiresGrad }
    }

    /// Attaches a backward rule to `self` (an op result) when any input requires a gradient.
    /// Returns `self` so ops can end with `return out.recording(...)`.
    @discardableResult
    public func recording(
        _ name: String, _ inputs: [Tensor], backward: @escaping (_ gradOut: [Float]) -> Void
    ) -> Tensor {
        guard Tensor.shouldRecord(inputs) else { return self }
        requiresGrad = true
        node = GradNode(name, parents: inputs.filter { $0.requiresGrad }, backward: backward)
        return self
    }

    /// Name of the op that produced this tensor ("leaf" for inputs and parameters).
    public var opName: String { node?.name ?? "leaf" }

    /// Back-propagates from this tensor. A scalar seeds with 1; otherwise pass `gradient`
    /// of the same shape. Gradients accumulate into every reachable tensor that requires
    /// one; intermediate results drop their buffers afterwards unless `retainGraph`.
    public func backward(gradient: Tensor? = nil, retainGraph: Bool = false) {
        precondition(requiresGrad, "backward(): tensor does not require grad (is every input frozen?)")
        let seed: [Float]
        if let g = gradient {
            precondition(g.shape == shape, "backward(): gradient shape \(g.shape) != \(shape)")
            seed = g.storage
        } else {
            precondition(count == 1, "backward(): non-scalar output \(shape) needs an explicit gradient")
            seed = [Float](repeating: 1, count: count)
        }
        let order = topologicalOrder()
        accumulateGrad(seed)
        for t in order.reversed() {
            guard let node = t.node, let g = t.gradStorage else { continue }
            node.backward(g)
            if !retainGraph {
                // Intermediate results do not keep gradients (as in PyTorch); leaves do.
                t.gradStorage = nil
                t.node = nil
            }
        }
    }

    /// Tensors reachable through `node` parents, parents before children (iterative DFS).
    func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded {
                order.append(t)
                continue
            }
            let id = ObjectIdentifier(t)
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((t, true))
            if let node = t.node {
                for p in node.parents where !visited.contains(ObjectIdentifier(p)) {
                    stack.append((p, false))
                }
            }
        }
        return order
    }
}

import Core

/// Links between the tensors and nodes of an `ONNXModel`, for importers that find weights by
/// following the data flow instead of trusting initializer names: which node produces a tensor,
/// which nodes consume it, and which tensors are constants (initializers or `Constant` nodes).
///
/// Every step names the op it expects, so a graph exported differently stops with an error that
/// says where the pattern broke (`place`) instead of producing a silently wrong weight map.
struct ONNXGraphIndex {
    typealias Node = ONNXModel.Node
    let model: ONNXModel
    private var producerIndex: [String: Int] = [:]
    private var consumerIndex: [String: [Int]] = [:]

    init(_ model: ONNXModel) {
        self.model = model
        for (i, node) in model.nodes.enumerated() {
            for o in node.outputs where !o.isEmpty { producerIndex[o] = i }
            for t in node.inputs where !t.isEmpty { consumerIndex[t, default: []].append(i) }
        }
    }

    var file: String { model.path }

    func fail(_ place: String, _ what: String) -> VisionModelError {
        .importFailed(file: file, place: place, what: what + "; this does not look like a Hugging Face Dinov2 export")
    }

    /// The node producing `tensor` (nil for graph inputs and initializers).
    func producer(of tensor: String) -> Node? { producerIndex[tensor].map { model.nodes[$0] } }

    /// Nodes reading `tensor`, in graph order.
    func consumers(of tensor: String) -> [Node] { (consumerIndex[tensor] ?? []).map { model.nodes[$0] } }

    func isInitializer(_ tensor: String) -> Bool { model.initializers[tensor] != nil }

    /// The values of a constant tensor: an initializer or the output of a `Constant` node.
    func constant(_ tensor: String) -> [Float]? {
        if let i = model.initializers[tensor] { return i.values }
        guard let p = producer(of: tensor), p.opType == "Constant" else { return nil }
        switch p.attributes["value"] {
        case .tensor(let t)?: return t.values
        case .float(let f)?: return [f]
        case .floats(let f)?: return f
        default:
            if case .float(let f)? = p.attributes["value_float"] { return [f] }
            return nil
        }
    }

    /// The node producing `tensor`, which must be an `op` node.
    func producer(of tensor: String, op: String, _ place: String) throws -> Node {
        guard let node = producer(of: tensor) else { throw fail(place, "expected \(op) producing '\(tensor)', found a graph input or initializer") }
        guard node.opType == op else { throw fail(place, "expected \(op) producing '\(tensor)', found \(node.opType) ('\(node.name)')") }
        return node
    }

    /// Like `producer(of:op:)`, but first steps back over float-to-float `Cast` nodes (the export
    /// keeps PyTorch's `.to(torch.float32)` calls around the position resize).
    func producerSkippingCasts(of tensor: String, op: String, _ place: String) throws -> Node {
        var current = tensor
        var steps = 0
        while let node = producer(of: current), node.opType == "Cast", steps < 8 {
            guard ints(node, "to") == [1] else { throw fail(place, "Cast '\(node.name)' converts to type \(ints(node, "to") ?? []), not float32") }
            current = node.inputs[0]
            steps += 1
        }
        return try producer(of: current, op: op, place)
    }

    /// The single consumer of `tensor` whose op is `op`.
    func consumer(of tensor: String, op: String, _ place: String) throws -> Node {
        let found = consumers(of: tensor).filter { $0.opType == op }
        guard found.count == 1 else {
            throw fail(place, "expected one \(op) reading '\(tensor)', found \(found.count) (consumers: \(consumers(of: tensor).map(\.opType)))")
        }
        return found[0]
    }

    /// For a binary op with one constant operand: (data operand, constant values).
    func splitConstant(_ node: Node, _ place: String) throws -> (data: String, constant: [Float]) {
        guard node.inputs.count == 2 else { throw fail(place, "\(node.opType) '\(node.name)' has \(node.inputs.count) inputs, expected 2") }
        let (a, b) = (node.inputs[0], node.inputs[1])
        if let c = constant(b), constant(a) == nil { return (a, c) }
        if let c = constant(a), constant(b) == nil { return (b, c) }
        throw fail(place, "\(node.opType) '\(node.name)' should have exactly one constant operand")
    }

    /// For a binary op with one initializer operand: (data operand, initializer name).
    func splitInitializer(_ node: Node, _ place: String) throws -> (data: String, initializer: String) {
        guard node.inputs.count == 2 else { throw fail(place, "\(node.opType) '\(node.name)' has \(node.inputs.count) inputs, expected 2") }
        let (a, b) = (node.inputs[0], node.inputs[1])
        if isInitializer(b) && !isInitializer(a) { return (a, b) }
        if isInitializer(a) && !isInitializer(b) { return (b, a) }
        throw fail(place, "\(node.opType) '\(node.name)' should read exactly one initializer")
    }

    /// The integer-list attribute `name` of `node` (nil when absent).
    func ints(_ node: Node, _ name: String) -> [Int]? {
        switch node.attributes[name] {
        case .ints(let v)?: return v.map { Int($0) }
        case .int(let v)?: return [Int(v)]
        default: return nil
        }
    }

    /// A `Transpose` producing `tensor` with permutation `perm`; returns its input.
    func transpose(producing tensor: String, perm: [Int], _ place: String) throws -> String {
        let node = try producer(of: tensor, op: "Transpose", place)
        guard ints(node, "perm") == perm else {
            throw fail(place, "Transpose '\(node.name)' has perm \(ints(node, "perm") ?? []), expected \(perm)")
        }
        return node.inputs[0]
    }

    /// A decomposed LayerNorm ending at `output` (ReduceMean → Sub → Pow 2 → ReduceMean → Add eps →
    /// Sqrt → Div → Mul weight → Add bias): its input, weight and bias initializers, and eps.
    func layerNorm(output: String, _ place: String) throws -> (input: String, weight: String, bias: String, eps: Float) {
        let addBias = try producer(of: output, op: "Add", place)
        let (scaled, bias) = try splitInitializer(addBias, place)
        let mulWeight = try producer(of: scaled, op: "Mul", place)
        let (normalized, weight) = try splitInitializer(mulWeight, place)
        let div = try producer(of: normalized, op: "Div", place)
        let sub = try producer(of: div.inputs[0], op: "Sub", place)
        let input = sub.inputs[0]
        let mean = try producer(of: sub.inputs[1], op: "ReduceMean", place)
        guard mean.inputs.first == input else { throw fail(place, "LayerNorm mean does not read the LayerNorm input") }
        let sqrt = try producer(of: div.inputs[1], op: "Sqrt", place)
        let addEps = try producer(of: sqrt.inputs[0], op: "Add", place)
        let (variance, eps) = try splitConstant(addEps, place)
        let varMean = try producer(of: variance, op: "ReduceMean", place)
        let pow = try producer(of: varMean.inputs[0], op: "Pow", place)
        let (deviation, exponent) = try splitConstant(pow, place)
        guard deviation == div.inputs[0], exponent == [2], eps.count == 1 else {
            throw fail(place, "LayerNorm variance is not the mean of the squared deviation plus one eps")
        }
        for m in [mean, varMean] where ints(m, "axes").map({ $0 != [-1] }) ?? false {
            throw fail(place, "LayerNorm reduces over axes \(ints(m, "axes") ?? []), expected the last axis")
        }
        return (input, weight, bias, eps[0])
    }

    /// `y = x @ W + b` ending at the bias `Add` producing `output`: (x, W initializer, b initializer).
    func linear(output: String, _ place: String) throws -> (input: String, weight: String, bias: String) {
        let add = try producer(of: output, op: "Add", place)
        let (product, bias) = try splitInitializer(add, place)
        let matmul = try producer(of: product, op: "MatMul", place)
        guard matmul.inputs.count == 2, isInitializer(matmul.inputs[1]), !isInitializer(matmul.inputs[0]) else {
            throw fail(place, "MatMul '\(matmul.name)' should multiply data by an initializer on the right")
        }
        return (matmul.inputs[0], matmul.inputs[1], bias)
    }

    /// Follows `x @ W + b` forward from `input` (the single MatMul reading it whose right operand is
    /// an initializer): (W, b, output of the Add).
    func linear(from input: String, _ place: String) throws -> (weight: String, bias: String, output: String) {
        let matmuls = consumers(of: input).filter { $0.opType == "MatMul" && $0.inputs.first == input && isInitializer($0.inputs[1]) }
        guard matmuls.count == 1 else { throw fail(place, "expected one weight MatMul reading '\(input)', found \(matmuls.count)") }
        let add = try consumer(of: matmuls[0].outputs[0], op: "Add", place)
        let (_, bias) = try splitInitializer(add, place)
        return (matmuls[0].inputs[1], bias, add.outputs[0])
    }
}

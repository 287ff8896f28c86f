import Core
import Foundation

/// Builds an `SFaceModel` by walking an ONNX graph node by node (in the file's topological
/// order) and mapping each op onto a Core module. Nothing is matched by initializer name:
/// every weight is the one the node actually reads, every attribute is checked, and anything
/// the mapping cannot represent exactly (dilation, asymmetric padding, transposed A in Gemm,
/// an unknown op) stops the import with an error naming the node.
enum SFaceONNXImport {
    typealias Step = SFaceModel.Step

    static let supportedOps = ["Sub", "Mul", "Conv", "BatchNormalization", "PRelu", "Add", "Dropout", "Flatten", "Gemm"]

    static func makeModel(_ model: ONNXModel) throws -> SFaceModel {
        let file = model.path
        func fail(_ node: ONNXModel.Node, _ what: String) -> VisionModelError {
            .importFailed(file: file, place: "node '\(node.name)' (\(node.opType))", what: what)
        }
        guard let input = model.inputs.first(where: { model.initializers[$0] == nil }) else {
            throw VisionModelError.importFailed(file: file, place: "graph inputs", what: "no data input (every input is an initializer)")
        }
        guard let output = model.outputs.first else {
            throw VisionModelError.importFailed(file: file, place: "graph outputs", what: "the graph declares no output")
        }
        // Per data tensor: rank and channel count (axis 1), and the product of strides so far.
        var rank: [String: Int] = [input: 4]
        var channels: [String: Int] = [input: 3]
        var stride: [String: Int] = [input: 1]
        var flattened: (channels: Int, stride: Int)?
        var steps: [Step] = []
        var embedding = 0
        var gemmInputs = 0

        for node in model.nodes {
            func initializer(_ i: Int, _ role: String) throws -> ONNXModel.Initializer {
                guard i < node.inputs.count, let t = model.initializers[node.inputs[i]] else {
                    throw fail(node, "input \(i) (\(role)) must be an initializer")
                }
                return t
            }
            func data(_ i: Int) throws -> String {
                guard i < node.inputs.count, rank[node.inputs[i]] != nil else {
                    throw fail(node, "input \(i) '\(i < node.inputs.count ? node.inputs[i] : "")' is not produced by an earlier node")
                }
                return node.inputs[i]
            }
            func ints(_ name: String) -> [Int]? {
                switch node.attributes[name] {
                case .ints(let v)?: return v.map { Int($0) }
                case .int(let v)?: return [Int(v)]
                default: return nil
                }
            }
            func float(_ name: String, default value: Float) -> Float {
                if case .float(let f)? = node.attributes[name] { return f }
                return value
            }
            guard let out = node.outputs.first, !out.isEmpty else { throw fail(node, "node has no output") }
            let name = out   // module key = the tensor the node produces (unique by SSA)
            let x = try data(0)
            var outRank = rank[x]!, outChannels = channels[x] ?? 0, outStride = stride[x] ?? 1
            let operation: SFaceModel.Operation
            var inputs = [x]

            switch node.opType {
            case "Sub", "Mul":
                let c = try initializer(1, "scalar")
                guard c.values.count == 1 else { throw fail(node, "only a scalar constant operand is supported, found \(c.dims)") }
                operation = node.opType == "Sub" ? .affine(subtract: c.values[0], multiply: 1) : .affine(subtract: 0, multiply: c.values[0])
            case "Conv":
                let w = try initializer(1, "weight")
                guard w.dims.count == 4 else { throw fail(node, "weight must be [O, C/g, kH, kW], found \(w.dims)") }
                let groups = ints("group")?.first ?? 1
                let strides = ints("strides") ?? [1, 1]
                let pads = ints("pads") ?? [0, 0, 0, 0]
                guard (ints("dilations") ?? [1, 1]).allSatisfy({ $0 == 1 }) else { throw fail(node, "dilation other than 1 is not supported") }
                if case .string(let p)? = node.attributes["auto_pad"], p != "NOTSET" { throw fail(node, "auto_pad \(p) is not supported") }
                guard strides.count == 2, pads.count == 4, pads[0] == pads[2], pads[1] == pads[3] else {
                    throw fail(node, "strides \(strides) / pads \(pads) must be 2-D and symmetric")
                }
                guard w.dims[1] * groups == outChannels else {
                    throw fail(node, "weight \(w.dims) with \(groups) groups does not take the \(outChannels) input channels")
                }
                let bias = node.inputs.count > 2 ? try initializer(2, "bias").tensor : nil
                if let bias, bias.shape != [w.dims[0]] { throw fail(node, "bias \(bias.shape) must be [\(w.dims[0])]") }
                if w.dims[2] == 1 && w.dims[3] == 1 && groups == 1 && strides == [1, 1] && pads == [0, 0, 0, 0] {
                    operation = .pointwise(Linear(weight: Tensor(w.values, shape: [w.dims[0], w.dims[1]]), bias: bias))
                } else {
                    operation = .conv(Conv2d(weight: w.tensor, bias: bias, stride: (strides[0], strides[1]),
                                             padding: (pads[0], pads[1]), groups: groups))
                }
                outChannels = w.dims[0]
                outStride *= strides[0]
                guard strides[0] == strides[1] else { throw fail(node, "unequal strides \(strides) are not supported") }
            case "BatchNormalization":
                let parts = try (1...4).map { try initializer($0, ["scale", "bias", "mean", "var"][$0 - 1]) }
                guard parts.allSatisfy({ $0.values.count == outChannels }) else {
                    throw fail(node, "scale/bias/mean/var must each hold \(outChannels) values, found \(parts.map(\.dims))")
                }
                let eps = float("epsilon", default: 1e-5)
                // ONNX momentum weighs the old running value; PyTorch's weighs the new batch.
                let momentum = 1 - float("momentum", default: 0.9)
                let t = parts.map { Tensor($0.values, shape: [outChannels]) }
                if outRank == 4 {
                    operation = .batchNorm2d(BatchNorm2d(weight: t[0], bias: t[1], runningMean: t[2], runningVar: t[3], eps: eps, momentum: momentum))
                } else if outRank == 2 {
                    let store = WeightStore(tensors: ["weight": t[0], "bias": t[1], "running_mean": t[2], "running_var": t[3]])
                    operation = .batchNorm1d(try BatchNorm1d(channels: outChannels, eps: eps, momentum: momentum, at: store.root))
                } else {
                    throw fail(node, "input of rank \(outRank) is not supported")
                }
            case "PRelu":
                let slope = try initializer(1, "slope")
                guard slope.values.count == outChannels || slope.values.count == 1 else {
                    throw fail(node, "slope \(slope.dims) must hold 1 or \(outChannels) values")
                }
                operation = .prelu(PReLU(weight: Tensor(slope.values, shape: [slope.values.count])))
            case "Add":
                let y = try data(1)
                guard rank[y] == outRank, channels[y] == outChannels, stride[y] == outStride else {
                    throw fail(node, "operands '\(x)' and '\(y)' have different shapes")
                }
                inputs.append(y)
                operation = .add
            case "Dropout":
                operation = .identity   // inference; the graph's ratio is not applied when training either
            case "Flatten":
                guard (ints("axis")?.first ?? 1) == 1, outRank == 4 else { throw fail(node, "only axis 1 on a 4-D input is supported") }
                flattened = (outChannels, outStride)
                outRank = 2
                operation = .flatten
            case "Gemm":
                let w = try initializer(1, "weight")
                guard w.dims.count == 2, outRank == 2 else { throw fail(node, "expects a 2-D input and weight, found weight \(w.dims)") }
                guard (ints("transA")?.first ?? 0) == 0, float("alpha", default: 1) == 1, float("beta", default: 1) == 1 else {
                    throw fail(node, "only transA = 0, alpha = beta = 1 are supported")
                }
                let transB = (ints("transB")?.first ?? 0) == 1
                let (out, inn) = transB ? (w.dims[0], w.dims[1]) : (w.dims[1], w.dims[0])
                var values = w.values
                if !transB {   // stored [in, out]: transpose to Linear's [out, in]
                    values = [Float](repeating: 0, count: w.values.count)
                    for i in 0..<inn { for o in 0..<out { values[o * inn + i] = w.values[i * out + o] } }
                }
                let bias = node.inputs.count > 2 ? try initializer(2, "bias") : nil
                if let bias, bias.values.count != out { throw fail(node, "bias \(bias.dims) must hold \(out) values") }
                operation = .gemm(Linear(weight: Tensor(values, shape: [out, inn]), bias: bias.map { Tensor($0.values, shape: [out]) }))
                gemmInputs = inn
                outChannels = out
                embedding = out
            default:
                throw fail(node, "op not supported by the face-CNN importer (supported: \(supportedOps.joined(separator: ", ")))")
            }
            rank[out] = outRank
            channels[out] = outChannels
            stride[out] = outStride
            steps.append(Step(name: name, operation: operation, inputs: inputs, output: out))
        }
        guard rank[output] == 2, embedding > 0, let flat = flattened else {
            throw VisionModelError.importFailed(file: file, place: "graph output '\(output)'",
                what: "expected a flattened feature map projected by Gemm to a [B, D] embedding")
        }
        // The Gemm's width fixes the last feature map's side, hence the input side.
        let cells = gemmInputs / flat.channels
        let side = Int(Double(cells).squareRoot().rounded())
        guard side * side * flat.channels == gemmInputs else {
            throw VisionModelError.importFailed(file: file, place: "Gemm", what: "\(gemmInputs) inputs are not \(flat.channels) channels × a square map")
        }
        return SFaceModel(steps: steps, inputName: input, outputName: output, inputSize: side * flat.stride,
                          embeddingSize: embedding, source: file)
    }
}

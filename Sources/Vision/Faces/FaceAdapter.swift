import Core
import Foundation

/// How `face-adapt` adapts the face network.
public enum FaceAdaptMethod: String, CaseIterable, Codable, Sendable {
    /// The pretrained network unchanged (the baseline row).
    case frozen
    /// Only the embedding head: the final projection (Gemm weight and bias) and the
    /// BatchNorm1d affine on the embedding. The margin classifier alone would not change the
    /// embedding at all, so "head-only" means the network's own head.
    case head
    /// One LoRA per adapted layer (the same layers as PETALface), no quality mixing.
    case lora
    /// Every weight and bias (BatchNorm statistics stay frozen, see `FaceAdaptOptions`).
    case full
    /// PETALface: two LoRA experts per adapted layer, mixed per image by the quality weight α.
    case petal
}

/// The face network plus one adaptation method, built through the adapter library
/// (`PeftModel`): expert-LoRA for PETALface, LoRA for the single-LoRA baseline, parameter
/// selection for head-only and full fine-tuning. Knows how to turn preprocessed inputs into
/// embeddings, setting PETALface's per-image α from the quality score first.
public final class FaceAdapter {
    public let model: SFaceModel
    public let method: FaceAdaptMethod
    /// nil for `frozen`.
    public let peft: PeftModel?
    /// The expert handles (only for `petal`).
    public let petal: PETALfaceAdapters?
    /// τ, the training-set mean quality (α = clamp(0.5 + q̃ − τ, 0, 1)).
    public var qualityThreshold: Float = 0.5
    /// Use the reference code's raw α = 0.5 + (q − τ) without clamping.
    public var referenceAlpha = false
    /// The quality measure behind α (training sets it from `FaceAdaptOptions.quality`, loading
    /// restores it from the manifest).
    public var quality: FaceQualityScorer = .sharpness

    /// The adapter config for `method` on `model` (nil for `frozen`).
    public static func config(_ method: FaceAdaptMethod, model: SFaceModel, rank: Int, scaling: Float, dropout: Float, seed: UInt64) throws -> AdapterConfig? {
        switch method {
        case .frozen:
            return nil
        case .petal:
            return PETALfaceAdapters.config(for: model, rank: rank, scaling: scaling, dropout: dropout, seed: seed)
        case .lora:
            var c = AdapterConfig.lora(r: rank, alpha: scaling * Float(rank), targets: PETALfaceAdapters.targetNames(model), dropout: dropout)
            c.loraDropoutSite = .output
            c.initLoraWeights = .gaussianA
            c.seed = seed
            return c
        case .head:
            guard let gemm = model.projectionName else {
                throw AdapterError.invalidSetting("\(model.source): the network has no final Gemm to tune (head-only needs one)")
            }
            var c = AdapterConfig(method: .parameterSelection)
            let names = [gemm] + (model.embeddingNormName.map { [$0] } ?? [])
            c.parameterPatterns = ["(" + names.map(escapeRegex).joined(separator: "|") + ")\\.(weight|bias)"]
            return c
        case .full:
            // Weights, biases and PReLU slopes; never the BatchNorm running statistics.
            var c = AdapterConfig(method: .parameterSelection)
            c.parameterPatterns = [".*\\.(weight|bias)"]
            return c
        }
    }

    /// Attaches a fresh adapter for `method` to `model` (whose weights get frozen except the
    /// ones the method trains).
    public init(model: SFaceModel, method: FaceAdaptMethod, rank: Int = 8, scaling: Float = 1, dropout: Float = 0, seed: UInt64 = 19) throws {
        self.model = model
        self.method = method
        model.freeze()
        if let config = try Self.config(method, model: model, rank: rank, scaling: scaling, dropout: dropout, seed: seed) {
            let peft = PeftModel(model)
            try peft.addAdapter(config)
            self.peft = peft
            petal = method == .petal ? try PETALfaceAdapters(peft: peft) : nil
        } else {
            peft = nil
            petal = nil
        }
    }

    /// Loads a saved adapter folder (`adapter_config.json` + `adapter_model.safetensors`) onto
    /// `model`; `method` says how to drive it.
    public init(model: SFaceModel, method: FaceAdaptMethod, loadingFrom directory: URL) throws {
        self.model = model
        self.method = method
        model.freeze()
        if method == .frozen {
            peft = nil
            petal = nil
            return
        }
        let peft = PeftModel(model)
        let report = try peft.load(from: directory)
        if !report.unusedKeys.isEmpty {
            throw AdapterError.badFile(file: directory.appendingPathComponent("adapter_model.safetensors").path,
                                       detail: "holds \(report.unusedKeys.count) tensors this network does not use (e.g. \(report.unusedKeys[0])); was it trained on another model?")
        }
        self.peft = peft
        petal = method == .petal ? try PETALfaceAdapters(peft: peft) : nil
    }

    /// Tensors the optimiser updates (adapter factors or selected weights).
    public var trainableParameters: [(String, Tensor)] { model.trainableParameters() }

    /// Parameter count of the network (without adapters) and the trainable count.
    public var parameterCounts: (trainable: Int, total: Int) {
        let trainable = trainableParameters.reduce(0) { $0 + $1.1.count }
        let adapterOnly = method == .petal || method == .lora ? trainable : 0
        let total = model.namedParameters().reduce(0) { $0 + $1.1.count } - adapterOnly
        return (trainable, total)
    }

    /// α for a quality score under the current settings.
    public func alpha(quality q: Float) -> Float {
        FaceQuality.alpha(quality: q, threshold: qualityThreshold, referenceCode: referenceAlpha)
    }

    /// Training mode for the layers that carry adapters (so LoRA dropout acts); the rest of
    /// the network stays in inference mode, so BatchNorm keeps its pretrained statistics.
    public func setTraining(_ on: Bool) {
        model.eval()
        guard on, method == .petal || method == .lora else { return }
        for name in PETALfaceAdapters.targetNames(model) { model.module(at: name)?.train() }
    }

    /// `[B, 3, S, S]` inputs with their quality scores → raw embeddings `[B, D]` (records
    /// gradients unless called inside `withoutGrad`).
    public func forward(_ x: Tensor, qualities: [Float]) -> Tensor {
        petal?.setAlpha(qualities.map(alpha(quality:)))
        return model(x)
    }

    /// Embeddings of preprocessed inputs (`3·S·S` each), in batches, without gradients; the
    /// quality of each input is measured here.
    public func embed(_ inputs: [[Float]], batchSize: Int = 16) -> [Float] {
        let s = model.inputSize
        setTraining(false)
        var out: [Float] = []
        out.reserveCapacity(inputs.count * model.embeddingSize)
        var start = 0
        while start < inputs.count {
            let chunk = Array(inputs[start..<min(start + batchSize, inputs.count)])
            let q = chunk.map { quality.score(sfaceInput: $0, side: s) }
            let x = Tensor(chunk.flatMap { $0 }, shape: [chunk.count, 3, s, s])
            out += withoutGrad { forward(x, qualities: q) }.storage
            start += batchSize
        }
        return out
    }
}

/// Backslash-escapes regular-expression metacharacters in a module key.
func escapeRegex(_ s: String) -> String {
    var out = ""
    for ch in s {
        if "\\^$.|?*+()[]{}".contains(ch) { out.append("\\") }
        out.append(ch)
    }
    return out
}

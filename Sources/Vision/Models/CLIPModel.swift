import Core
import Foundation
import Text

/// What `CLIPModel` returns for a batch of images and texts.
public struct CLIPOutput {
    /// `[B_img, P]` projected image features, L2-normalised.
    public var imageEmbeds: Tensor
    /// `[B_txt, P]` projected text features, L2-normalised.
    public var textEmbeds: Tensor
    /// `[B_img, B_txt]`: `exp(logit_scale) · cosine`.
    public var logitsPerImage: Tensor
    /// `[B_txt, B_img]`, the transpose.
    public var logitsPerText: Tensor
    public var vision: VisionEncoderOutput
    public var text: CLIPTextOutput
}

/// Hugging Face `CLIPModel`: the text tower (`text_model`), the vision tower (`vision_model`), the
/// bias-free projections `text_projection` and `visual_projection` into the shared space, and the
/// learned temperature `logit_scale` (a 0-d tensor; logits use `exp(logit_scale)`, 100 for OpenAI CLIP).
///
/// ```swift
/// let clip = try CLIPModel.load(directory: URL(fileURLWithPath: "models/clip-vit-base-patch16"))
/// let out = try clip(pixels: images, inputIds: tokenizer.batch(["a photo of a cat", "a photo of a dog"]))
/// out.logitsPerImage                    // [B_img, 2]
/// ```
public final class CLIPModel: Module {
    public let config: CLIPConfig
    public let textModel: CLIPTextTransformer
    public let visionModel: CLIPVisionTransformer
    public let visualProjection: Linear
    public let textProjection: Linear
    public let logitScale: Tensor

    public init(config: CLIPConfig, seed: UInt64 = 0, at path: ParamPath) throws {
        self.config = config
        textModel = try CLIPTextTransformer(config: config.text, seed: seed, at: path.pp("text_model"))
        visionModel = try CLIPVisionTransformer(config: config.vision, seed: seed &+ 1, at: path.pp("vision_model"))
        visualProjection = try Linear(inFeatures: config.vision.hiddenSize, outFeatures: config.projectionDim, bias: false,
                                      at: path.pp("visual_projection"))
        textProjection = try Linear(inFeatures: config.text.hiddenSize, outFeatures: config.projectionDim, bias: false,
                                    at: path.pp("text_projection"))
        let fresh = !path.contains("logit_scale")
        logitScale = try path.get([], "logit_scale", initializer: .zeros)
        if fresh { logitScale.storage = [config.logitScaleInit] }
        super.init()
    }

    /// Loads a Hugging Face `CLIPModel` folder (`config.json` + safetensors, e.g. a downloaded
    /// `openai/clip-vit-base-patch16`). Every checkpoint key must be used.
    public static func load(directory: URL) throws -> CLIPModel {
        let config = try CLIPConfig(json: HFCheckpoint.config(in: directory))
        let store = try WeightStore.load(directory: directory)
        let model = try CLIPModel(config: config, at: store.root)
        // Old exports also store the position-id buffers; they are index ranges, not weights.
        try HFCheckpoint.verifyUsed(store, prefix: "", ignoring: ["position_ids"])
        model.eval()
        return model
    }

    override public func namedChildren() -> [(String, Module)] {
        [("text_model", textModel), ("vision_model", visionModel),
         ("visual_projection", visualProjection), ("text_projection", textProjection)]
    }

    override public func namedLocalParameters() -> [(String, Tensor)] { [("logit_scale", logitScale)] }

    /// Projected image features `[B, P]` (not normalised; HF `get_image_features`).
    public func imageFeatures(_ pixels: Tensor) throws -> Tensor {
        guard let pooled = try visionModel(pixels).poolerOutput else { preconditionFailure("CLIP vision tower always pools") }
        return visualProjection(pooled)
    }

    /// Projected text features `[B, P]` (not normalised; HF `get_text_features`).
    public func textFeatures(inputIds: [[Int]], attentionMask: [[Int]]? = nil) throws -> Tensor {
        textProjection(try textModel(inputIds: inputIds, attentionMask: attentionMask).poolerOutput)
    }

    /// Projected features of raw texts (e.g. one prompt per class), tokenized with CLIP's BPE into
    /// the text tower's context (77 for OpenAI CLIP), with the end token kept on truncation.
    public func textFeatures(_ texts: [String], tokenizer: CLIPTokenizer) throws -> Tensor {
        let (ids, mask) = try tokenizer.batch(texts, contextLength: config.text.maxPositions)
        return try textFeatures(inputIds: ids, attentionMask: mask)
    }

    /// `exp(logit_scale) · normalize(images) · normalize(texts)ᵀ` for already projected features.
    public func logits(imageFeatures: Tensor, textFeatures: Tensor) -> Tensor {
        l2Normalized(imageFeatures).matmul(l2Normalized(textFeatures).transposed()) * logitScale.exp()
    }

    /// Both towers, the normalised embeddings and the similarity logits.
    public func callAsFunction(pixels: Tensor, inputIds: [[Int]], attentionMask: [[Int]]? = nil) throws -> CLIPOutput {
        let vision = try visionModel(pixels)
        let text = try textModel(inputIds: inputIds, attentionMask: attentionMask)
        guard let pooled = vision.poolerOutput else { preconditionFailure("CLIP vision tower always pools") }
        let image = l2Normalized(visualProjection(pooled))
        let texts = l2Normalized(textProjection(text.poolerOutput))
        let perImage = image.matmul(texts.transposed()) * logitScale.exp()
        return CLIPOutput(imageEmbeds: image, textEmbeds: texts, logitsPerImage: perImage,
                          logitsPerText: perImage.transposed(), vision: vision, text: text)
    }
}

import Core

/// CLIP's image input stage (`vision_model.embeddings`): a bias-free stride-p convolution
/// (`patch_embedding.weight`), a learned `class_embedding [D]` in front, and learned positions
/// `position_embedding.weight [1 + g², D]`, resized bicubically for other image sizes as HF does
/// with `interpolate_pos_encoding=True`.
public final class CLIPVisionEmbeddings: Module {
    public let classEmbedding: Tensor
    public let patchEmbedding: Conv2d
    public let positionEmbedding: Embedding
    public let patchSize: Int
    public let positionGrid: Int
    public let dim: Int
    public let channels: Int

    public init(config: CLIPVisionConfig, at path: ParamPath) throws {
        dim = config.hiddenSize
        channels = config.numChannels
        patchSize = config.patchSize
        positionGrid = config.imageSize / config.patchSize
        classEmbedding = try path.get([dim], "class_embedding", initializer: .normal(std: 0.02))
        patchEmbedding = try Conv2d(inChannels: channels, outChannels: dim, kernel: (patchSize, patchSize),
                                    stride: (patchSize, patchSize), bias: false, at: path.pp("patch_embedding"))
        positionEmbedding = try Embedding(count: 1 + positionGrid * positionGrid, dim: dim, initStd: 0.02,
                                          at: path.pp("position_embedding"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("patch_embedding", patchEmbedding), ("position_embedding", positionEmbedding)]
    }

    override public func namedLocalParameters() -> [(String, Tensor)] { [("class_embedding", classEmbedding)] }

    /// Positions for a `rows × columns` patch grid: `[1, 1 + rows·columns, D]`.
    public func positions(rows: Int, columns: Int) -> Tensor {
        let g = positionGrid, table = positionEmbedding.weight
        if rows == g && columns == g { return table.reshaped([1, 1 + g * g, dim]) }
        let grid = table.slice(axis: 0, 1..<(1 + g * g))
        let resized = PositionInterpolation.resize(grid, from: (g, g), to: (rows, columns))
        return Tensor.concat([table.slice(axis: 0, 0..<1), resized], axis: 0).reshaped([1, 1 + rows * columns, dim])
    }

    /// `pixels [B, C, H, W]` → `[B, 1 + patches, D]`.
    public func callAsFunction(_ pixels: Tensor) throws -> Tensor {
        let (rows, columns) = try patchGrid(of: pixels, channels: channels, patchSize: patchSize, model: "CLIP vision tower")
        let b = pixels.shape[0]
        let patches = patchEmbedding(pixels).reshaped([b, dim, rows * columns]).permuted([0, 2, 1])
        let cls = classEmbedding.reshaped([1, 1, dim]).expand(to: [b, 1, dim])
        return Tensor.concat([cls, patches], axis: 1) + positions(rows: rows, columns: columns)
    }
}

/// CLIP's vision tower (HF `CLIPVisionTransformer`, keys under `vision_model`): embeddings, a
/// LayerNorm before the encoder (`pre_layrnorm`, spelled as in the checkpoints), a pre-norm
/// encoder with quick-GELU MLPs (`encoder.layers.N`), and `post_layernorm` on the class token.
///
/// ```swift
/// let out = try clip.visionModel(pixels)   // lastHiddenState [B, 1 + patches, D] (before post_layernorm)
/// out.poolerOutput                          // post_layernorm(class token) [B, D]
/// ```
public final class CLIPVisionTransformer: Module {
    public let config: CLIPVisionConfig
    public let embeddings: CLIPVisionEmbeddings
    public let preLayerNorm: LayerNorm
    public let encoder: TransformerEncoder
    public let postLayerNorm: LayerNorm

    public init(config: CLIPVisionConfig, seed: UInt64 = 0, at path: ParamPath) throws {
        self.config = config
        embeddings = try CLIPVisionEmbeddings(config: config, at: path.pp("embeddings"))
        preLayerNorm = try LayerNorm(dim: config.hiddenSize, eps: config.layerNormEps, at: path.pp("pre_layrnorm"))
        encoder = try TransformerEncoder(config: config.layerConfig, layout: .clip, numLayers: config.numLayers,
                                         seed: seed, at: path.pp("encoder"))
        postLayerNorm = try LayerNorm(dim: config.hiddenSize, eps: config.layerNormEps, at: path.pp("post_layernorm"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        [("embeddings", embeddings), ("pre_layrnorm", preLayerNorm), ("encoder", encoder), ("post_layernorm", postLayerNorm)]
    }

    /// `pixels [B, C, H, W]` (CLIP-normalised) → encoder output and `post_layernorm(CLS)`.
    public func callAsFunction(_ pixels: Tensor, outputHiddenStates: Bool = false) throws -> VisionEncoderOutput {
        let x = preLayerNorm(try embeddings(pixels))
        let enc = encoder(x, outputHiddenStates: outputHiddenStates)
        let last = enc.lastHiddenState
        let pooled = postLayerNorm(last.slice(axis: 1, 0..<1).reshaped([last.shape[0], config.hiddenSize]))
        return VisionEncoderOutput(lastHiddenState: last, poolerOutput: pooled, hiddenStates: enc.hiddenStates)
    }
}

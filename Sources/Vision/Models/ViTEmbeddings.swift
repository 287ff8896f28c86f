import Core

/// The input stage of Hugging Face `ViTModel` and `Dinov2Model`: a stride-p convolution cuts the
/// image into patch tokens, a learned class token goes in front, and learned absolute positions
/// (resized bicubically when the patch grid differs from the trained one) are added.
///
/// Checkpoint keys, relative to `embeddings`: `cls_token [1, 1, D]`, `position_embeddings
/// [1, 1 + g², D]`, `patch_embeddings.projection.{weight [D, C, p, p], bias [D]}` and, when the
/// family has one, `mask_token` (DINOv2 `[1, D]`, ViT `[1, 1, D]`). The mask token only matters for
/// masked-image pre-training; it is loaded so checkpoints round-trip, and never used here.
///
/// ```swift
/// let emb = try ViTEmbeddings(dim: 384, channels: 3, patchSize: 14, imageSize: 518,
///                             maskTokenShape: [1, 384], at: root.pp("embeddings"))
/// let tokens = try emb(pixels)          // [B, 1 + (H/14)·(W/14), 384]
/// ```
public final class ViTEmbeddings: Module {
    public let clsToken: Tensor
    public let maskToken: Tensor?
    public let positionEmbeddings: Tensor
    /// `patch_embeddings.projection`.
    public let projection: Conv2d
    public let patchSize: Int
    /// Side of the trained (square) position grid.
    public let positionGrid: Int
    public let dim: Int
    public let channels: Int
    /// Name used in error messages.
    public let modelName: String

    /// Builds the embeddings at `path` (e.g. `embeddings`). `imageSize / patchSize` is the side of
    /// the position grid stored in the checkpoint.
    public init(dim: Int, channels: Int, patchSize: Int, imageSize: Int, maskTokenShape: [Int]?,
                modelName: String = "ViT", at path: ParamPath) throws {
        precondition(dim > 0 && channels > 0 && patchSize > 0 && imageSize >= patchSize,
                     "ViTEmbeddings: bad sizes dim \(dim) channels \(channels) patch \(patchSize) image \(imageSize)")
        let grid = imageSize / patchSize
        self.dim = dim
        self.channels = channels
        self.patchSize = patchSize
        self.positionGrid = grid
        self.modelName = modelName
        // Fresh tensors follow HF's truncated-normal(0.02) initialisation closely enough (plain normal).
        clsToken = try path.get([1, 1, dim], "cls_token", initializer: .normal(std: 0.02))
        maskToken = try maskTokenShape.map { try path.get($0, "mask_token", initializer: .zeros) }
        positionEmbeddings = try path.get([1, 1 + grid * grid, dim], "position_embeddings", initializer: .normal(std: 0.02))
        projection = try Conv2d(inChannels: channels, outChannels: dim, kernel: (patchSize, patchSize),
                                stride: (patchSize, patchSize), at: path.pp("patch_embeddings.projection"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        ModuleTree([("patch_embeddings.projection", projection)]).namedChildren()
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = [("cls_token", clsToken)]
        if let m = maskToken { out.append(("mask_token", m)) }
        out.append(("position_embeddings", positionEmbeddings))
        return out
    }

    /// Position embeddings for a `rows × columns` patch grid: `[1, 1 + rows·columns, D]`, the class
    /// position first, the grid resized bicubically when it differs from the trained one.
    public func positions(rows: Int, columns: Int) -> Tensor {
        let g = positionGrid
        if rows == g && columns == g { return positionEmbeddings }
        let cls = positionEmbeddings.slice(axis: 1, 0..<1)
        let grid = positionEmbeddings.slice(axis: 1, 1..<(1 + g * g))
        let resized = PositionInterpolation.resize(grid, from: (g, g), to: (rows, columns))
        return Tensor.concat([cls, resized.reshaped([1, rows * columns, dim])], axis: 1)
    }

    /// `pixels [B, C, H, W]` → tokens `[B, 1 + (H/p)·(W/p), D]` (class token first, then the patches
    /// row by row).
    public func callAsFunction(_ pixels: Tensor) throws -> Tensor {
        let (rows, columns) = try patchGrid(of: pixels, channels: channels, patchSize: patchSize, model: modelName)
        let b = pixels.shape[0]
        let patches = projection(pixels).reshaped([b, dim, rows * columns]).permuted([0, 2, 1])
        let tokens = Tensor.concat([clsToken.expand(to: [b, 1, dim]), patches], axis: 1)
        return tokens + positions(rows: rows, columns: columns)
    }
}

import Core

/// What to do when a checkpoint's position embeddings were trained for another spectrogram
/// size (e.g. the AudioSet model's 1024 frames, used on 1 s keyword clips of 100 frames).
public enum ASTPositionPolicy: String, Sendable, CaseIterable {
    /// Resample the patch-grid part bilinearly (PyTorch `interpolate(mode="bilinear",
    /// align_corners=False)`) from the stored frequency × time grid to the new one; the class
    /// and distillation positions are kept. The default: the pretrained positions stay meaningful.
    case interpolate
    /// Start from zeros and keep them frozen: what PETL-AST's code ends up with
    /// (`ignore_mismatched_sizes=True` under transformers 4.28 leaves the new tensor at its zero
    /// init, and the PETL methods never train it). Use it to reproduce the paper's setting.
    case zeros
}

/// `ASTEmbeddings`: a 16×16 convolution over the `[mel, time]` plane with strides
/// (frequency, time), flattened frequency-major, behind a class and a distillation token, plus
/// learned positions. Keys: `cls_token`, `distillation_token`,
/// `patch_embeddings.projection.{weight,bias}`, `position_embeddings`.
public final class ASTEmbeddings: Module {
    public let config: ASTConfig
    public let clsToken: Tensor
    public let distillationToken: Tensor
    public let projection: Conv2d
    /// `[1, patches + 2, hidden]`.
    public let positionEmbeddings: Tensor
    private let patchTree: ModuleTree

    /// Builds from `path` (`embeddings`). A stored position table of another size is adapted
    /// with `policy`; any other shape mismatch is an error.
    public init(config c: ASTConfig, positionPolicy policy: ASTPositionPolicy = .interpolate, at path: ParamPath) throws {
        config = c
        let h = c.hiddenSize
        clsToken = try path.get([1, 1, h], "cls_token", initializer: .normal(std: 0.02))
        distillationToken = try path.get([1, 1, h], "distillation_token", initializer: .normal(std: 0.02))
        projection = try Conv2d(inChannels: 1, outChannels: h, kernel: (c.patchSize, c.patchSize),
                                stride: (c.frequencyStride, c.timeStride), at: path.pp("patch_embeddings.projection"))
        let wanted = [1, c.sequenceLength, h]
        let key = path.key("position_embeddings")
        if let stored = path.store.tensors[path.store.rename(key)], stored.shape != wanted {
            positionEmbeddings = try Self.adapt(stored, to: c, policy: policy, key: key)
        } else {
            positionEmbeddings = try path.get(wanted, "position_embeddings", initializer: .normal(std: 0.02))
        }
        patchTree = ModuleTree([("patch_embeddings.projection", projection)])
        super.init()
    }

    override public func namedLocalParameters() -> [(String, Tensor)] {
        [("cls_token", clsToken), ("distillation_token", distillationToken), ("position_embeddings", positionEmbeddings)]
    }

    override public func namedChildren() -> [(String, Module)] { patchTree.namedChildren() }

    /// Patch tokens of `inputValues [B, T, F]` (T = maxLength frames, F = mel bins):
    /// `[B, fPatches·tPatches, hidden]`, frequency-major as HF flattens `[B, H, f, t]`.
    public func patches(_ inputValues: Tensor) -> Tensor {
        let b = inputValues.shape[0]
        // HF: input.unsqueeze(1).transpose(2, 3) → [B, 1, F, T].
        let image = inputValues.transposed(1, 2).reshaped([b, 1, config.numMelBins, config.maxLength])
        let grid = projection(image)  // [B, H, f, t]
        let h = config.hiddenSize
        return grid.reshaped([b, h, grid.shape[2] * grid.shape[3]]).transposed(1, 2)
    }

    /// `[B, T, F]` → `[B, patches + 2, hidden]`: `[cls, distillation, patches] + positions`.
    /// With `dropDistillation` the distillation token (and its position) is left out, as
    /// PETL-AST's prompt tuning does: `[cls, patches]`.
    public func callAsFunction(_ inputValues: Tensor, dropDistillation: Bool = false) throws -> Tensor {
        guard inputValues.rank == 3, inputValues.shape[1] == config.maxLength, inputValues.shape[2] == config.numMelBins else {
            throw ASTError.badInput("AST input must be [batch, \(config.maxLength) frames, \(config.numMelBins) mel bins], got \(inputValues.shape); pad or cut the features to max_length (ASTFeatureExtractor does)")
        }
        let b = inputValues.shape[0], h = config.hiddenSize
        let p = patches(inputValues)
        let cls = clsToken.expand(to: [b, 1, h])
        if dropDistillation {
            let pos = Tensor.concat([positionEmbeddings.slice(axis: 1, 0..<1),
                                     positionEmbeddings.slice(axis: 1, 2..<config.sequenceLength)], axis: 1)
            return Tensor.concat([cls, p], axis: 1) + pos
        }
        let dist = distillationToken.expand(to: [b, 1, h])
        return Tensor.concat([cls, dist, p], axis: 1) + positionEmbeddings
    }

    /// The stored table adapted to this config's patch grid (frozen, like any loaded weight).
    static func adapt(_ stored: Tensor, to c: ASTConfig, policy: ASTPositionPolicy, key: String) throws -> Tensor {
        let h = c.hiddenSize, f = c.frequencyPatches, t = c.timePatches
        guard stored.rank == 3, stored.shape[0] == 1, stored.shape[2] == h, stored.shape[1] > 2 else {
            throw ASTError.badCheckpoint(file: key, "position table \(stored.shape) is not [1, N, \(h)]; the checkpoint does not match the config")
        }
        let out: Tensor
        switch policy {
        case .zeros:
            out = Tensor.zeros([1, c.sequenceLength, h])
        case .interpolate:
            let storedPatches = stored.shape[1] - 2
            // The stored grid keeps the frequency extent (same mel bins); its time extent follows.
            guard storedPatches % f == 0 else {
                throw ASTError.badCheckpoint(file: key, "\(storedPatches) stored patch positions do not form a grid with \(f) frequency rows; num_mel_bins, patch_size or frequency_stride differ from the checkpoint's")
            }
            let storedT = storedPatches / f
            var values = [Float](stored.storage[0..<(2 * h)])
            values += bilinearResize(Array(stored.storage[(2 * h)...]), channels: h, from: (f, storedT), to: (f, t))
            out = Tensor(values, shape: [1, c.sequenceLength, h])
        }
        out.requiresGrad = false
        return out
    }

    /// Token-major `[(rows·cols), channels]` grid resized to `[(newRows·newCols), channels]` with
    /// PyTorch's bilinear, `align_corners=False` rule: source coordinate `(i + 0.5)·scale − 0.5`,
    /// clamped at 0, neighbours clamped to the last row/column.
    static func bilinearResize(_ grid: [Float], channels c: Int, from: (Int, Int), to: (Int, Int)) -> [Float] {
        func taps(_ outSize: Int, _ inSize: Int) -> [(Int, Int, Float)] {
            let scale = Double(inSize) / Double(outSize)
            return (0..<outSize).map { i in
                let src = max(0, (Double(i) + 0.5) * scale - 0.5)
                let i0 = min(Int(src), inSize - 1)
                let i1 = min(i0 + 1, inSize - 1)
                return (i0, i1, Float(src - Double(i0)))
            }
        }
        let rows = taps(to.0, from.0), cols = taps(to.1, from.1)
        var out = [Float](repeating: 0, count: to.0 * to.1 * c)
        for (r, (r0, r1, fr)) in rows.enumerated() {
            for (q, (q0, q1, fq)) in cols.enumerated() {
                let o = (r * to.1 + q) * c
                let a = (r0 * from.1 + q0) * c, b = (r0 * from.1 + q1) * c
                let d = (r1 * from.1 + q0) * c, e = (r1 * from.1 + q1) * c
                for k in 0..<c {
                    let top = (1 - fq) * grid[a + k] + fq * grid[b + k]
                    let bottom = (1 - fq) * grid[d + k] + fq * grid[e + k]
                    out[o + k] = (1 - fr) * top + fr * bottom
                }
            }
        }
        return out
    }
}

import Core

/// The decoder's settings (saved with a trained model).
public struct ChangeDecoderConfig: Codable, Sendable, Equatable {
    /// Width of every decoder map (PeftCD: 256; smaller by default here for CPU training).
    public var channels = 64
    /// Dilation rates of the depthwise ASPP branches.
    public var rates = [1, 2, 4, 8]
    /// Number of ×2 upsampling + refine stages before the classifier (PeftCD: 2 refined, then 2
    /// plain ×2 steps to stride 1).
    public var refineStages = 2
    /// Output classes (no change, change).
    public var classes = 2
    /// Feed each level's `|f_A − f_B|` beside the stream's own map (a deviation from PeftCD,
    /// whose streams compare the dates only through the exchange; see `ChangeDetectionNetwork`).
    public var difference = false
    /// Width of the full-resolution detail branch on the raw pixels (0: none, PeftCD's decoder).
    public var detailChannels = 0

    public init() {}

    enum CodingKeys: String, CodingKey { case channels, rates, refineStages, classes, difference, detailChannels }

    /// Manifests written before `difference` and `detailChannels` existed decode as PeftCD's decoder.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        channels = try c.decode(Int.self, forKey: .channels)
        rates = try c.decode([Int].self, forKey: .rates)
        refineStages = try c.decode(Int.self, forKey: .refineStages)
        classes = try c.decode(Int.self, forKey: .classes)
        difference = try c.decodeIfPresent(Bool.self, forKey: .difference) ?? false
        detailChannels = try c.decodeIfPresent(Int.self, forKey: .detailChannels) ?? 0
    }
}

/// A smaller version of PeftCD's "SSBiFPN" decoder for same-resolution ViT maps, fully trainable:
///
/// 1. per level a 1×1 Conv-BN-GELU to `channels`, and a score map `s_l = σ(Conv1×1(X_l))`;
/// 2. per-pixel level weights `w = softmax_l(s_l)` and the fused map `Σ_l w_l ⊙ X_l`;
/// 3. a depthwise-separable block, then depthwise ASPP (rates 1, 2, 4, 8, concat, 1×1);
/// 4. `refineStages` times: bilinear ×2, depthwise-separable refine;
/// 5. a 1×1 classifier to 2 logits, bilinearly resized to the input size.
///
/// Differences from PeftCD (documented choices): 64 channels instead of 256; the classifier
/// runs before the last upsampling instead of after two plain ×2 steps and a DW block at full
/// resolution (1×1 convolution and bilinear resizing are both linear, so moving the classifier
/// only drops that last DW block); the unused `detail_in` branch is left out.
///
/// Two optional additions, off in `ChangeDecoderConfig()` and documented as deviations: with
/// `difference` every level's input is `[X_l, |f_A,l − f_B,l|]` (twice the channels), and with
/// `detailChannels > 0` a full-resolution `ChangeDetailBranch` on the raw pixels joins the
/// upsampled deep map in a `ChangeDetailHead` that replaces step 5.
public final class ChangeDecoder: Module {
    public let config: ChangeDecoderConfig
    public let lateral: ModuleList<ConvUnit>
    public let scores: ModuleList<ConvUnit>
    public let fuse: DepthwiseSeparableBlock
    public let aspp: DepthwiseASPP
    public let refine: ModuleList<DepthwiseSeparableBlock>
    public let classifier: ConvUnit
    public let detail: ChangeDetailBranch?
    public let detailHead: ChangeDetailHead?

    /// `levels` maps of `inChannels` each; weights from `path` (random init when absent).
    public init(levels: Int, inChannels: Int, config: ChangeDecoderConfig = ChangeDecoderConfig(), at path: ParamPath) throws {
        self.config = config
        let c = config.channels
        let lateralIn = config.difference ? 2 * inChannels : inChannels
        lateral = ModuleList(try (0..<levels).map { try ConvUnit(lateralIn, c, at: path.pp("lateral").pp(String($0))) })
        scores = ModuleList(try (0..<levels).map { try ConvUnit(c, 1, normAndActivation: false, at: path.pp("scores").pp(String($0))) })
        fuse = try DepthwiseSeparableBlock(c, c, at: path.pp("fuse"))
        aspp = try DepthwiseASPP(channels: c, rates: config.rates, at: path.pp("aspp"))
        refine = ModuleList(try (0..<config.refineStages).map { try DepthwiseSeparableBlock(c, c, at: path.pp("refine").pp(String($0))) })
        classifier = try ConvUnit(c, config.classes, normAndActivation: false, at: path.pp("classifier"))
        if config.detailChannels > 0 {
            detail = try ChangeDetailBranch(channels: config.detailChannels, at: path.pp("detail"))
            detailHead = try ChangeDetailHead(inChannels: c, detailChannels: config.detailChannels, classes: config.classes, at: path.pp("detail_head"))
        } else {
            (detail, detailHead) = (nil, nil)
        }
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = [("lateral", lateral), ("scores", scores), ("fuse", fuse), ("aspp", aspp), ("refine", refine)]
        // With the detail head the low-resolution classifier is unused: leave it out of the
        // parameters (and of saved files) so nothing untrained is optimised or stored.
        if let detail, let detailHead { out += [("detail", detail), ("detail_head", detailHead)] } else { out.append(("classifier", classifier)) }
        return out
    }

    /// Per-pixel softmax weights over levels, `[B, L, h, w]` (exposed for tests).
    public func levelWeights(_ projected: [Tensor]) -> Tensor {
        let s = Tensor.concat(zip(scores.items, projected).map { $0.0($0.1).sigmoid() }, axis: 1)
        return s.permuted([0, 2, 3, 1]).softmax().permuted([0, 3, 1, 2])
    }

    /// `levels`: maps `[B, D, h, w]` (same size; `[B, 2D, h, w]` with `difference`) → logits
    /// `[B, classes, height, width]`. `detail`: the detail branch's cue `[B, 2k, height, width]`,
    /// required when the config has a detail branch.
    public func callAsFunction(_ levels: [Tensor], detail cue: Tensor? = nil, height: Int, width: Int) -> Tensor {
        precondition(levels.count == lateral.count, "ChangeDecoder: \(levels.count) levels for \(lateral.count) inputs")
        let projected = zip(lateral.items, levels).map { $0.0($0.1) }
        let w = levelWeights(projected)
        var fused = projected[0] * w.slice(axis: 1, 0..<1)
        for l in 1..<projected.count { fused = fused + projected[l] * w.slice(axis: 1, l..<(l + 1)) }
        var x = aspp(fuse(fused))
        for block in refine.items {
            x = block(x.upsampledBilinear(height: x.shape[2] * 2, width: x.shape[3] * 2))
        }
        if let detailHead {
            guard let cue else { preconditionFailure("ChangeDecoder: the detail head needs the detail branch's cue") }
            return detailHead(x, detail: cue)
        }
        return classifier(x).upsampledBilinear(height: height, width: width)
    }
}

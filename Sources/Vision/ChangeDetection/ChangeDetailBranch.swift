import Core

/// A light full-resolution branch of the change decoder (a documented deviation from PeftCD,
/// whose decoder only sees the ViT's 14-px tokens): two 3×3 Conv-BN-GELU layers run on each
/// date's pixels with shared weights, and the per-pixel cue is
/// `[|s_A − s_B|, (s_A + s_B)/2]` — symmetric in the dates, so both streams receive the same one.
/// The deep maps say *what* and *roughly where* something changed; this branch gives the
/// decoder the pixel-accurate edges a 14-px token grid cannot (small pasted patches, field
/// boundaries). Shallow-feature skips of this kind are common in change-detection decoders.
public final class ChangeDetailBranch: Module {
    public let first: ConvUnit
    public let second: ConvUnit
    public let channels: Int

    public init(channels: Int, at path: ParamPath) throws {
        self.channels = channels
        first = try ConvUnit(3, channels, kernel: 3, at: path.pp("conv1"))
        second = try ConvUnit(channels, channels, kernel: 3, at: path.pp("conv2"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("conv1", first), ("conv2", second)] }

    /// `pixels`: both dates as one batch `[2n, 3, H, W]` (dates A first) → the shared cue
    /// `[n, 2·channels, H, W]`.
    public func callAsFunction(_ pixels: Tensor) -> Tensor {
        let n = pixels.shape[0] / 2
        let s = second(first(pixels))
        let a = s.slice(axis: 0, 0..<n), b = s.slice(axis: 0, n..<(2 * n))
        return Tensor.concat([(a - b).abs(), (a + b) * 0.5], axis: 1)
    }
}

/// The decoder's last stage when the detail branch is on: the deep map is projected to the
/// branch width, bilinearly brought to full resolution, concatenated with the detail cue, refined
/// by one depthwise-separable block, and classified per pixel.
public final class ChangeDetailHead: Module {
    public let reduce: ConvUnit
    public let refine: DepthwiseSeparableBlock
    public let classifier: ConvUnit

    public init(inChannels: Int, detailChannels: Int, classes: Int, at path: ParamPath) throws {
        reduce = try ConvUnit(inChannels, detailChannels, kernel: 1, at: path.pp("reduce"))
        refine = try DepthwiseSeparableBlock(3 * detailChannels, detailChannels, at: path.pp("refine"))
        classifier = try ConvUnit(detailChannels, classes, normAndActivation: false, at: path.pp("classifier"))
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("reduce", reduce), ("refine", refine), ("classifier", classifier)] }

    /// `x [B, C, h, w]`, `detail [B, 2·k, H, W]` → logits `[B, classes, H, W]`.
    public func callAsFunction(_ x: Tensor, detail: Tensor) -> Tensor {
        let (h, w) = (detail.shape[2], detail.shape[3])
        let up = reduce(x).upsampledBilinear(height: h, width: w)
        return classifier(refine(Tensor.concat([up, detail], axis: 1)))
    }
}

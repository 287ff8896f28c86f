import Core

/// Resizing a learned square grid of position embeddings to another patch grid, as Hugging Face's
/// ViT, CLIP and DINOv2 do when an image's size differs from the one the model was trained at.
///
/// The resize is PyTorch's `F.interpolate(mode: "bicubic", align_corners: false)` without
/// antialiasing, which is also ONNX `Resize` (opset ≤ 17) with `cubic_coeff_a = -0.75`,
/// `half_pixel` coordinates and `exclude_outside = 0`:
///
/// - output index `i` samples source coordinate `x = (i + 0.5) · in/out − 0.5`;
/// - four taps `floor(x) − 1 … floor(x) + 2` weighted by Keys' cubic kernel with a = −0.75;
/// - a tap outside the grid reads the edge value (clamped), and weights are not renormalised.
///
/// Rows and columns use the same 1-D rule, so the 2-D resize is `Wr · G · Wcᵀ` per channel. Doing
/// it as two matrix products keeps it differentiable (fine-tuned position tables get gradients).
///
/// ```swift
/// let w = PositionInterpolation.bicubicWeights(from: 37, to: 16)      // [16 · 37], row-major
/// let g = PositionInterpolation.resize(grid, from: (37, 37), to: (16, 16))   // [256, D]
/// ```
public enum PositionInterpolation {
    /// Keys' cubic-convolution parameter used by PyTorch and ONNX Runtime (Pillow uses −0.5).
    public static let cubicA = -0.75

    /// The 1-D resize matrix `[outSize, inSize]` (row-major): row `i` holds the weights that output
    /// index `i` gives each source index, clamped taps folded onto the edges.
    public static func bicubicWeights(from inSize: Int, to outSize: Int) -> [Float] {
        precondition(inSize > 0 && outSize > 0, "PositionInterpolation: sizes must be positive (\(inSize) → \(outSize))")
        var w = [Double](repeating: 0, count: outSize * inSize)
        let scale = Double(inSize) / Double(outSize)
        for i in 0..<outSize {
            // Half-pixel centres; for cubic PyTorch does not clamp x at 0 (only the taps are clamped).
            let x = (Double(i) + 0.5) * scale - 0.5
            let base = x.rounded(.down)
            let t = x - base
            let taps = cubicKernel(t)
            for k in 0..<4 {
                let src = min(max(Int(base) - 1 + k, 0), inSize - 1)
                w[i * inSize + src] += taps[k]
            }
        }
        return w.map { Float($0) }
    }

    /// The four tap weights for fractional offset `t ∈ [0, 1)`: taps at −1, 0, +1, +2.
    static func cubicKernel(_ t: Double) -> [Double] {
        let a = cubicA
        // |d| ≤ 1: (a+2)|d|³ − (a+3)|d|² + 1;  1 < |d| < 2: a|d|³ − 5a|d|² + 8a|d| − 4a.
        func near(_ d: Double) -> Double { ((a + 2) * d - (a + 3)) * d * d + 1 }
        func far(_ d: Double) -> Double { ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
        return [far(t + 1), near(t), near(1 - t), far(2 - t)]
    }

    /// Resizes `grid` (`[gh·gw, D]`, `[1, gh·gw, D]` or `[gh, gw, D]`, row-major over the grid) from
    /// `from = (gh, gw)` to `to = (h, w)`, returning `[h·w, D]`. Equal sizes return the grid unchanged
    /// (reshaped), as the reference implementations skip the resize then.
    public static func resize(_ grid: Tensor, from: (Int, Int), to: (Int, Int)) -> Tensor {
        let (gh, gw) = from, (h, w) = to
        let dim = grid.shape.last ?? 0
        precondition(grid.count == gh * gw * dim, "PositionInterpolation: grid \(grid.shape) is not \(gh)×\(gw)×\(dim)")
        if gh == h && gw == w { return grid.reshaped([h * w, dim]) }
        let rows = Tensor(bicubicWeights(from: gh, to: h), shape: [h, gh])
        let cols = Tensor(bicubicWeights(from: gw, to: w), shape: [1, w, gw])
        // Rows first: [h, gh] · [gh, gw·D] → [h, gw, D]; then columns per output row: [1, w, gw] · [h, gw, D].
        let byRows = rows.matmul(grid.reshaped([gh, gw * dim])).reshaped([h, gw, dim])
        return cols.matmul(byRows).reshaped([h * w, dim])
    }
}

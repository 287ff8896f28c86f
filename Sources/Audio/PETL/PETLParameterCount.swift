import Core

/// The sizes that determine each method's trainable-parameter count.
public struct PETLShapes: Sendable, Equatable {
    /// Width d.
    public var width: Int
    /// Encoder layers L.
    public var layers: Int
    /// FFN hidden size F.
    public var ffn: Int
    /// How many of the four attention projections carry a bias (4 for AST; 3 for Whisper, whose
    /// `k_proj` has none).
    public var attentionBiases: Int
    /// Classes C.
    public var classes: Int

    public init(width: Int, layers: Int, ffn: Int, attentionBiases: Int, classes: Int) {
        self.width = width; self.layers = layers; self.ffn = ffn; self.attentionBiases = attentionBiases; self.classes = classes
    }
}

/// Closed-form trainable-parameter counts of the PETL-AST methods (methods.md §5), written out
/// so the module tree can be checked against them. With d width, L layers, F FFN size, C classes:
///
/// - head `H = d·C + C`, final LayerNorm `N = 2d` (weight and bias);
/// - linear: `N + H`;
/// - full: every backbone scalar (minus fixed tensors) `+ H`;
/// - BitFit: `L·(a·d + F + d + 2d) + d + H`, a = biased attention projections (the Linear biases
///   of q/k/v/o and both FFN layers, both LayerNorm biases per layer, the final LN bias);
/// - LoRA on t projections, r = round(d/RR): `L·t·2·d·r + N + H`;
/// - prompt: `P·d` shallow or `L·P·d` deep, `+ N + H`;
/// - prefix, N_p tokens (N_p/2 keys and values per layer): `L·N_p·d + N + H`;
/// - bottleneck adapter, b = round(d/RR), s sites per layer (Pfeiffer 1, Houlsby 2):
///   `L·s·(2·d·b + b + d) + L·s·2d + N + H` (down weight and bias, up weight and bias; one LayerNorm
///   per site: LN2, plus LN1 for Houlsby);
/// - Conformer adapter, kernel k: `L·s·(3·d·b + b·(k + 5) + d) + L·s·2d + N + H`
///   (pointwise d→2b with bias: 2db + 2b; depthwise b·k + b; BatchNorm 2b; pointwise b→d: bd + d).
///
/// Example (AST-base, d 768, L 12): the paper's Conformer (RR 96 → b 8, k 31, Pfeiffer) trains
/// 12·19,488 + 12·1,536 + 1,536 = 253,824 scalars before the head, 0.2945 % of AST's 86,187,264:
/// the "0.29 %" the paper reports.
public enum PETLParameterFormula {
    /// `round(d / RR)` as the reference computes bottlenecks.
    public static func bottleneck(width: Int, reductionRate: Int) -> Int {
        Int((Double(width) / Double(max(reductionRate, 1))).rounded())
    }

    /// The head plus the final LayerNorm's share for `method` (BitFit trains only its bias).
    public static func headAndFinalNorm(_ s: PETLShapes, method: PETLMethod) -> Int {
        let head = s.width * s.classes + s.classes
        return head + (method == .bitfit ? s.width : 2 * s.width)
    }

    /// Trainable scalars of `config` on a backbone of `shapes`; `backboneTrainableInFull` is the
    /// number of backbone scalars full fine-tuning updates (only used by `.full`).
    public static func trainable(_ c: PETLConfig, shapes s: PETLShapes, backboneTrainableInFull: Int = 0) -> Int {
        let d = s.width, l = s.layers
        let base = headAndFinalNorm(s, method: c.method)
        switch c.method {
        case .linear:
            return base
        case .full:
            return s.width * s.classes + s.classes + backboneTrainableInFull
        case .bitfit:
            return l * (s.attentionBiases * d + s.ffn + d + 2 * d) + base
        case .lora:
            let r = bottleneck(width: d, reductionRate: c.loraReductionRate)
            return l * c.loraTargets.count * 2 * d * r + base
        case .prompt:
            return (c.deepPrompts ? l : 1) * c.promptTokens * d + base
        case .prefix:
            return l * c.prefixTokens * d + base
        case .adapter:
            let b = bottleneck(width: d, reductionRate: c.adapterReductionRate)
            let sites = c.layout.sites.count
            return l * sites * (2 * d * b + b + d) + l * sites * 2 * d + base
        case .conformerAdapter:
            let b = bottleneck(width: d, reductionRate: c.adapterReductionRate)
            let sites = c.layout.sites.count
            return l * sites * (3 * d * b + b * (c.kernelSize + 5) + d) + l * sites * 2 * d + base
        }
    }
}

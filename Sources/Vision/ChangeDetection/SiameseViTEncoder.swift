import Core
import Foundation

/// The shared-weight image encoder of PeftCD's DINO variant over a Hugging Face `ViTModel` or
/// `Dinov2Model`: both dates go through the same module (as one batch), and the outputs of a few
/// evenly spaced blocks, each passed through the model's final LayerNorm and stripped of the
/// class token, are returned as feature maps `[B, D, H/p, W/p]` (DINOv3's
/// `get_intermediate_layers(norm=True, reshape=True)`).
///
/// With `preBlockAdapters`, PeftCD's adapter runs before every block:
/// `x ← x + GELU(W_up·GELU(W_down·x + b_d) + b_u)` (bottleneck 32, PyTorch default init),
/// built from Core's `BottleneckAdapter`. They live under the key `pre_adapters.<i>` beside
/// `backbone`, so a PEFT parameter selection can find them.
public final class SiameseViTEncoder: Module {
    /// The whole pretrained model (`ViTModel` or `Dinov2Model`); LoRA attaches inside it.
    public let backbone: Module
    public let embeddings: ViTEmbeddings
    public let blocks: [TransformerEncoderLayer]
    public let finalNorm: LayerNorm
    /// 0-based block indices whose outputs become the feature levels.
    public let levels: [Int]
    public let patchSize: Int
    public let width: Int
    public private(set) var preBlockAdapters: ModuleList<BottleneckAdapter>?

    /// Wraps a loaded `ViTModel` / `Dinov2Model`. `levels` nil picks `evenLevels(blocks:count: 4)`.
    public init(backbone: Module, levels: [Int]? = nil) throws {
        switch backbone {
        case let m as Dinov2Model:
            (embeddings, blocks, finalNorm, patchSize, width) = (m.embeddings, m.encoder.layers.items, m.layernorm, m.config.patchSize, m.config.hiddenSize)
        case let m as ViTModel:
            (embeddings, blocks, finalNorm, patchSize, width) = (m.embeddings, m.encoder.layers.items, m.layernorm, m.config.patchSize, m.config.hiddenSize)
        default:
            throw DatasetError("change detection needs a ViT or DINOv2 image encoder, got \(type(of: backbone)); pass a Hugging Face ViT/DINOv2 folder with --model")
        }
        self.backbone = backbone
        let n = blocks.count
        let chosen = levels ?? Self.evenLevels(blocks: n, count: 4)
        guard !chosen.isEmpty, chosen.allSatisfy({ (0..<n).contains($0) }), Set(chosen).count == chosen.count else {
            throw DatasetError("feature levels \(chosen) must be distinct block indices in 0..<\(n)")
        }
        self.levels = chosen
        super.init()
    }

    /// `count` evenly spaced block indices ending at the last block: PeftCD's {5, 11, 17, 23} for
    /// 24 blocks, {2, 5, 8, 11} for 12. Fewer blocks than `count` gives every block.
    public static func evenLevels(blocks: Int, count: Int) -> [Int] {
        guard blocks > count else { return Array(0..<blocks) }
        return (1...count).map { $0 * blocks / count - 1 }
    }

    /// Adds PeftCD's pre-block adapters (trainable, seeded; one per block).
    public func addPreBlockAdapters(bottleneck: Int = 32, seed: UInt64) throws {
        var adapters: [BottleneckAdapter] = []
        for i in blocks.indices {
            adapters.append(try BottleneckAdapter(
                width: width, bottleneck: bottleneck, placement: .series, activation: .gelu, outputActivation: .gelu,
                initialization: .pytorchDefault, seed: seed &+ UInt64(i) &* 0x9E37_79B9, key: "pre_adapters.\(i)"))
        }
        preBlockAdapters = ModuleList(adapters)
    }

    override public func namedChildren() -> [(String, Module)] {
        var out: [(String, Module)] = [("backbone", backbone)]
        if let a = preBlockAdapters { out.append(("pre_adapters", a)) }
        return out
    }

    /// Number of feature levels.
    public var levelCount: Int { levels.count }

    /// `pixels [B, C, H, W]` (normalised; H and W multiples of the patch size) → one map
    /// `[B, D, H/p, W/p]` per level.
    public func features(_ pixels: Tensor) throws -> [Tensor] {
        let tokens = try embeddings(pixels)
        let (b, rows, columns) = (pixels.shape[0], pixels.shape[2] / patchSize, pixels.shape[3] / patchSize)
        var x = tokens
        var out: [Tensor] = []
        let last = levels.max() ?? 0
        for (i, block) in blocks.enumerated() where i <= last {
            if let adapters = preBlockAdapters { x = adapters[i](x) }
            x = block(x)
            if levels.contains(i) {
                let normed = finalNorm(x).slice(axis: 1, 1..<(1 + rows * columns))
                out.append(normed.permuted([0, 2, 1]).reshaped([b, width, rows, columns]))
            }
        }
        // Levels come back in the order given, not block order.
        let order = levels.sorted()
        return levels.map { out[order.firstIndex(of: $0)!] }
    }
}

import Core
import Foundation

/// How the encoder is adapted (the decoder always trains).
public enum ChangePEFTMode: String, Codable, Sendable, CaseIterable {
    /// LoRA on the attention query, key and value of every block (PeftCD's fused `qkv`).
    case lora
    /// PeftCD's pre-block bottleneck adapters.
    case adapter
    /// Encoder frozen, decoder only ("Frozen Encoder" in PeftCD's ablation).
    case frozen
}

/// Everything that defines a change-detection network besides the pretrained weights.
public struct ChangeModelOptions: Codable, Sendable, Equatable {
    public var peft = ChangePEFTMode.lora
    public var loraRank = 8
    public var loraAlpha: Float = 32
    public var loraDropout: Float = 0.1
    public var adapterBottleneck = 32
    /// Level indices swapped between the two dates (PeftCD: {0, 2}).
    public var exchange = [0, 2]
    /// Encoder blocks used as levels (nil: 4 evenly spaced, ending at the last block).
    public var levels: [Int]?
    public var decoder = ChangeDecoderConfig()
    public var seed: UInt64 = 0

    public init() {}
}

/// PeftCD: one pretrained ViT encodes both dates with shared weights, the feature levels in
/// `exchange` are swapped between the two streams, and one shared decoder turns each stream into
/// 2-class logits at input resolution. Training supervises both streams with the same label;
/// prediction averages their logits. In PeftCD there is no explicit difference or
/// concatenation: all comparison of the dates comes from the exchange. Two opt-in deviations
/// (`ChangeDecoderConfig.difference`, `.detailChannels`) add `|f_A − f_B|` to every level and a
/// full-resolution pixel branch.
///
/// Encoder adaptation goes through Core's `PeftModel` over this whole network, so the saved
/// adapter is one PEFT folder (`base_model.model.encoder.backbone.…lora_A.weight`, and the
/// decoder as `modules_to_save` / a parameter selection).
///
/// ```swift
/// let net = try ChangeDetectionNetwork(backbone: dino, options: ChangeModelOptions())
/// let (a, b) = try net.streams(before: xA, after: xB)     // each [B, 2, H, W]
/// let loss = ChangeDetectionNetwork.loss(a, b, labels: y)
/// ```
public final class ChangeDetectionNetwork: Module {
    public let encoder: SiameseViTEncoder
    public let decoder: ChangeDecoder
    public let options: ChangeModelOptions
    public private(set) var peft: PeftModel?
    public private(set) var injection: InjectionReport?

    /// Builds the network on a loaded backbone (frozen), with a seeded random decoder, and sets up
    /// the PEFT mode (unless `attachPEFT` is false, as when a saved folder is loaded instead).
    public init(backbone: Module, options: ChangeModelOptions, attachPEFT: Bool = true) throws {
        self.options = options
        encoder = try SiameseViTEncoder(backbone: backbone, levels: options.levels)
        for e in options.exchange where !(0..<encoder.levelCount).contains(e) {
            throw DatasetError("--exchange: level \(e) is outside 0..<\(encoder.levelCount) (there are \(encoder.levelCount) feature levels)")
        }
        let store = WeightStore.random(seed: options.seed &+ 0xDEC0DE)
        decoder = try ChangeDecoder(levels: encoder.levelCount, inChannels: encoder.width, config: options.decoder, at: store.root)
        super.init()
        backbone.freeze()
        if options.peft == .adapter { try encoder.addPreBlockAdapters(bottleneck: options.adapterBottleneck, seed: options.seed &+ 17) }
        if attachPEFT {
            let peft = PeftModel(ChangeDetectionParts(encoder: encoder, decoder: decoder))
            injection = try peft.addAdapter(try adapterConfig())
            self.peft = peft
            freezeRunningStatistics()
        }
    }

    override public func namedChildren() -> [(String, Module)] { [("encoder", encoder), ("decoder", decoder)] }

    /// The PEFT config of the mode: LoRA (decoder in `modules_to_save`) or a parameter selection.
    public func adapterConfig() throws -> AdapterConfig {
        var config: AdapterConfig
        switch options.peft {
        case .lora:
            guard let layout = encoder.blocks.first?.layout else { throw DatasetError("the encoder has no blocks") }
            config = .lora(r: options.loraRank, alpha: options.loraAlpha,
                           targets: [layout.attention.query, layout.attention.key, layout.attention.value], dropout: options.loraDropout)
            config.modulesToSave = ["decoder"]
        case .adapter:
            config = AdapterConfig(method: .parameterSelection)
            config.parameterPatterns = ["encoder\\.pre_adapters\\..*", "decoder\\..*"]
        case .frozen:
            config = AdapterConfig(method: .parameterSelection)
            config.parameterPatterns = ["decoder\\..*"]
        }
        config.seed = options.seed
        return config
    }

    /// Loads a saved PEFT folder into this network (built with `attachPEFT: false`).
    public func loadAdapter(from directory: URL) throws {
        let peft = PeftModel(ChangeDetectionParts(encoder: encoder, decoder: decoder))
        injection = try peft.load(from: directory).injection
        self.peft = peft
        freezeRunningStatistics()
        if options.peft == .lora { try peft.merge() }
    }

    /// BatchNorm running statistics are buffers: selected for saving, never optimised.
    func freezeRunningStatistics() {
        for (_, m) in namedModules() {
            if let bn = m as? BatchNorm2d {
                bn.runningMean.requiresGrad = false
                bn.runningVar.requiresGrad = false
            }
        }
    }

    /// Swaps the maps of `levels` between the two dates.
    public static func exchange(_ a: [Tensor], _ b: [Tensor], levels: [Int]) -> ([Tensor], [Tensor]) {
        var (a2, b2) = (a, b)
        for l in levels { (a2[l], b2[l]) = (b[l], a[l]) }
        return (a2, b2)
    }

    /// The two streams' logits `[B, 2, H, W]` for normalised `before`/`after` `[B, C, H, W]`.
    public func streams(before: Tensor, after: Tensor) throws -> (Tensor, Tensor) {
        guard before.shape == after.shape else {
            throw DatasetError("before \(before.shape) and after \(after.shape) batches differ in shape")
        }
        let (n, h, w) = (before.shape[0], before.shape[2], before.shape[3])
        let both = Tensor.concat([before, after], axis: 0)
        let encoderTrains = !encoder.trainableParameters().isEmpty
        let maps = encoderTrains ? try encoder.features(both) : try withoutGrad { try encoder.features(both) }
        let fa = maps.map { $0.slice(axis: 0, 0..<n) }, fb = maps.map { $0.slice(axis: 0, n..<(2 * n)) }
        var (xa, xb) = Self.exchange(fa, fb, levels: options.exchange)
        if options.decoder.difference {
            // |f_A − f_B| per level, the same for both streams (symmetric in the dates).
            let d = zip(fa, fb).map { ($0.0 - $0.1).abs() }
            xa = zip(xa, d).map { Tensor.concat([$0.0, $0.1], axis: 1) }
            xb = zip(xb, d).map { Tensor.concat([$0.0, $0.1], axis: 1) }
        }
        let cue = decoder.detail.map { branch -> Tensor in
            let c = branch(both)
            return Tensor.concat([c, c], axis: 0)
        }
        // One decoder pass over both streams (shared weights, one BatchNorm batch).
        let logits = decoder(zip(xa, xb).map { Tensor.concat([$0.0, $0.1], axis: 0) }, detail: cue, height: h, width: w)
        return (logits.slice(axis: 0, 0..<n), logits.slice(axis: 0, n..<(2 * n)))
    }

    /// Test-time logits: the mean of the two streams.
    public func logits(before: Tensor, after: Tensor) throws -> Tensor {
        let (a, b) = try streams(before: before, after: after)
        return (a + b) * 0.5
    }

    /// Pixel cross-entropy of logits `[B, K, H, W]` against class indices (row-major `[B, H, W]`).
    public static func pixelCrossEntropy(_ logits: Tensor, labels: [Int]) -> Tensor {
        let k = logits.shape[1]
        return logits.permuted([0, 2, 3, 1]).reshaped([-1, k]).crossEntropy(targets: labels)
    }

    /// PeftCD's loss: the mean of the two streams' cross-entropies against the same label.
    public static func loss(_ a: Tensor, _ b: Tensor, labels: [Int]) -> Tensor {
        (pixelCrossEntropy(a, labels: labels) + pixelCrossEntropy(b, labels: labels)) * 0.5
    }

    /// Change probability per pixel `[B·H·W]` from logits `[B, 2, H, W]` (softmax of class 1).
    public static func changeProbability(_ logits: Tensor) -> [Float] {
        let (b, h, w) = (logits.shape[0], logits.shape[2], logits.shape[3])
        let plane = h * w
        var p = [Float](repeating: 0, count: b * plane)
        for i in 0..<b {
            for s in 0..<plane {
                let l0 = logits.storage[(i * 2) * plane + s], l1 = logits.storage[(i * 2 + 1) * plane + s]
                p[i * plane + s] = 1 / (1 + Foundation.exp(l0 - l1))
            }
        }
        return p
    }

    /// Trainable parameters (PEFT's selection; BatchNorm buffers excluded).
    public func optimisedParameters() -> [(String, Tensor)] { trainableParameters() }
}

/// The network's two children as its `PeftModel` sees them, under the same keys. A `PeftModel`
/// holds its base strongly and the network holds its `PeftModel`, so wrapping the network itself
/// made a reference cycle: every network ever built leaked (≈ 2 MB per test under ASan's leak
/// check). This holder has no reference back to the network.
final class ChangeDetectionParts: Module {
    let encoder: SiameseViTEncoder
    let decoder: ChangeDecoder

    init(encoder: SiameseViTEncoder, decoder: ChangeDecoder) {
        self.encoder = encoder
        self.decoder = decoder
        super.init()
    }

    override func namedChildren() -> [(String, Module)] { [("encoder", encoder), ("decoder", decoder)] }
}


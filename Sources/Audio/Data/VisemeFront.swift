import Core
import Foundation

/// A small visual front end trained for speech: a per-frame viseme classifier on mouth frames,
/// used (frozen) in place of DINOv2 as the video input of Omni-AVSR.
///
/// DINOv2-small was pre-trained on ImageNet-like photographs; a linear viseme probe on its features
/// of the synthetic mouths reaches only ~0.6 on a held-out voice, so the Omni-AVSR projector had to
/// learn the mouth shapes from a few hundred sentences. This network is trained with cross-entropy on
/// the per-frame viseme labels the synthetic set stores (`VisemeFrontTrainer`), which is the
/// supervision a real lip-reading front end (AV-HuBERT) gets from far more data.
///
/// Input of frame t: the utterance's frames normalised per utterance (minus the median pixel, which
/// is skin on a mouth crop, divided by the root-mean-square deviation from it — so skin and lip
/// shade of one face do not matter), average-pooled over `pool × pool` blocks, and stacked with its
/// `context` neighbours on each side (clamped at the ends): the rendered mouth is smoothed over
/// ±1 frame, so a neighbour tells a transition from a held shape.
/// Network: `fc1 → ReLU → fc2 → ReLU → out` (keys `fc1`, `fc2`, `out`, each `.weight`/`.bias`).
public final class VisemeFront: Module {
    /// The shape of the network and of its input (recorded in the file's metadata).
    public struct Config: Codable, Sendable, Equatable {
        /// Frame height and width in pixels (square frames; must be a multiple of `pool`).
        public var size = 56
        public var pool = 4
        public var context = 2
        public var hidden = 256
        public var classes = Viseme.allCases.count
        public init(size: Int = 56, pool: Int = 4, context: Int = 2, hidden: Int = 256, classes: Int = Viseme.allCases.count) {
            self.size = size; self.pool = pool; self.context = context; self.hidden = hidden; self.classes = classes
        }
        /// Width of one frame's input: (2·context + 1) pooled frames.
        public var inputWidth: Int { (2 * context + 1) * (size / pool) * (size / pool) }
    }

    /// What the frozen front end hands to Omni-AVSR per frame.
    public enum Output: String, CaseIterable, Sendable {
        /// `[T, classes]` softmax of the classifier: a compact phonetic code with no face left in it,
        /// on the unit scale the video projector expects (log-posteriors were tried first: values
        /// down to −30 swamped the projector's output, and AVSR's training loss stayed at 4× ASR's).
        case posteriors
        /// `[T, hidden]` the second hidden layer (after ReLU): richer, but also less face-invariant.
        case hidden
    }

    public let config: Config
    public let fc1: Linear, fc2: Linear, out: Linear

    public init(config: Config, seed: UInt64) throws {
        guard config.size >= 1, config.pool >= 1, config.size % config.pool == 0, config.context >= 0, config.hidden >= 1, config.classes >= 2 else {
            throw SpeechManifestError("viseme front: invalid shape \(config) (size must be a multiple of pool; hidden ≥ 1; classes ≥ 2)")
        }
        self.config = config
        var rng = SplitMix64(seed: seed)
        fc1 = Linear(inFeatures: config.inputWidth, outFeatures: config.hidden, using: &rng)
        fc2 = Linear(inFeatures: config.hidden, outFeatures: config.hidden, using: &rng)
        out = Linear(inFeatures: config.hidden, outFeatures: config.classes, using: &rng)
        super.init()
    }

    override public func namedChildren() -> [(String, Module)] { [("fc1", fc1), ("fc2", fc2), ("out", out)] }

    /// `[N, inputWidth]` → (`[N, hidden]` penultimate features, `[N, classes]` logits).
    public func forward(_ x: Tensor) -> (hidden: Tensor, logits: Tensor) {
        let h = fc2(fc1(x).relu()).relu()
        return (h, out(h))
    }

    /// The network input of every frame of one utterance's `[T, H, W]` frames, `[T, inputWidth]`.
    /// `shift` moves the image by whole pixels before pooling (edge pixels repeated): training draws
    /// it at random so the classifier does not rely on where exactly a face puts its mouth.
    public static func inputs(frames: Tensor, config: Config, shift: (dx: Int, dy: Int) = (0, 0), name: String = "frames") throws -> Tensor {
        guard frames.rank == 3, frames.shape[0] >= 1, frames.shape[1] == config.size, frames.shape[2] == config.size else {
            throw SpeechManifestError("\(name): frames are \(frames.shape), the viseme front end was built for [T, \(config.size), \(config.size)]")
        }
        let t = frames.shape[0], s = config.size, p = config.pool, g = s / p, cells = g * g
        // Per-utterance normalisation: median pixel (skin) and RMS deviation from it.
        let sample = stride(from: 0, to: frames.count, by: max(1, frames.count / 20_000)).map { frames.storage[$0] }.sorted()
        let centre = sample[sample.count / 2]
        var ss: Double = 0
        for v in frames.storage { let d = Double(v - centre); ss += d * d }
        let scale = Float(max((ss / Double(frames.count)).squareRoot(), 1e-6))
        var pooled = [Float](repeating: 0, count: t * cells)
        let inv = 1 / (Float(p * p) * scale)
        for f in 0..<t {
            let base = f * s * s
            for y in 0..<s {
                let sy = min(max(y - shift.dy, 0), s - 1), row = base + sy * s, cellRow = f * cells + (y / p) * g
                for x in 0..<s {
                    let sx = min(max(x - shift.dx, 0), s - 1)
                    pooled[cellRow + x / p] += (frames.storage[row + sx] - centre) * inv
                }
            }
        }
        let c = config.context, width = config.inputWidth
        var x = [Float](repeating: 0, count: t * width)
        for f in 0..<t {
            for (k, o) in (-c...c).enumerated() {
                let src = min(max(f + o, 0), t - 1)
                x.replaceSubrange((f * width + k * cells)..<(f * width + (k + 1) * cells), with: pooled[(src * cells)..<((src + 1) * cells)])
            }
        }
        return Tensor(x, shape: [t, width])
    }

    /// The frozen front end's per-frame output for one utterance's `[T, H, W]` frames.
    public func features(frames: Tensor, output: Output = .posteriors, name: String = "frames") throws -> Tensor {
        let x = try Self.inputs(frames: frames, config: config, name: name)
        return withoutGrad {
            let (h, logits) = forward(x)
            switch output {
            case .hidden: return h
            case .posteriors: return logits.softmax()
            }
        }
    }

    /// Most likely viseme of every frame.
    public func predict(frames: Tensor) throws -> [Int] {
        try features(frames: frames, output: .posteriors).argmaxLastAxis()
    }

    // MARK: - file

    /// Writes the weights and the config (metadata `viseme_front_config`, JSON) to a safetensors
    /// file, atomically.
    public func save(to url: URL, metadata extra: [String: String] = [:]) throws {
        var tensors: [String: Tensor] = [:]
        for (k, t) in namedParameters() { tensors[k] = t }
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: extra.merging(["viseme_front_config": json, "peftkit": "viseme-front"]) { $1 }, to: url)
    }

    /// Reads a file written by `save`; every tensor must be present with its shape. The loaded
    /// network is frozen (it is a front end).
    public static func load(_ url: URL) throws -> VisemeFront {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw SpeechManifestError("\(url.path): no such viseme front end; train one with `avsr-tune train-visual --out \(url.lastPathComponent)`")
        }
        // One mapping serves the metadata and the weights.
        let file = try SafeTensors.open(url)
        guard let json = file.metadata?["viseme_front_config"],
              let config = try? JSONDecoder().decode(Config.self, from: Data(json.utf8)) else {
            throw SpeechManifestError("\(url.path): not a viseme front end (no valid 'viseme_front_config' metadata); write one with avsr-tune train-visual")
        }
        let front = try VisemeFront(config: config, seed: 0)
        for (k, t) in front.namedParameters() {
            guard file.contains(k) else { throw SpeechManifestError("\(url.path): tensor '\(k)' is missing") }
            let v = try file.tensor(k)
            guard v.shape == t.shape else { throw SpeechManifestError("\(url.path): tensor '\(k)' has shape \(v.shape), expected \(t.shape)") }
            t.storage = v.storage
        }
        front.freeze()
        front.eval()
        return front
    }
}

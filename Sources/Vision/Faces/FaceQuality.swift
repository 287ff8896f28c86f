import Core
import Foundation

/// Which no-reference quality measure gives PETALface's q̃ ∈ [0, 1] (higher = better).
public enum FaceQualityMeasure: String, Codable, Sendable, CaseIterable {
    /// q̃ = clamp(1 − BRISQUE/100, 0, 1) (methods.md's recommended mapping), BRISQUE being the
    /// LIVE-trained model of the PyPI package `brisque` 0.0.16 (`BRISQUEModel`). The default.
    case brisque
    /// The effective-resolution measure `FaceQuality.sharpness` (no model files needed).
    case sharpness
}

/// A quality scorer: the measure plus, for BRISQUE, its loaded model.
///
/// Measured on ORL (SFace input 112 px, 8 faces, `BRISQUETests`): BRISQUE ≈ 12–34 at full
/// resolution, 67–79 at 32 px, 84–90 at 16 px, 88–94 at 12 px and 98–102 at 8 px, so q̃ ≈ 0.66–0.88,
/// 0.21–0.33, 0.10–0.16, 0.06–0.12 and 0–0.02: it falls with the probe size as the effective-resolution
/// measure does, and it is what the reference code's quality network (pyiqa 'brisque') measures.
/// An image BRISQUE cannot fit (a flat image: its normalised coefficients have no spread) gets q̃ = 0.
public struct FaceQualityScorer: Sendable {
    public let measure: FaceQualityMeasure
    public let brisque: BRISQUEModel?

    /// The effective-resolution measure (needs no files).
    public static let sharpness = FaceQualityScorer(measure: .sharpness, brisque: nil)

    public init(brisque model: BRISQUEModel) {
        self.init(measure: .brisque, brisque: model)
    }

    private init(measure: FaceQualityMeasure, brisque: BRISQUEModel?) {
        self.measure = measure
        self.brisque = brisque
    }

    /// The scorer for `measure`, reading BRISQUE's model from `models/brisque`.
    public static func load(_ measure: FaceQualityMeasure, models: URL = defaultModelsFolder) throws -> FaceQualityScorer {
        switch measure {
        case .sharpness: return .sharpness
        case .brisque:
            do { return FaceQualityScorer(brisque: try BRISQUEModel(folder: BRISQUEModel.defaultFolder(models: models))) } catch let e as BRISQUEError {
                throw BRISQUEError("\(e.description) (or choose --quality sharpness)")
            }
        }
    }

    /// `$PEFTKIT_MODELS`, else `./models` (where scripts/install-models.sh puts the files).
    public static var defaultModelsFolder: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["PEFTKIT_MODELS"] ?? "models")
    }

    /// q̃ of an SFace input (`3·S·S` values 0…255, BGR planes).
    public func score(sfaceInput x: [Float], side: Int) -> Float {
        switch measure {
        case .sharpness:
            return FaceQuality.score(sfaceInput: x, side: side)
        case .brisque:
            guard let model = brisque, let b = try? model.score(FaceQuality.luminance(sfaceInput: x, side: side)) else { return 0 }
            return FaceQuality.quality(brisqueScore: b)
        }
    }
}

/// Quality helpers of PETALface's α: the BRISQUE → q̃ mapping, the effective-resolution measure
/// and α itself.
public enum FaceQuality {
    /// q̃ = clamp(1 − BRISQUE/100, 0, 1): BRISQUE is lower-is-better with most natural images
    /// between 0 and 100, so this turns it into higher-is-better on [0, 1] (methods.md section 4).
    public static func quality(brisqueScore b: Double) -> Float {
        Float(min(max(1 - b / 100, 0), 1))
    }

    /// The luminance (0…1) of an SFace input in BGR planes, with `rgb2gray`'s weights (grey
    /// inputs have three equal planes, so this is the grey image divided by 255).
    public static func luminance(sfaceInput x: [Float], side: Int) -> GreyImage {
        let n = side * side
        precondition(x.count == 3 * n, "FaceQuality: \(x.count) values are not 3 planes of \(side)×\(side)")
        var v = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let (b, g, r) = (Double(x[i]), Double(x[n + i]), Double(x[2 * n + i]))
            v[i] = b == g && g == r ? b / 255 : (0.2125 * r + 0.7154 * g + 0.0721 * b) / 255
        }
        return GreyImage(width: side, height: side, values: v)
    }

    /// The effective-resolution score (the `--quality sharpness` alternative to BRISQUE):
    /// with D(x) = area-average to half size then bilinear back up, q = ‖∇(x − D(x))‖² / ‖∇x‖²,
    /// scaled by 2 and clamped to [0, 1]. A face already upsampled from a low-resolution capture
    /// has little detail finer than half its size, so D barely changes it and q → 0; a sharp face
    /// loses a large share. Measured on ORL (SFace input, 112 px) it falls monotonically with the
    /// probe size.
    public static func sharpness(_ planes: FacePlanes) -> Float {
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

    /// The effective-resolution score of an SFace input (`3·S·S` planes, BGR), measured on the
    /// mean of the planes.
    public static func score(sfaceInput x: [Float], side: Int) -> Float {
        let n = side * side
        precondition(x.count == 3 * n, "FaceQuality: \(x.count) values are not 3 planes of \(side)×\(side)")
        var grey = [Float](repeating: 0, count: n)
        for i in 0..<n { grey[i] = (x[i] + x[n + i] + x[2 * n + i]) / 3 }
        return sharpness(FacePlanes(width: side, height: side, channels: 1, values: grey))
    }

    /// PETALface's mixing weight. Default (methods.md's recommended spec):
    /// α = clamp(0.5 + (q̃ − τ), 0, 1) with τ the training-set mean q̃. `referenceCode` reproduces
    /// the reference implementation's raw α = 0.5 + (q − τ) without clamping.
    public static func alpha(quality q: Float, threshold tau: Float, referenceCode: Bool = false) -> Float {
        let a = 0.5 + (q - tau)
        return referenceCode ? a : min(max(a, 0), 1)
    }
}

import Core
import Foundation

/// Viseme classes (the groups of phonemes that look alike on the lips, after the MPEG-4 / Preston
/// Blair sets) for eSpeak NG's English phoneme mnemonics. Lip-reading is ambiguous because of these
/// groups: p, b and m share `.bilabial`, so "bat" and "mat" look the same.
public enum Viseme: Int, CaseIterable, Sendable {
    case rest, bilabial, labiodental, dental, alveolar, sibilant, postalveolar, velar, rhotic, roundedGlide, palatalGlide
    case openVowel, midVowel, spreadVowel, roundedVowel

    /// The viseme of an eSpeak phoneme mnemonic; unknown names and pauses are `.rest`.
    public static func of(_ phoneme: String) -> Viseme {
        let p = phoneme.trimmingCharacters(in: .whitespaces)
        switch p {
        case "p", "b", "m": return .bilabial
        case "f", "v": return .labiodental
        case "T", "D": return .dental
        case "t", "d", "n", "l", "t#", "d#", "n-", "l/", "?": return .alveolar
        case "s", "z": return .sibilant
        case "S", "Z", "tS", "dZ": return .postalveolar
        case "k", "g", "N", "h", "x": return .velar
        case "r", "r-", "R", "3:", "3", "A@", "e@", "i@", "U@", "O@", "o@", "a@": return .rhotic
        case "w", "W": return .roundedGlide
        case "j": return .palatalGlide
        case "a", "A:", "aI", "aU", "a#", "aa", "A": return .openVowel
        case "E", "eI", "@", "V", "@L", "@2", "@5", "I2", "e", "0": return .midVowel
        case "i", "i:", "I", "I#", "y": return .spreadVowel
        case "O", "O:", "OI", "oU", "u:", "U", "u", "o": return .roundedVowel
        default: return .rest
        }
    }

    /// Mouth shape of the viseme: opening height and width (fractions of the maximum), and
    /// whether the upper teeth show.
    var shape: (height: Float, width: Float, teeth: Bool) {
        switch self {
        case .rest: return (0.04, 0.50, false)
        case .bilabial: return (0.00, 0.48, false)
        case .labiodental: return (0.10, 0.55, true)
        case .dental: return (0.16, 0.55, true)
        case .alveolar: return (0.22, 0.55, true)
        case .sibilant: return (0.10, 0.62, true)
        case .postalveolar: return (0.22, 0.42, true)
        case .velar: return (0.30, 0.55, false)
        case .rhotic: return (0.22, 0.40, false)
        case .roundedGlide: return (0.14, 0.28, false)
        case .palatalGlide: return (0.16, 0.66, true)
        case .openVowel: return (0.75, 0.60, true)
        case .midVowel: return (0.45, 0.60, true)
        case .spreadVowel: return (0.22, 0.78, true)
        case .roundedVowel: return (0.42, 0.34, false)
        }
    }
}

/// Renders a **synthetic** mouth-region video from phoneme timings: one grey `size × size` frame
/// per 1/`fps` s, showing lips (an elliptical ring), the dark mouth opening and, for some visemes,
/// the upper teeth. The shape at a frame is the viseme of the phoneme sounding at that instant,
/// smoothed over ±1 frame as lips move continuously. The look of the face (skin and lip shade,
/// mouth size, centre offset) comes from `faceSeed`; `SyntheticAVSet` draws one face per utterance
/// (not per voice), because with one fixed face per voice a model can tell the few training faces
/// apart instead of reading mouth shapes, and then fails on a new face.
/// This stands in for real talking-face video, which cannot be installed here; it is labelled
/// synthetic wherever it is used.
public struct MouthRenderer: Sendable {
    public var size = 56
    public var fps = 25.0

    public init(size: Int = 56, fps: Double = 25) {
        self.size = size
        self.fps = fps
    }

    /// The viseme sounding at each frame's centre (what `render` draws before smoothing), as
    /// `Viseme.rawValue`s: the labels of the visual features' linear probe.
    public func visemes(phonemes: [EspeakSynthesizer.Phoneme], duration: Double) -> [Int] {
        let t = max(1, Int((duration * fps).rounded(.up)))
        let sorted = phonemes.sorted { $0.start < $1.start }
        return (0..<t).map { f in
            let time = (Double(f) + 0.5) / fps
            return Viseme.of(sorted.last { $0.start <= time }?.name ?? "_").rawValue
        }
    }

    /// The look of one synthetic face, drawn from a seed: skin shade in [0.55, 0.8), lip shade in
    /// [0.25, 0.4), mouth scale in [0.85, 1.15), mouth centre within ±1.5 px of (size/2, 0.55·size).
    public struct Face: Sendable, Equatable {
        public var skin: Float, lip: Float, scale: Float, centreX: Float, centreY: Float

        public init(seed: UInt64, size: Int) {
            var rng = SplitMix64(seed: seed)
            skin = 0.55 + 0.25 * rng.nextUnitFloat()
            lip = 0.25 + 0.15 * rng.nextUnitFloat()
            scale = 0.85 + 0.3 * rng.nextUnitFloat()
            centreX = Float(size) / 2 + (rng.nextUnitFloat() - 0.5) * 3
            centreY = Float(size) * 0.55 + (rng.nextUnitFloat() - 0.5) * 3
        }
    }

    /// Frames covering `duration` seconds: `[T, size, size]` with values in [0, 1], drawn with the
    /// face of `faceSeed` (`Face(seed:size:)`).
    public func render(phonemes: [EspeakSynthesizer.Phoneme], duration: Double, faceSeed: UInt64) -> Tensor {
        let t = max(1, Int((duration * fps).rounded(.up)))
        let face = Face(seed: faceSeed, size: size)
        let skin = face.skin, lip = face.lip, scale = face.scale, cx = face.centreX, cy = face.centreY
        // Viseme shape per frame (the phoneme sounding at the frame's centre), then a 3-tap smoothing.
        let sorted = phonemes.sorted { $0.start < $1.start }
        var raw: [(Float, Float, Float)] = []
        for f in 0..<t {
            let time = (Double(f) + 0.5) / fps
            let current = sorted.last { $0.start <= time }
            let s = Viseme.of(current?.name ?? "_").shape
            raw.append((s.height, s.width, s.teeth ? 1 : 0))
        }
        var frames = [Float](repeating: 0, count: t * size * size)
        for f in 0..<t {
            let a = raw[max(0, f - 1)], b = raw[f], c = raw[min(t - 1, f + 1)]
            let h = (a.0 + 2 * b.0 + c.0) / 4, w = (a.1 + 2 * b.1 + c.1) / 4, teeth = (a.2 + 2 * b.2 + c.2) / 4
            let outerA = (w * 0.36 * Float(size) + 3) * scale, outerB = (h * 0.22 * Float(size) + 3.5) * scale
            // Closed lips (p, b, m and rest) show no opening at all.
            let innerA = max(outerA - 3 * scale, 0.5), innerB = h > 0.05 ? max(outerB - 3 * scale, 0) : 0
            for y in 0..<size {
                for x in 0..<size {
                    let dx = Float(x) + 0.5 - cx, dy = Float(y) + 0.5 - cy
                    var v = skin
                    if (dx * dx) / (outerA * outerA) + (dy * dy) / (outerB * outerB) <= 1 { v = lip }
                    if innerB > 0.3, (dx * dx) / (innerA * innerA) + (dy * dy) / (innerB * innerB) <= 1 {
                        // Upper teeth: a light band along the top of the opening.
                        v = teeth > 0.5 && dy < -innerB * 0.35 ? 0.92 : 0.06
                    }
                    frames[(f * size + y) * size + x] = v
                }
            }
        }
        return Tensor(frames, shape: [t, size, size])
    }
}

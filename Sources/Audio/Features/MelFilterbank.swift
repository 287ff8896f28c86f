import Core
import Foundation

/// A problem with feature-extraction input or options (for example a clip shorter than one frame).
public struct AudioFeatureError: Error, CustomStringConvertible, Equatable {
    /// One line saying what is wrong.
    public var description: String
    /// An error with the given message.
    public init(_ description: String) { self.description = description }
}

/// Analysis windows, evaluated in Double.
public enum WindowFunction: String, Sendable, CaseIterable {
    /// Symmetric Hann, 0.5 − 0.5·cos(2πi/(N−1)); what Kaldi and torchaudio call "hanning".
    case hanning
    /// Periodic Hann, 0.5 − 0.5·cos(2πi/N) (`torch.hann_window` default, Whisper).
    case hannPeriodic
    /// Kaldi's default: symmetric Hann raised to the power 0.85.
    case povey
    /// Symmetric Hamming, 0.54 − 0.46·cos(2πi/(N−1)).
    case hamming
    /// Kaldi's Blackman with coefficient 0.42.
    case blackman
    /// All ones.
    case rectangular

    /// The `length` window values.
    public func values(length n: Int) -> [Double] {
        let symmetric = 2 * Double.pi / Double(max(n - 1, 1))
        return (0..<n).map { i in
            let x = Double(i)
            switch self {
            case .hanning: return 0.5 - 0.5 * cos(symmetric * x)
            case .hannPeriodic: return 0.5 - 0.5 * cos(2 * Double.pi * x / Double(n))
            case .povey: return pow(0.5 - 0.5 * cos(symmetric * x), 0.85)
            case .hamming: return 0.54 - 0.46 * cos(symmetric * x)
            case .blackman: return 0.42 - 0.5 * cos(symmetric * x) + 0.08 * cos(2 * symmetric * x)
            case .rectangular: return 1
            }
        }
    }
}

/// Triangular mel filters as a sparse matrix: filter b has weights for the contiguous FFT-bin
/// range `starts[b] ..< starts[b] + weights[b].count` and zero elsewhere.
public struct MelFilterbank: Sendable {
    /// Number of FFT bins each filter is defined over (n_fft/2 + 1).
    public let binCount: Int
    /// First non-zero bin of each filter.
    public let starts: [Int]
    /// Non-zero weights of each filter (empty for a filter that covers no bin).
    public let weights: [[Double]]

    /// Number of filters.
    public var filterCount: Int { starts.count }

    /// Builds the sparse form from dense rows `[filter][bin]`.
    public init(dense: [[Double]], binCount: Int) {
        self.binCount = binCount
        var starts: [Int] = [], weights: [[Double]] = []
        for row in dense {
            guard let first = row.firstIndex(where: { $0 != 0 }), let last = row.lastIndex(where: { $0 != 0 }) else {
                starts.append(0)
                weights.append([])
                continue
            }
            starts.append(first)
            weights.append(Array(row[first...last]))
        }
        self.starts = starts
        self.weights = weights
    }

    /// Dense `[filters, bins]` tensor (float32), for inspection and tests.
    public func dense() -> Tensor {
        var out = [Float](repeating: 0, count: filterCount * binCount)
        for b in 0..<filterCount {
            for (j, w) in weights[b].enumerated() { out[b * binCount + starts[b] + j] = Float(w) }
        }
        return Tensor(out, shape: [filterCount, binCount])
    }

    /// Applies every filter to one power spectrum of `binCount` values.
    @inlinable
    public func apply(_ power: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>) {
        for b in 0..<starts.count {
            var acc = 0.0
            let s = starts[b]
            weights[b].withUnsafeBufferPointer { w in
                for j in 0..<w.count { acc += w[j] * power[s + j] }
            }
            out[b] = acc
        }
    }

    // MARK: Kaldi

    /// Kaldi's HTK mel scale, 1127·ln(1 + f/700).
    public static func kaldiMel(_ hz: Double) -> Double { 1127 * log(1 + hz / 700) }

    /// Kaldi / torchaudio `get_mel_banks` filters: `count` triangles with edges equally spaced on the
    /// HTK mel scale from `lowFrequency` to `highFrequency`, each FFT bin weighted by the triangle
    /// evaluated in the mel domain, no area normalisation. Defined over `paddedLength/2 + 1` bins
    /// of which the last (Nyquist) always gets weight 0, as in Kaldi. A triangle narrower than one
    /// bin stays empty (Kaldi refuses that configuration, torchaudio and transformers accept it;
    /// AST's 128-bin setting has one such filter).
    public static func kaldi(
        count: Int, paddedLength: Int, sampleRate: Double, lowFrequency: Double, highFrequency: Double
    ) -> MelFilterbank {
        let fftBins = paddedLength / 2
        let binWidth = sampleRate / Double(paddedLength)
        let melLow = kaldiMel(lowFrequency), melHigh = kaldiMel(highFrequency)
        let delta = (melHigh - melLow) / Double(count + 1)
        let dense: [[Double]] = (0..<count).map { b in
            let left = melLow + Double(b) * delta
            let center = left + delta
            let right = center + delta
            var row = [Double](repeating: 0, count: fftBins + 1)
            for i in 0..<fftBins {
                let mel = kaldiMel(binWidth * Double(i))
                if mel > left && mel < right {
                    row[i] = mel <= center ? (mel - left) / (center - left) : (right - mel) / (right - center)
                }
            }
            return row
        }
        return MelFilterbank(dense: dense, binCount: fftBins + 1)
    }

    // MARK: Slaney

    /// Slaney's mel scale (librosa `htk=False`): linear below 1 kHz (mel = f / (200/3), so 1 kHz is
    /// mel 15), logarithmic above (27 mels per factor 6.4 in frequency).
    public static func slaneyMel(_ hz: Double) -> Double {
        let linearStep = 200.0 / 3, breakHz = 1000.0, breakMel = breakHz / linearStep
        let logStep = log(6.4) / 27
        return hz < breakHz ? hz / linearStep : breakMel + log(hz / breakHz) / logStep
    }

    /// Inverse of `slaneyMel`.
    public static func slaneyHz(_ mel: Double) -> Double {
        let linearStep = 200.0 / 3, breakHz = 1000.0, breakMel = breakHz / linearStep
        let logStep = log(6.4) / 27
        return mel < breakMel ? mel * linearStep : breakHz * exp(logStep * (mel - breakMel))
    }

    /// librosa `filters.mel(htk=False, norm='slaney')` as Whisper uses it: `count` triangles in Hz
    /// with corners equally spaced on the Slaney mel scale from `lowFrequency` to `highFrequency`,
    /// over the `nFFT/2 + 1` bins of an `nFFT`-point transform, each scaled by 2/(right − left) so
    /// every filter has unit area in Hz.
    public static func slaney(
        count: Int, nFFT: Int, sampleRate: Double, lowFrequency: Double, highFrequency: Double
    ) -> MelFilterbank {
        let bins = nFFT / 2 + 1
        let binHz = (0..<bins).map { sampleRate / 2 * Double($0) / Double(bins - 1) }
        let melLow = slaneyMel(lowFrequency), melHigh = slaneyMel(highFrequency)
        let corners = (0..<(count + 2)).map { slaneyHz(melLow + (melHigh - melLow) * Double($0) / Double(count + 1)) }
        let dense: [[Double]] = (0..<count).map { b in
            let (left, center, right) = (corners[b], corners[b + 1], corners[b + 2])
            let norm = 2 / (right - left)
            return binHz.map { f in
                let rising = (f - left) / (center - left)
                let falling = (right - f) / (right - center)
                return max(0, min(rising, falling)) * norm
            }
        }
        return MelFilterbank(dense: dense, binCount: bins)
    }
}

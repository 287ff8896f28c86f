import Core
import Foundation

/// Whisper's log-mel spectrogram (`WhisperFeatureExtractor` / `whisper.audio.log_mel_spectrogram`),
/// output `[melBins, frames]` (mel-major).
///
/// Steps: optional zero-padding (or cutting) to 30 s; centred STFT with 200 samples of reflect
/// padding at each end (no edge repeat), periodic Hann window of 400, real FFT of 400 → 201 bins;
/// power |X|²; the last of the 1 + N/160 frames is dropped (Whisper does), leaving N/160; Slaney
/// mel filters (80 for tiny…large-v2); log10(max(·, 1e-10)); floor at (global max − 8); (x + 4)/4.
public struct WhisperLogMel: Sendable {
    /// Whether to pad the input to a whole chunk (as Whisper's encoder expects) or keep its length.
    public enum Padding: Sendable, Equatable {
        /// Zero-pad or cut to `chunkSeconds` of audio: always `chunkSamples / hop` frames (3000).
        case chunk
        /// Use the input as is (`padding="longest"` for one clip): N/160 frames.
        case none
    }

    /// Number of mel filters (rows of the output).
    public let melBins: Int
    /// FFT size = window length.
    public let nFFT: Int
    /// Samples between frames.
    public let hopLength: Int
    /// Expected input rate in Hz.
    public let sampleRate: Int
    /// Samples in one padded chunk (30 s at 16 kHz = 480 000).
    public let chunkSamples: Int
    /// Slaney-normalised filters over the `nFFT/2 + 1` bins.
    public let filterbank: MelFilterbank
    let window: [Double]
    let fft: RealFFT

    /// Whisper's settings: 80 bins (128 for large-v3), n_fft 400, hop 160, 16 kHz, 30 s chunks.
    public init(melBins: Int = 80, nFFT: Int = 400, hopLength: Int = 160, sampleRate: Int = 16_000, chunkSeconds: Int = 30) {
        precondition(melBins >= 1 && nFFT >= 2 && hopLength >= 1 && sampleRate > 0, "WhisperLogMel: invalid settings")
        self.melBins = melBins
        self.nFFT = nFFT
        self.hopLength = hopLength
        self.sampleRate = sampleRate
        chunkSamples = chunkSeconds * sampleRate
        filterbank = .slaney(count: melBins, nFFT: nFFT, sampleRate: Double(sampleRate), lowFrequency: 0,
                             highFrequency: Double(sampleRate) / 2)
        window = WindowFunction.hannPeriodic.values(length: nFFT)
        fft = RealFFT(count: nFFT)
    }

    /// Frames produced for `sampleCount` samples with `padding`.
    public func frameCount(for sampleCount: Int, padding: Padding) -> Int {
        (padding == .chunk ? chunkSamples : sampleCount) / hopLength
    }

    /// Log-mel features `[melBins, frames]` of mono 16 kHz samples in [-1, 1).
    /// Throws when the (unpadded) clip is shorter than one hop.
    public func compute(_ samples: [Float], padding: Padding = .chunk) throws -> Tensor {
        var x = samples.map(Double.init)
        if padding == .chunk {
            if x.count > chunkSamples { x.removeLast(x.count - chunkSamples) }
            x.append(contentsOf: repeatElement(0, count: chunkSamples - x.count))
        }
        let n = x.count
        let frames = n / hopLength
        guard frames > 0 else {
            throw AudioFeatureError("whisper log-mel: \(n) samples is shorter than one \(hopLength)-sample hop")
        }
        let half = nFFT / 2
        let bins = melBins, nfft = nFFT, hop = hopLength
        var logMel = [Double](repeating: 0, count: frames * bins)  // [frame][mel] while computing
        x.withUnsafeBufferPointer { src in
            logMel.withUnsafeMutableBufferPointer { dst in
                let sp = SendableConstPointer(src.baseAddress!), dp = SendablePointer(dst.baseAddress!)
                parallelChunks(frames, costPerItem: nfft * 20) { range in
                    var frame = [Double](repeating: 0, count: nfft)
                    var spectrum = [Complex](repeating: Complex(0, 0), count: nfft / 2 + 1)
                    var power = [Double](repeating: 0, count: nfft / 2 + 1)
                    for t in range {
                        // Frame t covers padded positions t·hop … t·hop + nFFT − 1, i.e. original
                        // samples starting at t·hop − nFFT/2, reflected at both ends.
                        let start = t * hop - half
                        for i in 0..<nfft {
                            frame[i] = sp.base[WhisperLogMel.reflect(start + i, count: n)] * window[i]
                        }
                        frame.withUnsafeBufferPointer { f in
                            spectrum.withUnsafeMutableBufferPointer { fft.forward(f.baseAddress!, $0.baseAddress!) }
                        }
                        for k in 0..<power.count { power[k] = spectrum[k].squaredMagnitude }
                        power.withUnsafeBufferPointer { p in filterbank.apply(p.baseAddress!, into: dp.base + t * bins) }
                        for b in 0..<bins { dp.base[t * bins + b] = log10(max(dp.base[t * bins + b], 1e-10)) }
                    }
                }
            }
        }
        let peak = logMel.max() ?? 0
        let floor = peak - 8
        var out = [Float](repeating: 0, count: bins * frames)
        for t in 0..<frames {
            for b in 0..<bins { out[b * frames + t] = Float((max(logMel[t * bins + b], floor) + 4) / 4) }
        }
        return Tensor(out, shape: [bins, frames])
    }

    /// `torch` 'reflect' padding index: −1 → 1, −2 → 2, …; n → n−2, … (the edge sample is not
    /// repeated), folded again for clips shorter than the pad.
    static func reflect(_ s: Int, count n: Int) -> Int {
        if n == 1 { return 0 }
        let period = 2 * (n - 1)
        var r = s % period
        if r < 0 { r += period }
        return r < n ? r : period - r
    }
}

import Core
import Foundation

/// Options of Kaldi's `compute-fbank-feats` / `torchaudio.compliance.kaldi.fbank`, same names
/// and defaults as torchaudio except where noted.
public struct KaldiFbankOptions: Sendable, Equatable {
    /// Sample rate of the input in Hz.
    public var sampleRate: Double = 16_000
    /// Frame length in milliseconds (25 → 400 samples at 16 kHz).
    public var frameLengthMs: Double = 25
    /// Frame shift in milliseconds (10 → 160 samples).
    public var frameShiftMs: Double = 10
    /// Standard deviation of Gaussian dither in sample units; 0 disables it (AST and our tests).
    public var dither: Double = 0
    /// Seed of the dither noise, so dithered features are reproducible.
    public var ditherSeed: UInt64 = 0
    /// Pre-emphasis coefficient (0 disables it).
    public var preemphasis: Double = 0.97
    /// Subtract each frame's mean before pre-emphasis.
    public var removeDCOffset: Bool = true
    /// torchaudio's default is `.povey`; AST (and `KaldiFbankOptions.ast`) use `.hanning`.
    public var window: WindowFunction = .povey
    /// Zero-pad frames to the next power of two before the FFT.
    public var roundToPowerOfTwo: Bool = true
    /// Number of triangular mel filters.
    public var melBins: Int = 23
    /// Lower filter edge in Hz.
    public var lowFrequency: Double = 20
    /// Upper filter edge in Hz; ≤ 0 means Nyquist + this value (Kaldi's convention).
    public var highFrequency: Double = 0
    /// Only frames that fit completely (true), or Kaldi's centred frames with reflected edges (false).
    public var snipEdges: Bool = true
    /// Add a log-energy column (first, or last when `htkCompat`).
    public var useEnergy: Bool = false
    /// Energy from the frame before pre-emphasis and windowing (Kaldi's `raw_energy`).
    public var rawEnergy: Bool = true
    /// Floor of the energy column (0 = only FLT_EPSILON).
    public var energyFloor: Double = 1
    /// HTK layout: energy column last instead of first.
    public var htkCompat: Bool = false
    /// Power (true) or magnitude spectrum.
    public var usePower: Bool = true
    /// Natural log of the filter outputs (floored at FLT_EPSILON).
    public var useLogFbank: Bool = true

    /// torchaudio's defaults.
    public init() {}

    /// The options AST's feature extractor uses: `fbank(htk_compat=True, sample_frequency=16000,
    /// use_energy=False, window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10)`.
    public static var ast: KaldiFbankOptions {
        var o = KaldiFbankOptions()
        o.htkCompat = true
        o.window = .hanning
        o.melBins = 128
        o.energyFloor = 0
        return o
    }

    /// Samples per frame, truncated as Kaldi and torchaudio do (44.1 kHz × 25 ms → 1102); the
    /// 1e-6 only absorbs binary round-off such as 399.99999999.
    public var frameLength: Int { Int(sampleRate * frameLengthMs / 1000 + 1e-6) }
    /// Samples between frame starts (truncated likewise).
    public var frameShift: Int { Int(sampleRate * frameShiftMs / 1000 + 1e-6) }
    /// FFT size.
    public var paddedLength: Int {
        guard roundToPowerOfTwo else { return frameLength }
        var p = 1
        while p < frameLength { p <<= 1 }
        return p
    }
}

/// Kaldi-compatible log mel filterbank (`[frames, melBins]`, plus an energy column if asked).
///
/// Per frame: optional dither, DC removal, raw energy, pre-emphasis y[i] = x[i] − 0.97·x[i−1]
/// with y[0] = x[0] − 0.97·x[0], window, zero-pad to a power of two, real FFT, power spectrum,
/// mel filters (`MelFilterbank.kaldi`), log(max(·, FLT_EPSILON)). All arithmetic in Double;
/// AST's 128-bin setting keeps filter 3 empty, so that column is log(FLT_EPSILON) = −15.942385.
public struct KaldiFbank: Sendable {
    /// The options in use.
    public let options: KaldiFbankOptions
    /// The triangular filters over the `paddedLength/2 + 1` FFT bins.
    public let filterbank: MelFilterbank
    let window: [Double]
    let fft: RealFFT

    /// Checks the options and builds the window, filters and FFT plan.
    public init(_ options: KaldiFbankOptions = .ast) throws {
        let o = options
        guard o.sampleRate > 0, o.frameLength >= 2, o.frameShift >= 1 else {
            throw AudioFeatureError("fbank: frame length \(o.frameLength) / shift \(o.frameShift) samples is not usable")
        }
        let nyquist = o.sampleRate / 2
        let high = o.highFrequency > 0 ? o.highFrequency : nyquist + o.highFrequency
        guard o.melBins >= 1, o.lowFrequency >= 0, high > o.lowFrequency, high <= nyquist else {
            throw AudioFeatureError("fbank: mel range \(o.lowFrequency)…\(high) Hz with \(o.melBins) bins is not valid for \(o.sampleRate) Hz")
        }
        self.options = o
        filterbank = .kaldi(count: o.melBins, paddedLength: o.paddedLength, sampleRate: o.sampleRate,
                            lowFrequency: o.lowFrequency, highFrequency: high)
        window = o.window.values(length: o.frameLength)
        fft = RealFFT(count: o.paddedLength)
    }

    /// Number of frames for `sampleCount` samples.
    public func frameCount(for sampleCount: Int) -> Int {
        let (len, shift) = (options.frameLength, options.frameShift)
        if options.snipEdges { return sampleCount < len ? 0 : 1 + (sampleCount - len) / shift }
        return (sampleCount + shift / 2) / shift
    }

    /// Features of mono `samples` (in the scale the caller wants: AST expects [-1, 1)).
    /// Throws when the clip is shorter than one frame.
    public func compute(_ samples: [Float]) throws -> Tensor {
        let o = options
        let frames = frameCount(for: samples.count)
        guard frames > 0 else {
            throw AudioFeatureError(
                "fbank: \(samples.count) samples is shorter than one \(o.frameLength)-sample frame (\(o.frameLengthMs) ms)")
        }
        let (len, shift, padded) = (o.frameLength, o.frameShift, o.paddedLength)
        let bins = o.melBins
        let energyColumns = o.useEnergy ? 1 : 0
        let width = bins + energyColumns
        let melOffset = o.useEnergy && !o.htkCompat ? 1 : 0
        let energyIndex = o.htkCompat ? bins : 0
        let floorValue = Double(Float.ulpOfOne)
        let logEnergyFloor = o.energyFloor > 0 ? log(o.energyFloor) : -Double.infinity

        // Dither noise is drawn up front, frame by frame, so the result does not depend on threads.
        var noise: [Double] = []
        if o.dither != 0 {
            var rng = SplitMix64(seed: o.ditherSeed)
            noise = (0..<(frames * len)).map { _ in Double(rng.nextNormal()) * o.dither }
        }
        var out = [Float](repeating: 0, count: frames * width)
        let n = samples.count
        samples.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let sp = SendableConstPointer(src.baseAddress!), dp = SendablePointer(dst.baseAddress!)
                let noiseCopy = noise
                parallelChunks(frames, costPerItem: padded * 20) { range in
                    var frame = [Double](repeating: 0, count: padded)
                    var spectrum = [Complex](repeating: Complex(0, 0), count: padded / 2 + 1)
                    var power = [Double](repeating: 0, count: padded / 2 + 1)
                    var mel = [Double](repeating: 0, count: bins)
                    for t in range {
                        // Kaldi's non-snip framing is centred on t·shift + shift/2 and reflects at the ends.
                        let start = o.snipEdges ? t * shift : t * shift + shift / 2 - len / 2
                        for i in 0..<len {
                            var s = start + i
                            if s < 0 || s >= n { s = KaldiFbank.reflect(s, count: n) }
                            frame[i] = Double(sp.base[s])
                        }
                        if !noiseCopy.isEmpty { for i in 0..<len { frame[i] += noiseCopy[t * len + i] } }
                        if o.removeDCOffset {
                            var mean = 0.0
                            for i in 0..<len { mean += frame[i] }
                            mean /= Double(len)
                            for i in 0..<len { frame[i] -= mean }
                        }
                        var energy = 0.0
                        if o.useEnergy && o.rawEnergy { for i in 0..<len { energy += frame[i] * frame[i] } }
                        if o.preemphasis != 0 {
                            for i in stride(from: len - 1, through: 1, by: -1) { frame[i] -= o.preemphasis * frame[i - 1] }
                            frame[0] -= o.preemphasis * frame[0]
                        }
                        for i in 0..<len { frame[i] *= window[i] }
                        for i in len..<padded { frame[i] = 0 }
                        if o.useEnergy && !o.rawEnergy { for i in 0..<len { energy += frame[i] * frame[i] } }
                        frame.withUnsafeBufferPointer { f in
                            spectrum.withUnsafeMutableBufferPointer { fft.forward(f.baseAddress!, $0.baseAddress!) }
                        }
                        for k in 0..<power.count {
                            let p = spectrum[k].squaredMagnitude
                            power[k] = o.usePower ? p : p.squareRoot()
                        }
                        power.withUnsafeBufferPointer { p in
                            mel.withUnsafeMutableBufferPointer { filterbank.apply(p.baseAddress!, into: $0.baseAddress!) }
                        }
                        let row = dp.base + t * width
                        for b in 0..<bins {
                            let v = o.useLogFbank ? log(max(mel[b], floorValue)) : mel[b]
                            row[melOffset + b] = Float(v)
                        }
                        if o.useEnergy {
                            row[energyIndex] = Float(max(log(max(energy, floorValue)), logEnergyFloor))
                        }
                    }
                }
            }
        }
        return Tensor(out, shape: [frames, width])
    }

    /// Kaldi's edge reflection for centred frames: −1 → 0, −2 → 1, …; n → n−1, n+1 → n−2, …
    static func reflect(_ s: Int, count n: Int) -> Int {
        var s = s
        // Repeat for frames wider than the whole clip.
        while s < 0 || s >= n {
            if s < 0 { s = -s - 1 } else { s = 2 * n - 1 - s }
        }
        return s
    }
}

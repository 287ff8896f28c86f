import Core
import Foundation

/// Band-limited sample-rate conversion by a rational factor L/M with a polyphase windowed-sinc
/// filter.
///
/// The filter is a Kaiser-windowed sinc defined on the upsampled grid (rate L·fs_in):
///
///     h[k] = g · 2fc · sinc(2fc·k) · I0(β·√(1 − (k/K)²)) / I0(β),   |k| ≤ K
///
/// where fc (cycles per upsampled sample) is `cutoff` × the lower of the two Nyquist
/// frequencies, K = zeroCrossings / (2fc) is the half-length, so the sinc is cut after
/// `zeroCrossings` zero crossings on each side, and g scales the taps to sum to L (unit gain at DC
/// after zero-stuffing). Output sample n sits at input position n·M/L and is
/// `y[n] = Σ_i x[i] · h[n·M − i·L]` (zero-phase: no delay; samples outside the input are zero).
/// Output length is ⌈N·L/M⌉, as torchaudio and librosa use.
///
/// **Default filter**: 32 zero crossings, β = 8.0, cutoff 0.92 of the lower Nyquist. Kaiser's
/// formula for β = 8 gives about 81 dB stop-band attenuation and a transition width of
/// (A − 7.95) / (14.36 · 2K) ≈ 0.073 of the lower rate, so the pass band reaches 0.85 of the lower
/// Nyquist (6.8 kHz when the output is 16 kHz) and the stop band starts just below it (0.993);
/// anything above the new Nyquist is suppressed by ~80 dB.
///
/// `scipyResamplePoly` reproduces `scipy.signal.resample_poly`'s default filter (firwin with
/// 2·10·max(L,M)+1 taps, cutoff at the lower Nyquist, Kaiser β = 5), which is how the 16 kHz
/// fixtures were made; it leaks around the Nyquist and is kept for cross-checking.
public struct Resampler: Sendable {
    /// Description of the prototype low-pass filter.
    public struct Filter: Sendable, Equatable {
        /// Zero crossings of the sinc kept on each side.
        public var zeroCrossings: Double
        /// Kaiser window shape parameter.
        public var beta: Double
        /// −6 dB point as a fraction of the lower of the input and output Nyquist frequencies.
        public var cutoff: Double
        /// A Kaiser-windowed sinc with the given shape.
        public init(zeroCrossings: Double, beta: Double, cutoff: Double) {
            self.zeroCrossings = zeroCrossings
            self.beta = beta
            self.cutoff = cutoff
        }
        /// Our default: ~80 dB stop band that starts below the new Nyquist.
        public static let standard = Filter(zeroCrossings: 32, beta: 8.0, cutoff: 0.92)
        /// `scipy.signal.resample_poly`'s default window ('kaiser', 5.0) with its half-length 10·max(L,M).
        public static let scipyResamplePoly = Filter(zeroCrossings: 10, beta: 5.0, cutoff: 1.0)
    }

    /// Input rate in Hz.
    public let inputRate: Int
    /// Output rate in Hz.
    public let outputRate: Int
    /// Upsampling factor L (outputRate / gcd).
    public let up: Int
    /// Downsampling factor M (inputRate / gcd).
    public let down: Int
    /// Filter description.
    public let filter: Filter
    /// Half-length K in upsampled samples (taps run from −K to K).
    let halfLength: Int
    /// Prototype taps h[−K…K] (index k + K), or empty when they are evaluated on the fly.
    let taps: [Double]
    let fc: Double
    let gain: Double
    let besselBeta: Double
    /// Kaiser window at |k|/K = i/windowSteps, for the on-the-fly path only (linearly
    /// interpolated: the window is smooth, so the error is below 1e-7 of the peak).
    let windowTable: [Double]
    static let windowSteps = 16_384

    /// Highest sample rate accepted (a corrupt header could claim billions of Hz, and the filter
    /// length grows with the rate ratio).
    public static let maxRate = 1_000_000

    /// Upper bound on stored taps; beyond it (rates whose ratio reduces to huge L) each tap is
    /// computed when needed, which is slower but needs no memory.
    static let maxStoredTaps = 1 << 22

    /// Plans a conversion from `inputRate` to `outputRate` (both positive).
    public init(from inputRate: Int, to outputRate: Int, filter: Filter = .standard) throws {
        guard inputRate > 0, outputRate > 0, inputRate <= Resampler.maxRate, outputRate <= Resampler.maxRate else {
            throw AudioFeatureError("resampler: rates must be 1…\(Resampler.maxRate) Hz, got \(inputRate) → \(outputRate) Hz")
        }
        guard filter.zeroCrossings >= 1, filter.cutoff > 0, filter.cutoff <= 1, filter.beta >= 0 else {
            throw AudioFeatureError("resampler: invalid filter \(filter)")
        }
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let g = gcd(inputRate, outputRate)
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.filter = filter
        up = outputRate / g
        down = inputRate / g
        fc = filter.cutoff * 0.5 / Double(max(up, down))
        halfLength = Int((filter.zeroCrossings / (2 * fc)).rounded(.down))
        besselBeta = Resampler.besselI0(filter.beta)
        let length = 2 * halfLength + 1
        if length <= Resampler.maxStoredTaps {
            let (b, fcc, k) = (besselBeta, fc, halfLength)
            var raw = (0..<length).map { Resampler.windowedSinc(Double($0 - k), fc: fcc, half: Double(k), beta: filter.beta, i0Beta: b) }
            let sum = raw.reduce(0, +)
            let scale = Double(up) / sum
            for i in raw.indices { raw[i] *= scale }
            taps = raw
            gain = scale
            windowTable = []
        } else {
            // Continuous approximation of the tap sum: ∫ 2fc·sinc ≈ 1 per upsampled sample → L overall.
            taps = []
            gain = Double(up)
            let (beta, i0) = (filter.beta, besselBeta)
            windowTable = (0...Resampler.windowSteps).map { i in
                let r = Double(i) / Double(Resampler.windowSteps)
                return Resampler.besselI0(beta * max(0, 1 - r * r).squareRoot()) / i0
            }
        }
    }

    /// Number of output samples for `inputCount` input samples: ⌈inputCount·L/M⌉.
    public func outputCount(for inputCount: Int) -> Int {
        (inputCount * up + down - 1) / down
    }

    /// Converts mono samples.
    public func process(_ input: [Float]) -> [Float] {
        let n = input.count
        let outCount = outputCount(for: n)
        if up == down || n == 0 { return n == 0 ? [] : input }
        var out = [Float](repeating: 0, count: outCount)
        let (L, M, K) = (up, down, halfLength)
        input.withUnsafeBufferPointer { src in
            taps.withUnsafeBufferPointer { h in
                let sp = SendableConstPointer(src.baseAddress!)
                let hp = h.isEmpty ? nil : SendableConstPointer(h.baseAddress!)
                out.withUnsafeMutableBufferPointer { dst in
                    let dp = SendablePointer(dst.baseAddress!)
                    let cost = 2 * K / L + 1
                    parallelChunks(outCount, costPerItem: cost) { range in
                        for j in range {
                            // Input i contributes h[j·M − i·L]; |j·M − i·L| ≤ K bounds i.
                            let t = j * M
                            let iLow = max(0, Resampler.ceilDiv(t - K, L))
                            let iHigh = min(n - 1, Resampler.floorDiv(t + K, L))
                            var acc = 0.0
                            if iLow <= iHigh {
                                var k = t - iLow * L
                                if let hp {
                                    for i in iLow...iHigh {
                                        acc += Double(sp.base[i]) * hp.base[k + K]
                                        k -= L
                                    }
                                } else {
                                    for i in iLow...iHigh {
                                        acc += Double(sp.base[i]) * self.tap(k)
                                        k -= L
                                    }
                                }
                            }
                            dp.base[j] = Float(acc)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Converts a clip (each channel separately) to `outputRate`.
    public func process(_ clip: AudioClip) -> AudioClip {
        if clip.channels == 1 {
            return AudioClip(samples: process(clip.samples), sampleRate: outputRate, channels: 1)
        }
        let converted = (0..<clip.channels).map { process(clip.channel($0).samples) }
        let frames = converted[0].count
        var out = [Float](repeating: 0, count: frames * clip.channels)
        for c in 0..<clip.channels {
            for f in 0..<frames { out[f * clip.channels + c] = converted[c][f] }
        }
        return AudioClip(samples: out, sampleRate: outputRate, channels: clip.channels)
    }

    /// The tap at offset k, computed from the formula (used when the table would be too large).
    func tap(_ k: Int) -> Double {
        let r = abs(Double(k)) / Double(halfLength)
        if r > 1 { return 0 }
        let position = r * Double(Resampler.windowSteps)
        let i = min(Int(position), Resampler.windowSteps - 1)
        let frac = position - Double(i)
        let window = windowTable[i] + (windowTable[i + 1] - windowTable[i]) * frac
        let x = 2 * fc * Double(k)
        let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
        return gain * 2 * fc * sinc * window
    }

    /// 2fc·sinc(2fc·k)·Kaiser(k/half), unscaled.
    static func windowedSinc(_ k: Double, fc: Double, half: Double, beta: Double, i0Beta: Double) -> Double {
        let x = 2 * fc * k
        let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
        let r = k / half
        let window = abs(r) > 1 ? 0 : besselI0(beta * (max(0, 1 - r * r)).squareRoot()) / i0Beta
        return 2 * fc * sinc * window
    }

    /// Modified Bessel function of the first kind, order 0, by its power series (converges fast
    /// for the β ≤ 20 used in Kaiser windows).
    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0
        let q = x * x / 4
        var k = 1.0
        while term > 1e-17 * sum {
            term *= q / (k * k)
            sum += term
            k += 1
        }
        return sum
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }
}

extension AudioClip {
    /// This clip at `rate` Hz with the default band-limited filter (unchanged when already there).
    public func resampled(to rate: Int) throws -> AudioClip {
        if rate == sampleRate { return self }
        return try Resampler(from: sampleRate, to: rate).process(self)
    }
}

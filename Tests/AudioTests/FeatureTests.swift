import Audio
import Core
import Foundation
import Testing
import TestSupport

/// Kaldi fbank (AST settings) and Whisper log-mel against `features.safetensors`, with the
/// tolerances the fixture README states.
@Suite struct FeatureTests {
    /// Largest |a − b| over cells where `where(reference)` holds.
    static func maxDiff(_ a: Tensor, _ b: Tensor, where keep: (Float) -> Bool = { _ in true }) -> Float {
        var worst: Float = 0
        for i in 0..<b.count where keep(b.storage[i]) { worst = max(worst, abs(a.storage[i] - b.storage[i])) }
        return worst
    }

    @Test func windowsMatchFixture() throws {
        let f = try AudioFixtures.features()
        let hanning = Tensor(WindowFunction.hanning.values(length: 400).map(Float.init))
        let periodic = Tensor(WindowFunction.hannPeriodic.values(length: 400).map(Float.init))
        #expect(maxAbsDifference(hanning, try f["window_hanning_symmetric_400"])! < 1e-7)
        #expect(maxAbsDifference(periodic, try f["window_hann_periodic_400"])! < 1e-7)
    }

    /// Our Kaldi triangles (128 × 257, empty filter 3, zero Nyquist column) and Whisper's Slaney
    /// filters (stored [201, 80] in the fixture) agree to float32 rounding.
    @Test func melFiltersMatchFixture() throws {
        let f = try AudioFixtures.features()
        let fbank = try KaldiFbank(.ast)
        let kaldi = fbank.filterbank.dense()
        let kaldiRef = try f["kaldi_mel_banks_128x257"]
        #expect(kaldi.shape == [128, 257])
        #expect(maxAbsDifference(kaldi, kaldiRef)! < 1e-6, "\(differenceReport(kaldi, kaldiRef))")
        #expect(fbank.filterbank.weights[3].isEmpty)
        #expect((0..<128).allSatisfy { kaldi.storage[$0 * 257 + 256] == 0 })

        let slaney = WhisperLogMel().filterbank.dense().transposed(0, 1)
        let slaneyRef = try f["whisper_mel_filters_201x80"]
        // Weights are about 0.03 at most; 1e-8 absolute is float32 rounding of those values.
        #expect(maxAbsDifference(slaney, slaneyRef)! < 1e-8, "\(differenceReport(slaney, slaneyRef))")
    }

    @Test(arguments: AudioFixtures.digits)
    func kaldiFbankMatchesFixture(digit: String) throws {
        let f = try AudioFixtures.features()
        let samples = try AudioFixtures.clip16k(digit)
        let ours = try KaldiFbank(.ast).compute(samples)
        let ref = try f["allison_digit\(digit)_16k/kaldi_fbank"]
        #expect(ours.shape == ref.shape)
        #expect(ours.shape[0] == 1 + (samples.count - 400) / 160)
        // README tolerance: ≤ 2e-3 everywhere, ≤ 3e-4 where the reference is above −10.
        let all = Self.maxDiff(ours, ref), loud = Self.maxDiff(ours, ref, where: { $0 > -10 })
        #expect(all <= 2e-3 && loud <= 3e-4, "max diff \(all), above −10: \(loud)")
        // The empty filter 3 is log(FLT_EPSILON) in every frame.
        #expect((0..<ours.shape[0]).allSatisfy { ours.storage[$0 * 128 + 3] == Float(log(Double(Float.ulpOfOne))) })

        // AST normalisation of the same features.
        let ast = try ASTFeatureExtractor()
        let normRef = try f["allison_digit\(digit)_16k/kaldi_fbank_ast_norm"]
        let norm = ast.normalized(ours)
        // The README bounds scale by 1/(2·4.569) under the affine map.
        let normAll = Self.maxDiff(norm, normRef)
        #expect(normAll <= 2e-3 / 9.1379948 + 1e-6, "normalised max diff \(normAll)")

        // Padded to 1024 frames before normalising: padding rows equal 4.2677393 / 9.1379948.
        let input = try ast(samples)
        let inputRef = try f["allison_digit\(digit)_16k/ast_input_values_hf"]
        #expect(input.shape == [1024, 128])
        #expect(Self.maxDiff(input, inputRef) <= 2e-3 / 9.1379948 + 1e-6)
        #expect(input.storage[1023 * 128] == inputRef.storage[1023 * 128])
        #expect(abs(input.storage[1023 * 128] - 0.46703237) < 1e-7)
    }

    /// Kaldi's command-line tools see int16-valued samples; every log-energy shifts by 2·ln 32768.
    @Test func kaldiFbankInt16Scale() throws {
        let f = try AudioFixtures.features()
        let samples = try AudioFixtures.clip16k("1").map { $0 * 32768 }
        let ours = try KaldiFbank(.ast).compute(samples)
        let ref = try f["allison_digit1_16k/kaldi_fbank_int16_scale"]
        let all = Self.maxDiff(ours, ref), loud = Self.maxDiff(ours, ref, where: { $0 > -10 + 20.79 })
        #expect(all <= 2e-3 && loud <= 3e-4, "max diff \(all), loud \(loud)")
    }

    /// A shorter `maxLength` cuts frames (methods.md: ESC-50 uses 500, GSC 100).
    @Test func astTruncatesToMaxLength() throws {
        let samples = try AudioFixtures.clip16k("1")
        let full = try ASTFeatureExtractor()(samples)
        let short = try ASTFeatureExtractor(maxLength: 50)(samples)
        #expect(short.shape == [50, 128])
        #expect(Array(short.storage) == Array(full.storage[0..<(50 * 128)]))
    }

    @Test(arguments: AudioFixtures.digits)
    func whisperLogMelMatchesFixture(digit: String) throws {
        let f = try AudioFixtures.features()
        let samples = try AudioFixtures.clip16k(digit)
        let mel = WhisperLogMel()
        let padded = try mel.compute(samples, padding: .chunk)
        let paddedRef = try f["allison_digit\(digit)_16k/whisper_log_mel_padded"]
        #expect(padded.shape == [80, 3000])
        let dp = Self.maxDiff(padded, paddedRef)
        #expect(dp <= 1e-4, "padded max diff \(dp)")  // README tolerance 1e-4 absolute

        let unpadded = try mel.compute(samples, padding: .none)
        let unpaddedRef = try f["allison_digit\(digit)_16k/whisper_log_mel_unpadded"]
        #expect(unpadded.shape == [80, samples.count / 160])
        let du = Self.maxDiff(unpadded, unpaddedRef)
        #expect(du <= 1e-4, "unpadded max diff \(du)")
    }

    /// Options without a fixture (Kaldi's defaults: povey window, energy column, centred frames
    /// with reflected edges, no power-of-two padding) against a direct re-statement of Kaldi's
    /// feature-window.cc / mel-computations.cc steps using a naive DFT, on a seeded noise clip
    /// (the filters are reused from ours; their placement is checked against the fixture above).
    @Test func otherKaldiOptionsMatchDirectRestatement() throws {
        var rng = SplitMix64(seed: 77)
        let x = (0..<2000).map { _ in rng.nextUnitFloat() - 0.5 }
        var o = KaldiFbankOptions()
        o.melBins = 23
        o.useEnergy = true
        o.snipEdges = false
        o.roundToPowerOfTwo = false
        o.lowFrequency = 64
        o.highFrequency = -400
        let fbank = try KaldiFbank(o)
        let ours = try fbank.compute(x)
        let frames = (2000 + 80) / 160
        #expect(ours.shape == [frames, 24])
        let n = 400
        let window = (0..<n).map { pow(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n - 1)), 0.85) }
        let dense = fbank.filterbank.dense()
        for t in [0, 1, 6, frames - 1] {
            var frame = (0..<n).map { i -> Double in
                var s = t * 160 + 80 - 200 + i
                if s < 0 { s = -s - 1 }
                if s >= 2000 { s = 2 * 2000 - 1 - s }
                return Double(x[s])
            }
            let mean = frame.reduce(0, +) / Double(n)
            frame = frame.map { $0 - mean }
            let energy = frame.reduce(0) { $0 + $1 * $1 }
            var emphasised = frame
            for i in 1..<n { emphasised[i] = frame[i] - 0.97 * frame[i - 1] }
            emphasised[0] = frame[0] * (1 - 0.97)
            let windowed = zip(emphasised, window).map { $0 * $1 }
            let power = (0...(n / 2)).map { k -> Double in
                var re = 0.0, im = 0.0
                for j in 0..<n {
                    let a = -2 * Double.pi * Double((j * k) % n) / Double(n)
                    re += windowed[j] * cos(a)
                    im += windowed[j] * sin(a)
                }
                return re * re + im * im
            }
            // Energy first (htk_compat false), then the 23 log mel energies.
            #expect(abs(Double(ours.storage[t * 24]) - log(energy)) < 1e-5)
            for b in 0..<23 {
                var e = 0.0
                for k in 0..<201 { e += Double(dense.storage[b * 201 + k]) * power[k] }
                let expected = log(max(e, Double(Float.ulpOfOne)))
                #expect(abs(Double(ours.storage[t * 24 + 1 + b]) - expected) < 1e-5, "frame \(t) bin \(b)")
            }
        }
    }

    @Test func tooShortClipsThrow() throws {
        #expect(throws: AudioFeatureError.self) { try KaldiFbank(.ast).compute([Float](repeating: 0.1, count: 399)) }
        #expect(throws: AudioFeatureError.self) { try WhisperLogMel().compute([Float](repeating: 0.1, count: 100), padding: .none) }
        // A clip shorter than a frame still gives 3000 frames once padded to 30 s.
        #expect(try WhisperLogMel().compute([0.1, -0.2], padding: .chunk).shape == [80, 3000])
    }
}

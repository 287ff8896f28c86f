import Core
import Foundation

/// Waveform augmentation for training copies: gain, additive white noise at a random SNR and a
/// circular-free time shift (zeros shifted in). Every draw comes from the caller's seeded generator.
public struct WaveformAugment: Sendable, Equatable {
    /// Gain range in dB (uniform).
    public var gainDB: ClosedRange<Float> = -6...6
    /// Signal-to-noise ratio range in dB (uniform); noise is white, scaled to the clip's RMS.
    public var snrDB: ClosedRange<Float> = 10...40
    /// Largest shift in seconds, either direction.
    public var maxShift: Float = 0.1

    public init() {}

    /// An augmented copy of mono 16 kHz `samples`.
    public func apply(_ samples: [Float], sampleRate: Int = 16_000, using rng: inout SplitMix64) -> [Float] {
        func uniform(_ r: ClosedRange<Float>) -> Float { r.lowerBound + rng.nextUnitFloat() * (r.upperBound - r.lowerBound) }
        let gain = Foundation.pow(10, uniform(gainDB) / 20)
        let shift = Int((uniform(-maxShift...maxShift) * Float(sampleRate)).rounded())
        let n = samples.count
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let src = i - shift
            if src >= 0 && src < n { out[i] = samples[src] * gain }
        }
        let power = out.reduce(Float(0)) { $0 + $1 * $1 } / Float(max(n, 1))
        let noiseStd = (power / Foundation.pow(10, uniform(snrDB) / 10)).squareRoot()
        if noiseStd > 0 {
            for i in 0..<n { out[i] = max(-1, min(1, out[i] + noiseStd * rng.nextNormal())) }
        }
        return out
    }
}

/// Clips turned into model inputs, in sample order (skipped files left out).
public struct LoadedClips {
    /// One input per clip (and per augmented copy).
    public var features: [Tensor]
    public var labels: [Int]
    /// Which source sample each entry came from (index into the loaded samples).
    public var sources: [Int]
    /// One line per file that was skipped (not audio, unreadable, shorter than one frame).
    public var skipped: [String]
}

/// Decodes clips (any rate, any channel count) to mono 16 kHz and computes features, in parallel.
public enum AudioClipLoader {
    /// The model sample rate.
    public static let sampleRate = 16_000
    /// Shortest usable clip: one 25 ms analysis frame.
    public static let minimumSamples = 400

    /// Mono 16 kHz samples of `url` (channels averaged, resampled with the band-limited resampler).
    /// Throws naming the file when it is not decodable audio or is shorter than one 25 ms frame.
    public static func waveform(_ url: URL) throws -> [Float] {
        let samples = try AudioFile.readMono(url, sampleRate: sampleRate)
        guard samples.count >= minimumSamples else {
            throw AudioFileError(path: url.path, reason: "only \(samples.count) samples at 16 kHz, shorter than one 25 ms frame; remove the clip")
        }
        return samples
    }

    /// Loads `samples`: each decoded clip gives one input, plus `augmentCopies` augmented copies
    /// (seeded by `seed` and the clip's index, so the result does not depend on thread timing).
    /// A bad file is skipped with a line in `skipped`, or with `strict` the first one is thrown.
    public static func load(_ samples: [AudioSample], frontEnd: any AudioFrontEnd, strict: Bool = false,
                            augmentCopies: Int = 0, augment: WaveformAugment = WaveformAugment(), seed: UInt64 = 0) throws -> LoadedClips {
        let perClip = 1 + max(0, augmentCopies)
        var results = [Result<[Tensor], Error>?](repeating: nil, count: samples.count)
        let base = SplitMix64(seed: seed)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            parallelChunks(samples.count, costPerItem: 1_000_000) { range in
                for i in range {
                    do {
                        let wave = try waveform(samples[i].url)
                        var inputs = [try frontEnd(wave)]
                        var rng = base.fork(UInt64(i))
                        for _ in 1..<perClip { inputs.append(try frontEnd(augment.apply(wave, using: &rng))) }
                        out.base[i] = .success(inputs)
                    } catch {
                        out.base[i] = .failure(error)
                    }
                }
            }
        }
        var loaded = LoadedClips(features: [], labels: [], sources: [], skipped: [])
        for (i, result) in results.enumerated() {
            switch result {
            case .success(let inputs)?:
                loaded.features += inputs
                loaded.labels += [Int](repeating: samples[i].label, count: inputs.count)
                loaded.sources += [Int](repeating: i, count: inputs.count)
            case .failure(let e)?:
                let line = "\(e)".hasPrefix(samples[i].url.path) ? "\(e)" : "\(samples[i].url.path): \(e)"
                if strict { throw AudioDatasetError(line + " (strict mode)") }
                loaded.skipped.append(oneLineMessage(line + "; skipped"))   // names may hold newlines: one line per warning
            case nil:
                break
            }
        }
        return loaded
    }
}

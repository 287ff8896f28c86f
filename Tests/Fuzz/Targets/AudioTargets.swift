import Audio
import Core
import Foundation

// Targets for the sound formats (libsndfile behind AudioFile, plus our WAV completeness
// check and resampler), the audio manifests and the AST / Whisper config mappings.

/// Resamplers already planned, by input rate (the output is always 16 kHz). Planning evaluates
/// the whole windowed-sinc table — 2K + 1 taps with K ≈ 34.8 · max(L, M), each a sine and a
/// Bessel series — and depends only on the two rates, not on the bytes being decoded. The first
/// input with a rate plans it exactly as `AudioClip.resampled(to:)` does, under ASan; later
/// inputs with the same rate (most mutations leave the header's rate alone) reuse the plan.
/// At most 32 plans of at most `planBudget` taps (4 MB each) are kept.
nonisolated(unsafe) private var resamplerCache: [Int: Resampler] = [:]

/// Work bounds of one input's resampling, in tap evaluations. Profile of the fifth session's
/// corpus (perf, fuzzing mode): 87 % of the `audio` target's CPU was `Resampler.init`, because a
/// mutated header rate is usually coprime to 16,000 (44,101 Hz → L = 16,000, M = 44,101:
/// a 3-million-tap table evaluated for one input). Like the frame-count bound below, these
/// bound work, not what is reachable: every common rate (8, 11.025, 22.05, 24, 32, 44.1, 48,
/// 96, 192 kHz) and odd rates up to max(L, M) ≈ 7,500 plan a stored table; rates above
/// 120 kHz with a large max(L, M) still take the on-the-fly branch on short clips; rates ≤ 0
/// or above `Resampler.maxRate` still reach the planner's refusal.
private let planBudget = 1 << 19, processBudget = 1 << 24

/// Whether resampling `clip` to 16 kHz fits the work bounds (the same arithmetic as
/// `Resampler.init`: fc = cutoff / (2 max(L, M)), K = ⌊zeroCrossings / (2 fc)⌋).
private func resamplingFitsBudget(_ clip: AudioClip) -> Bool {
    let rate = clip.sampleRate
    guard rate > 0, rate <= Resampler.maxRate else { return true }  // refused before any table is built
    func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
    let g = gcd(rate, 16_000), up = 16_000 / g, down = rate / g
    let filter = Resampler.Filter.standard
    let half = Int((filter.zeroCrossings / (2 * filter.cutoff * 0.5 / Double(max(up, down)))).rounded(.down))
    let length = 2 * half + 1
    let stored = length <= 1 << 22
    let plan = stored ? length : 16_385
    // Each output sample sums about 2K/L + 1 taps; the on-the-fly branch computes a sine per tap.
    let outputs = (clip.frameCount * up + down - 1) / down
    let process = outputs * (2 * half / up + 1) * (stored ? 1 : 8)
    return plan <= planBudget && process <= processBudget
}

/// `clip.resampled(to: 16_000)` with the plan cached: `resampled(to:)` is
/// `rate == sampleRate ? self : Resampler(from:to:).process(self)`, and this is the same.
private func resampledTo16k(_ clip: AudioClip) throws -> AudioClip {
    if clip.sampleRate == 16_000 { return try clip.resampled(to: 16_000) }
    if let r = resamplerCache[clip.sampleRate] { return r.process(clip) }
    let r = try Resampler(from: clip.sampleRate, to: 16_000)
    if resamplerCache.count >= 32 { resamplerCache.removeAll() }
    resamplerCache[clip.sampleRate] = r
    return r.process(clip)
}

let audioFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "audio", summary: "WAV/FLAC/OGG bytes through AudioFile.read(data:) (libsndfile virtual I/O), mono and 16 kHz resampling") { data in
        if Fuzz.alsoThroughFile(data) {
            // The path variant: its own size check, WAV chunk walk over a FileHandle and sf_open.
            let url = Fuzz.file("input.wav", data)
            Fuzz.attempt(naming: url.path) { _ = try AudioFile.read(url) }
        }
        Fuzz.attempt(naming: "input.wav") {
            let clip = try AudioFile.read(data: data, name: "input.wav")
            guard clip.samples.count % max(clip.channels, 1) == 0 else {
                fatalError("\(clip.samples.count) samples for \(clip.channels) channels")
            }
            let mono = clip.mono()
            // What readMono does next, on a bounded clip: a header claiming 1 Hz would make the
            // resampler write 16,000 samples per input sample, and one claiming 44,101 Hz would
            // plan a 3-million-tap filter, which is work, not a bug (see `resamplingFitsBudget`).
            let outputLength = Double(mono.frameCount) * 16_000 / Double(max(mono.sampleRate, 1))
            guard mono.frameCount <= 1 << 16, outputLength <= Double(1 << 18), resamplingFitsBudget(mono) else { return }
            do { _ = try resampledTo16k(mono) } catch let error as AudioFeatureError {
                Fuzz.expectOneLine(error)
            }
        }
    },
    FuzzTarget(name: "audio-manifest", summary: "an audio-adapt CSV manifest (path,label[,fold]) through AudioDataset.manifest", maxLength: 8192) { data in
        let url = Fuzz.scratch.appendingPathComponent("manifest.csv")
        Fuzz.attempt(naming: url.path) { _ = try AudioDataset.manifest(data: data, url: url) }
    },
    FuzzTarget(name: "speech-manifest", summary: "an avsr-tune speech manifest (path<TAB>transcript)", maxLength: 8192) { data in
        let url = Fuzz.scratch.appendingPathComponent("speech.tsv")
        Fuzz.attempt(naming: url.path) { _ = try SpeechManifest(manifestData: data, url: url) }
    },
    FuzzTarget(name: "ast-config", summary: "an AST config.json mapped to ASTConfig and validated") { data in
        Fuzz.attempt(naming: "config.json") {
            let c = try data.withUnsafeBytes { try ASTConfig(json: try JSONConfig(parsing: $0, file: "config.json")) }
            try c.validate(file: "config.json")
        }
    },
    FuzzTarget(name: "whisper-config", summary: "a Whisper config.json mapped to WhisperConfig and validated") { data in
        Fuzz.attempt(naming: "config.json") {
            let c = try data.withUnsafeBytes { try WhisperConfig(huggingFace: try JSONConfig(parsing: $0, file: "config.json")) }
            try c.validate(source: "config.json")
        }
    },
]

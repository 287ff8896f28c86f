import Core
import Foundation

/// Speech recognition of whole recordings with a `WhisperModel`: 16 kHz mono samples are cut into
/// consecutive 30 s windows (the last one zero-padded, as Whisper's feature extractor pads), each
/// window is turned into log-mel features, encoded (several windows per encoder batch) and
/// decoded without timestamps; the windows' tokens are concatenated. No text is produced here:
/// ids → text is the tokenizer's job (`ByteBPETokenizer.decode` in Text).
///
/// ```swift
/// let t = WhisperTranscriber(model: whisper, options: WhisperDecodingOptions(beamSize: 5))
/// let result = try t.transcribe(file: URL(fileURLWithPath: "hello.wav"))
/// tokenizer.decode(result.tokens, skipSpecialTokens: true)
/// ```
public struct WhisperTranscriber {
    public let model: WhisperModel
    public var options: WhisperDecodingOptions
    /// Windows encoded together (memory: about 60 MB of attention scores per window for tiny).
    public var encoderBatch: Int
    public let features: WhisperLogMel

    public init(model: WhisperModel, options: WhisperDecodingOptions = WhisperDecodingOptions(), encoderBatch: Int = 4) {
        self.model = model
        self.options = options
        self.encoderBatch = max(1, encoderBatch)
        features = WhisperLogMel(melBins: model.config.melBins)
    }

    /// One recording's result.
    public struct Transcription: Sendable {
        /// Generated ids of every window, in order (no prompt, no end-of-text).
        public var tokens: [Int]
        /// Per-window decoding results.
        public var windows: [WhisperDecodingResult]
        /// Length of the audio in seconds.
        public var audioSeconds: Double
    }

    /// Seconds spent in each stage (summed over calls): wall-clock, or process CPU seconds when
    /// the environment sets `PEFTKIT_TIMING_CLOCK=cpu` (benchmarks on a shared machine, where wall
    /// time mostly measures the other processes; scripts/whisper-peer-bench.sh uses it).
    public struct Timing: Sendable {
        public var features = 0.0, encoder = 0.0, decoder = 0.0
        public var total: Double { features + encoder + decoder }
        public init() {}

        /// Whether laps read the process CPU clock (`PEFTKIT_TIMING_CLOCK=cpu`).
        public static let usesCPUClock = ProcessInfo.processInfo.environment["PEFTKIT_TIMING_CLOCK"] == "cpu"

        /// The clock the laps read, in seconds.
        static func now() -> Double {
            usesCPUClock ? CPUClock.processSeconds() : Double(DispatchTime.now().uptimeNanoseconds) / 1e9
        }
    }

    /// Reads `file` (any format AudioFile reads; downmixed, resampled to 16 kHz) and transcribes it.
    public func transcribe(file: URL, timing: inout Timing) throws -> Transcription {
        try transcribe(samples: try AudioFile.readMono(file, sampleRate: features.sampleRate), timing: &timing)
    }

    public func transcribe(file: URL) throws -> Transcription {
        var t = Timing()
        return try transcribe(file: file, timing: &t)
    }

    /// Transcribes 16 kHz mono samples.
    public func transcribe(samples: [Float], timing: inout Timing) throws -> Transcription {
        try transcribe(batch: [samples], timing: &timing)[0]
    }

    /// Transcribes several recordings, sharing encoder batches across them.
    public func transcribe(batch recordings: [[Float]], timing: inout Timing) throws -> [Transcription] {
        let chunk = features.chunkSamples
        // (recording, window start) of every window; an empty recording still gets one (silent) window.
        var windows: [(Int, Int)] = []
        for (r, s) in recordings.enumerated() {
            windows += stride(from: 0, to: max(s.count, 1), by: chunk).map { (r, $0) }
        }
        var out = recordings.map { Transcription(tokens: [], windows: [], audioSeconds: Double($0.count) / Double(features.sampleRate)) }
        var start = 0
        while start < windows.count {
            let group = windows[start..<min(start + encoderBatch, windows.count)]
            var t0 = Timing.now()
            func lap() -> Double {
                let now = Timing.now()
                defer { t0 = now }
                return now - t0
            }
            let mels = try group.map { (r, s) -> Tensor in
                let samples = recordings[r]
                let piece = Array(samples[min(s, samples.count)..<min(s + chunk, samples.count)])
                return try features.compute(piece, padding: .chunk)
            }
            let frames = mels[0].shape[1]
            let x = Tensor(Array(mels.map(\.storage).joined()), shape: [mels.count, model.config.melBins, frames])
            timing.features += lap()
            let memory = withoutGrad { model.encoder.encode(x) }
            timing.encoder += lap()
            let results = try model.decode(memory: memory, options: options)
            timing.decoder += lap()
            for ((r, _), result) in zip(group, results) {
                out[r].tokens += result.tokens
                out[r].windows.append(result)
            }
            start += group.count
        }
        return out
    }
}

import CEspeakNG
import Foundation

/// Speech with phoneme timings from eSpeak NG's library (`libespeak-ng`): the same synthesiser as
/// the `espeak-ng` command, but with its phoneme events, which carry each phoneme's start time in
/// the generated audio (the command line gives timings only through MBROLA voices, which Debian
/// does not ship in main).
///
/// eSpeak NG keeps global state, so every call is serialised by one lock. That state also carries
/// from call to call (a repeated sentence can differ by a few samples), so a data set is
/// reproducible when built as a whole in a fresh process, which is how `make-av-data` runs.
public enum EspeakSynthesizer {
    /// One phoneme event: the eSpeak phoneme mnemonic (`k`, `O:`, `_:` …) and its start in seconds.
    public struct Phoneme: Sendable, Equatable {
        public var name: String
        public var start: Double
    }

    public struct Speech: Sendable {
        /// Mono samples in [-1, 1] at `sampleRate` (eSpeak's own rate, 22050 Hz).
        public var samples: [Float]
        public var sampleRate: Int
        public var phonemes: [Phoneme]
        public var duration: Double { Double(samples.count) / Double(max(sampleRate, 1)) }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var sampleRate: Int32 = 0

    /// Collects what the callback hands over.
    private final class Sink {
        var samples: [Int16] = []
        var phonemes: [Phoneme] = []
    }

    /// The callback eSpeak calls with each block of audio and its events (list ends with type 0).
    private static let callback: @convention(c) (UnsafeMutablePointer<Int16>?, Int32, UnsafeMutablePointer<espeak_EVENT>?) -> Int32 = { wav, count, events in
        guard let events, let user = events.pointee.user_data else { return 0 }
        let sink = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
        if let wav, count > 0 { sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count))) }
        var e = events
        while e.pointee.type != espeakEVENT_LIST_TERMINATED {
            if e.pointee.type == espeakEVENT_PHONEME {
                let name = withUnsafeBytes(of: e.pointee.id.string) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                sink.phonemes.append(Phoneme(name: name, start: Double(e.pointee.audio_position) / 1000))
            }
            e += 1
        }
        return 0
    }

    /// Speaks `text` with `voice` (an eSpeak voice name with an optional variant, e.g. `en-us`,
    /// `en+m3`, `en-gb+f2`) at `wordsPerMinute` and `pitch` (0–100).
    public static func speak(_ text: String, voice: String, wordsPerMinute: Int = 160, pitch: Int = 50) throws -> Speech {
        lock.lock()
        defer { lock.unlock() }
        if sampleRate == 0 {
            let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, Int32(espeakINITIALIZE_PHONEME_EVENTS))
            guard rate > 0 else { throw SpeechManifestError("espeak-ng: the library did not initialise (is espeak-ng-data installed?)") }
            sampleRate = rate
            espeak_SetSynthCallback(callback)
        }
        guard espeak_SetVoiceByName(voice) == EE_OK else {
            throw SpeechManifestError("espeak-ng: unknown voice '\(voice)' (see `espeak-ng --voices=en`)")
        }
        espeak_SetParameter(espeakRATE, Int32(wordsPerMinute), 0)
        espeak_SetParameter(espeakPITCH, Int32(pitch), 0)
        let sink = Sink()
        let user = Unmanaged.passUnretained(sink).toOpaque()
        let status = text.withCString { p in
            espeak_Synth(p, strlen(p) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, user)
        }
        guard status == EE_OK else { throw SpeechManifestError("espeak-ng: synthesis failed for '\(text.prefix(40))' (status \(status.rawValue))") }
        espeak_Synchronize()
        return withExtendedLifetime(sink) {
            Speech(samples: sink.samples.map { Float($0) / 32768 }, sampleRate: Int(sampleRate), phonemes: sink.phonemes)
        }
    }
}

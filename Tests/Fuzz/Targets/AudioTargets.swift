import Audio
import Core
import Foundation

// Targets for the sound formats (libsndfile behind AudioFile, plus our WAV completeness
// check and resampler), the audio manifests and the AST / Whisper config mappings.

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
            // resampler write 16,000 samples per input sample, which is work, not a bug.
            let outputLength = Double(mono.frameCount) * 16_000 / Double(max(mono.sampleRate, 1))
            guard mono.frameCount <= 1 << 16, outputLength <= Double(1 << 18) else { return }
            do { _ = try mono.resampled(to: 16_000) } catch let error as AudioFeatureError {
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

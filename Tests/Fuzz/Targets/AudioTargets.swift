import Audio
import Core
import Foundation

// Targets for the sound formats (libsndfile behind AudioFile, plus our WAV completeness
// check and resampler), the audio manifests and the AST / Whisper config mappings.

let audioFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "audio", summary: "WAV/FLAC/OGG bytes through AudioFile.read and readMono (resampled to 16 kHz)") { data in
        let url = Fuzz.file("input.wav", data)
        Fuzz.attempt(naming: url.path) {
            let clip = try AudioFile.read(url)
            guard clip.samples.count % max(clip.channels, 1) == 0 else {
                fatalError("\(clip.samples.count) samples for \(clip.channels) channels")
            }
            _ = clip.mono()
        }
        Fuzz.attempt(naming: url.path) { _ = try AudioFile.readMono(url, sampleRate: 16_000) }
    },
    FuzzTarget(name: "audio-manifest", summary: "an audio-adapt CSV manifest (path,label[,fold]) through AudioDataset.manifest") { data in
        let url = Fuzz.file("manifest.csv", data)
        Fuzz.attempt(naming: url.path) { _ = try AudioDataset.manifest(url) }
    },
    FuzzTarget(name: "speech-manifest", summary: "an avsr-tune speech manifest (path<TAB>transcript)") { data in
        let url = Fuzz.file("speech.tsv", data)
        Fuzz.attempt(naming: url.path) { _ = try SpeechManifest(contentsOf: url) }
    },
    FuzzTarget(name: "ast-config", summary: "an AST config.json mapped to ASTConfig and validated") { data in
        let url = Fuzz.file("config.json", data)
        Fuzz.attempt(naming: url.path) {
            let c = try ASTConfig(contentsOf: url)
            try c.validate(file: url.path)
        }
    },
    FuzzTarget(name: "whisper-config", summary: "a Whisper config.json mapped to WhisperConfig and validated") { data in
        let url = Fuzz.file("config.json", data)
        Fuzz.attempt(naming: url.path) {
            let c = try WhisperConfig(huggingFace: url)
            try c.validate(source: url.path)
        }
    },
]

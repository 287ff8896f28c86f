import Core
import Foundation

/// The embedded **synthetic** audio-visual set (no real talking-face video can be installed here):
/// eSpeak NG speaks each transcript with several voices, and its phoneme timings drive rendered
/// mouth frames (`MouthRenderer`, 25 fps) aligned with the audio.
///
/// Layout, LRS3-like: `<out>/<split>/<id>.wav` (16 kHz), `<id>.txt` (the transcript),
/// `<id>.frames.safetensors` (tensor `frames` `[T, H, W]`), and `<out>/<split>.tsv` manifests that
/// `SpeechManifest` reads. Training and test use different voices and different prompts, and every
/// utterance has its own face (`faceSeed`), test faces from a seed range disjoint from training's.
public enum SyntheticAVSet {
    /// eSpeak voices (voice + variant) for training and for the held-out test speakers.
    public static let trainVoices = ["en-us+m3", "en+f2", "en-us+f4", "en-gb-x-rp+m1"]
    public static let testVoices = ["en-us+f3", "en-gb-scotland+m4"]

    /// The face seed of one utterance: FNV-1a of the voice and the prompt id, so every utterance
    /// gets its own face (reproducibly) and a model cannot recognise a voice's face instead of
    /// reading the mouth. The top bit is set for the `test` split and clear for every other, so
    /// test faces come from a seed range training never draws from.
    public static func faceSeed(split: String, voice: String, promptID: String) -> UInt64 {
        var h = FNV1a64()
        h.mix("synthetic-av-face")
        h.mix(voice)
        h.mix(promptID)
        let low = h.value & ~(UInt64(1) << 63)
        return split == "test" ? low | (UInt64(1) << 63) : low
    }

    /// The frames file beside an utterance's audio file.
    public static func framesURL(forAudio audio: URL) -> URL {
        audio.deletingPathExtension().appendingPathExtension("frames.safetensors")
    }

    /// Reads an utterance's frames `[T, H, W]`, or nil when the file is absent.
    public static func frames(forAudio audio: URL) throws -> Tensor? {
        let url = framesURL(forAudio: audio)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let tensors = try SafeTensors.read(url)
        guard let f = tensors["frames"], f.rank == 3, f.shape[0] >= 1 else {
            throw SpeechManifestError("\(url.path): expected a tensor 'frames' of shape [T, H, W]")
        }
        return f
    }

    /// The per-frame viseme ids stored beside an utterance's frames (`Viseme.rawValue`), or nil
    /// for a frames file without them (LRS3 crops, sets built before labels were stored).
    public static func visemes(forAudio audio: URL) throws -> [Int]? {
        let url = framesURL(forAudio: audio)
        guard FileManager.default.fileExists(atPath: url.path), let v = try SafeTensors.read(url)["visemes"] else { return nil }
        guard v.rank == 1, v.storage.allSatisfy({ $0 >= 0 && $0 < Float(Viseme.allCases.count) && $0 == $0.rounded() }) else {
            throw SpeechManifestError("\(url.path): tensor 'visemes' must be [T] viseme ids 0..<\(Viseme.allCases.count)")
        }
        return v.storage.map { Int($0) }
    }

    /// Builds one split: every transcript × every voice (`oneVoiceEach`: transcript n by voice
    /// n mod the voice count only). Returns the manifest items written; the split's manifest lists
    /// `preceding` (items of an earlier call for the same split) and then these.
    public static func build(split: String, transcripts: [(id: String, text: String)], voices: [String], out: URL,
                             renderer: MouthRenderer = MouthRenderer(), oneVoiceEach: Bool = false,
                             preceding: [SpeechManifest.Item] = [], log: (String) -> Void) throws -> [SpeechManifest.Item] {
        let folder = out.appendingPathComponent(split)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var items: [SpeechManifest.Item] = []
        for (v, voice) in voices.enumerated() {
            for (n, t) in transcripts.enumerated() where !oneVoiceEach || n % voices.count == v {
                let speech = try EspeakSynthesizer.speak(t.text, voice: voice, wordsPerMinute: 150 + 10 * (v % 3))
                let clip = try AudioClip(samples: speech.samples, sampleRate: speech.sampleRate).resampled(to: 16_000)
                let name = "\(t.id.replacingOccurrences(of: "/", with: "_"))-v\(v)"
                let audio = folder.appendingPathComponent(name + ".wav")
                try AudioFile.writeWAV(clip, to: audio)
                let seed = faceSeed(split: split, voice: voice, promptID: t.id)
                let frames = renderer.render(phonemes: speech.phonemes, duration: clip.duration, faceSeed: seed)
                let visemes = renderer.visemes(phonemes: speech.phonemes, duration: clip.duration).map(Float.init)
                let metadata = ["synthetic": "espeak-ng phoneme timings → viseme mouth shapes, 25 fps", "face_seed": "\(seed)"]
                try SafeTensors.write(["frames": frames, "visemes": Tensor(visemes, shape: [visemes.count])], metadata: metadata,
                                      to: framesURL(forAudio: audio))
                try AtomicFile.write(Array((t.text + "\n").utf8), to: folder.appendingPathComponent(name + ".txt"))
                items.append(SpeechManifest.Item(audio: audio, transcript: t.text))
                if (n + 1) % 50 == 0 { log("  \(split) voice \(voice): \(n + 1)/\(transcripts.count)") }
            }
        }
        var text = "# PEFTKit synthetic audio-visual manifest (espeak-ng speech, rendered mouth frames): path<TAB>transcript\n"
        for i in preceding + items { text += "\(split)/\(i.audio.lastPathComponent)\t\(i.transcript)\n" }
        try AtomicFile.write(Array(text.utf8), to: out.appendingPathComponent("\(split).tsv"))
        return items
    }
}

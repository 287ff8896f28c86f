import Audio
import Core
import Foundation
import Testing
import TestSupport

/// Whole recordings through the transcriber (our WAV reader, resampler and log-mel feeding the
/// model), and the evaluation manifest reader.
@Suite struct WhisperTranscriberTests {
    /// A 30 s + 1 s recording (digit 1, silence to 30 s, then digit 2) gives two windows, encoded
    /// as one batch, whose tokens are CTranslate2's greedy ids for the two clips in order.
    @Test func twoWindowRecordingGivesBothDigits() throws {
        let ckpt = try WhisperFixtures.realCheckpoint()
        let model = try WhisperModel(config: ckpt.config, generation: ckpt.generation, at: ckpt.store.root)
        model.eval()
        let one = try AudioFixtures.clip16k("1"), two = try AudioFixtures.clip16k("2")
        let recording = one + [Float](repeating: 0, count: 480_000 - one.count) + two
        var timing = WhisperTranscriber.Timing()
        let r = try WhisperTranscriber(model: model, options: WhisperDecodingOptions(maxLength: 32)).transcribe(samples: recording, timing: &timing)
        #expect(r.windows.count == 2)
        #expect(r.tokens == [352, 13, 362, 13])  // " 1." " 2." (ct2_reference generated_ids)
        #expect(abs(r.audioSeconds - Double(recording.count) / 16_000) < 1e-9)
        #expect(timing.encoder > 0 && timing.decoder > 0)
    }

    @Test func manifestAndFolderReading() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = AudioFixtures.url("allison_digit1_16k.wav")
        let copy = dir.appendingPathComponent("a/one.wav")
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: wav, to: copy)
        try Data("Text:  ONE\nConf: 4\n".utf8).write(to: dir.appendingPathComponent("a/one.txt"))
        try FileManager.default.copyItem(at: wav, to: dir.appendingPathComponent("a/untranscribed.wav"))
        let folder = try SpeechManifest(contentsOf: dir)
        #expect(folder.items.map(\.transcript) == ["ONE"] && folder.skipped.count == 1)

        let m = dir.appendingPathComponent("m.tsv")
        try Data("# comment\na/one.wav\tone\r\n\n\(wav.path)\tthe digit one\n".utf8).write(to: m)
        let manifest = try SpeechManifest(contentsOf: m)
        #expect(manifest.items.map(\.transcript) == ["one", "the digit one"])
        #expect(manifest.items[0].audio.path == copy.path)

        try Data("a/one.wav one\n".utf8).write(to: m)
        #expect { _ = try SpeechManifest(contentsOf: m) } throws: { "\($0)".contains("line 1: expected path<TAB>transcript") }
        try Data("a/one.wav\tone\nmissing.wav\tx\n".utf8).write(to: m)
        #expect { _ = try SpeechManifest(contentsOf: m) } throws: { "\($0)".contains("line 2: audio file") }
        try Data("\n# nothing\n".utf8).write(to: m)
        #expect { _ = try SpeechManifest(contentsOf: m) } throws: { "\($0)".contains("no utterances") }
    }
}

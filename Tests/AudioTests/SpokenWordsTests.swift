@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The spoken-word data builder: vocabulary, seeded voices, silence trimming, and (when espeak-ng
/// and the Asterisk prompts are installed) a small real build.
@Suite("Spoken words")
struct SpokenWordsTests {
    static var soundsInstalled: Bool { FileManager.default.fileExists(atPath: SpokenWords.defaultSoundsDirectory + "/digits/7.wav") }
    static var espeakInstalled: Bool { (try? SpokenWordsBuilder.locate("espeak-ng")) != nil }

    @Test("62 distinct words: digits, letter names and the phonetic alphabet")
    func vocabulary() {
        let words = SpokenWords.Group.allCases.flatMap(SpokenWords.words)
        #expect(words.count == 62 && Set(words.map(\.label)).count == 62)
        #expect(SpokenWords.words(.digits)[7] == .init(label: "seven", spoken: "seven", recording: "digits/7.wav"))
        #expect(SpokenWords.words(.letters)[1] == .init(label: "b", spoken: "bee", recording: "letters/b.wav"))
        #expect(SpokenWords.words(.phonetic)[23] == .init(label: "x-ray", spoken: "x-ray", recording: "phonetic/x_p.wav"))
    }

    @Test("every word has its Allison recording", .enabled(if: soundsInstalled))
    func recordingsPresent() {
        for w in SpokenWords.Group.allCases.flatMap(SpokenWords.words) {
            #expect(FileManager.default.fileExists(atPath: SpokenWords.defaultSoundsDirectory + "/" + w.recording), "\(w.recording)")
        }
    }

    @Test("voices are seeded, and validation variants never appear in training")
    func voices() {
        var b = SpokenWordsBuilder()
        b.trainVoices = 30
        b.validationVoices = 8
        let (train, val) = b.voices()
        #expect(b.voices().train == train && b.voices().validation == val)
        #expect(train.count == 30 && val.count == 8)
        #expect(Set(train.map(\.variant)).isDisjoint(with: val.map(\.variant)))
        #expect(train.allSatisfy { (120...200).contains($0.speed) && (25...75).contains($0.pitch) })
        b.seed = 1
        #expect(b.voices().train != train)
    }

    @Test("silence trimming keeps 50 ms around the first and last sample above −40 dB of the peak")
    func trim() {
        // 1 kHz rate: margin 50 samples. Signal at 100…199 (peak 1), a 0.005 blip at 20 (below 1 %).
        var x = [Float](repeating: 0, count: 400)
        for i in 100..<200 { x[i] = i % 2 == 0 ? 1 : -0.5 }
        x[20] = 0.005
        let y = SpokenWordsBuilder.trimSilence(x, sampleRate: 1000)
        #expect(y.count == (199 + 50) - (100 - 50) + 1)
        #expect(y[50] == 1 && y[0] == 0)
        #expect(SpokenWordsBuilder.trimSilence([0, 0, 0], sampleRate: 1000) == [0, 0, 0])
    }

    @Test("a small build has the folder layout, 8 kHz synthetic clips and byte-identical test recordings",
          .enabled(if: soundsInstalled && espeakInstalled))
    func smallBuild() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var b = SpokenWordsBuilder()
        b.groups = [.digits]
        b.trainVoices = 2
        b.validationVoices = 1
        let dir = root.appendingPathComponent("spoken-words")
        let summary = try b.build(into: dir)
        #expect(summary.trainClips == 20 && summary.validationClips == 10 && summary.testClips == 10)
        let data = try AudioDataset.open(dir)
        #expect(data.classes.count == 10 && data.splits["train"]?.count == 20 && data.splits["val"]?.count == 10)
        let clip = try AudioFile.read(data.splits["train"]![0].url)
        #expect(clip.sampleRate == 8000 && clip.channels == 1 && clip.duration > 0.2 && clip.duration < 2)
        let copy = try Data(contentsOf: dir.appendingPathComponent("test/seven/allison.wav"))
        #expect(copy == (try Data(contentsOf: URL(fileURLWithPath: SpokenWords.defaultSoundsDirectory + "/digits/7.wav"))))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("build.json").path))
        // No temporary folder left beside the output.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["spoken-words"])
    }
}

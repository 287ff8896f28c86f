@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The real-speech corpus builder, babble mixing, and Omni-AVSR training / saving on the tiny HF Whisper.
@Suite struct AVSRTrainingTests {
    func tempFolder(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-avsr-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func sphinxTranscriptionLines() {
        #expect(SpeechCorpus.parseSphinxLine("<s> ten of clubs  </s> (001)")! == ("ten of clubs", "001"))
        #expect(SpeechCorpus.parseSphinxLine("he was not an ill disposed young man (sense-0880)")! == ("he was not an ill disposed young man", "sense-0880"))
        #expect(SpeechCorpus.parseSphinxLine("no id here") == nil)
        #expect(SpeechCorpus.parseSphinxLine("<s> words </s> ()") == nil)
    }

    /// Index lines as Debian's core-sounds-en.txt writes them: bracketed entries, missing files and
    /// comments are dropped; folder names (`digits/1`) map to sub-folders.
    @Test func asteriskIndexParsing() throws {
        let sounds = try tempFolder("sounds")
        defer { try? FileManager.default.removeItem(at: sounds) }
        try FileManager.default.createDirectory(at: sounds.appendingPathComponent("digits"), withIntermediateDirectories: true)
        for name in ["activated", "beep", "digits/1", "mixed"] {
            FileManager.default.createFile(atPath: sounds.appendingPathComponent(name + ".wav").path, contents: Data([0]))
        }
        let index = """
            ; Core Asterisk Sounds in English

            activated: Activated.
            beep: [this is a simple beep tone]
            digits/1: one
            mixed: Goodbye [tone]
            angle: <beep decending>
            missing: Not installed.
            """
        var corpus = SpeechCorpus()
        corpus.addAsteriskPrompts(index: index, sounds: sounds)
        #expect(corpus.utterances.map(\.id) == ["asterisk/activated", "asterisk/digits/1"])
        #expect(corpus.utterances.map(\.transcript) == ["Activated.", "one"])
        #expect(corpus.utterances[1].audio.path.hasSuffix("digits/1.wav"))
        #expect(corpus.dropped.map(\.reason).sorted() == ["bracketed non-speech", "bracketed non-speech", "bracketed non-speech", "no sound file"])
    }

    @Test func splitIsDisjointSeededAndSized() {
        var corpus = SpeechCorpus()
        corpus.utterances = (0..<100).map { SpeechCorpus.Utterance(id: "u\($0)", audio: URL(fileURLWithPath: "/x/\($0).wav"), transcript: "w\($0)") }
        let a = corpus.split(valFraction: 0.1, testFraction: 0.2, seed: 7)
        let b = corpus.split(valFraction: 0.1, testFraction: 0.2, seed: 7)
        let c = corpus.split(valFraction: 0.1, testFraction: 0.2, seed: 8)
        #expect((a.train.count, a.val.count, a.test.count) == (70, 10, 20))
        let ids = a.train.map(\.id) + a.val.map(\.id) + a.test.map(\.id)
        #expect(Set(ids).count == 100)
        #expect(a.test.map(\.id) == b.test.map(\.id))
        #expect(a.test.map(\.id) != c.test.map(\.id))
    }

    @Test func manifestRoundTrip() throws {
        let folder = try tempFolder("manifest")
        defer { try? FileManager.default.removeItem(at: folder) }
        let audio = folder.appendingPathComponent("a.wav")
        FileManager.default.createFile(atPath: audio.path, contents: Data([0]))
        let url = folder.appendingPathComponent("m.tsv")
        try SpeechCorpus.writeManifest([.init(id: "a", audio: audio, transcript: "Press\t1, then #.")], to: url)
        let m = try SpeechManifest(contentsOf: url)
        #expect(m.items == [SpeechManifest.Item(audio: audio, transcript: "Press 1, then #.")])
    }

    /// The mix has the requested SNR over the utterance (to 1e-6 dB in double precision of the
    /// measure; the samples are Float), never uses the utterance itself, and is reproducible.
    @Test func babbleHitsTheSNRAndIsSeeded() throws {
        var rng = SplitMix64(seed: 5)
        let pool: [[Float]] = (0..<6).map { i in (0..<(800 + 100 * i)).map { _ in (rng.nextUnitFloat() - 0.5) * Float(i + 1) } }
        let mixer = try BabbleMixer(pool: pool, talkers: 4)
        for snr in [10.0, 5, 0, -5] {
            let mixed = mixer.mix(pool[2], snrDB: snr, excluding: 2, seed: 11)
            #expect(abs(BabbleMixer.snr(clean: pool[2], mixed: mixed) - snr) < 1e-3)
            #expect(mixed == mixer.mix(pool[2], snrDB: snr, excluding: 2, seed: 11))
        }
        #expect(mixer.mix(pool[2], snrDB: 0, excluding: 2, seed: 11) != mixer.mix(pool[2], snrDB: 0, excluding: 2, seed: 12))
        // With 5 talkers out of 6 and the own utterance excluded, the babble is exactly the other five.
        let five = try BabbleMixer(pool: pool, talkers: 5)
        let b = five.babble(count: 10, excluding: 0, seed: 1)
        let withOwn = five.babble(count: 10, excluding: nil, seed: 1)
        #expect(b.count == 10 && withOwn.count == 10)
        #expect(throws: (any Error).self) { try BabbleMixer(pool: [[1, 2], [3, 4]], talkers: 2) }
    }

    func tinyWhisper() throws -> (WhisperModel, Tensor) {
        let model = try WhisperModel(checkpoint: try WhisperCheckpoint.load(WhisperFixtures.fixture("tiny_hf")))
        let io = try FixtureFile(WhisperFixtures.fixture("tiny_hf/io.safetensors"))
        return (model, try io["output.encoder_last_hidden_state"].slice(axis: 1, 0..<32))
    }

    /// A few steps on two utterances lower the loss (the optimiser reaches the LoRAs and projectors),
    /// the same seed gives the same losses, and the saved folder reloads to identical transcripts.
    @Test func trainSaveLoadRoundTrip() throws {
        let (whisper, states) = try tinyWhisper()
        let s0 = states.reshaped([32, states.shape[2]])
        let s1 = Tensor(s0.storage.reversed(), shape: s0.shape)
        let examples = [AVSRExample(audioStates: s0, targets: [300, 301, 302]), AVSRExample(audioStates: s1, targets: [400, 401])]
        var o = AVSRTrainingOptions()
        o.epochs = 8; o.batchSize = 2; o.learningRate = 3e-2; o.warmupFraction = 0; o.seed = 3
        o.audioRates = [1, 4]
        let prompt = [whisper.generation.startOfTranscript]
        func run() throws -> (OmniAVSR, [Float]) {
            let (w, _) = try tinyWhisper()
            let file = AVSRAdapterFile(baseModel: "tiny", videoDim: nil, options: o)
            let m = try file.makeModel(whisper: w)
            let losses = try AVSRTrainer.train(model: m, examples: examples, prompt: prompt, endOfText: w.generation.endOfText, options: o) { _ in }
            return (m, losses)
        }
        let (model, losses) = try run()
        #expect(losses.count == 8)
        #expect(losses.last! < losses.first! * 0.95, "losses \(losses)")
        #expect(try run().1 == losses)
        let folder = try tempFolder("adapter")
        defer { try? FileManager.default.removeItem(at: folder) }
        try AVSRAdapterFile(baseModel: "tiny", videoDim: nil, options: o).save(model, to: folder)
        let (config, reloaded) = try AVSRAdapterFile.load(folder, whisper: whisper)
        // A second adapter on the same Whisper instance is refused (its linears already carry one).
        #expect(throws: (any Error).self) { try AVSRAdapterFile.load(folder, whisper: whisper) }
        #expect(config.options == o)
        let opts = WhisperDecodingOptions(maxLength: 6, prompt: prompt)
        for rate in [1, 4] {
            let a = try AVSRTrainer.transcribe(model: model, examples: examples, task: .asr, audioRate: rate, videoRate: 1, options: opts)
            let b = try AVSRTrainer.transcribe(model: reloaded, examples: examples, task: .asr, audioRate: rate, videoRate: 1, options: opts)
            #expect(a == b)
        }
        // A folder from another configuration is refused, naming the tensor.
        var other = o
        other.audioRates = [1, 2]
        try AVSRAdapterFile(baseModel: "tiny", videoDim: nil, options: other).save(
            try AVSRAdapterFile(baseModel: "tiny", videoDim: nil, options: other).makeModel(whisper: try tinyWhisper().0), to: folder)
        var cfg = try AVSRAdapterFile.readConfig(folder)
        cfg.options.audioRates = [1, 4]
        let e = JSONEncoder(); e.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(Array(try e.encode(cfg)), to: folder.appendingPathComponent(AVSRAdapterFile.configName))
        #expect(throws: (any Error).self) { try AVSRAdapterFile.load(folder, whisper: try tinyWhisper().0) }
    }
}

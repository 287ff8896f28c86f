@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The visual side of Omni-AVSR: time positions of video tokens, per-frame viseme labels, the
/// linear viseme probe, and the decoding-length budget.
@Suite struct AVSRVisualTests {
    func tinyWhisper() throws -> WhisperModel {
        try WhisperModel(checkpoint: try WhisperCheckpoint.load(WhisperFixtures.fixture("tiny_hf")))
    }

    /// Video window i of r frames (25 fps) gets the encoder's position row 2ri + r (50 Hz), the
    /// centre of the audio it covers, clamped to the table's last row; the VSR memory is the
    /// branch output plus those rows, and the AVSR memory's video part is the same.
    @Test func videoTokensCarryTheirTime() throws {
        let whisper = try tinyWhisper()
        let omni = try OmniAVSR(whisper: whisper, videoDim: 6, videoRates: [1, 2], seed: 2)
        let table = whisper.encoder.embedPositions.weight, d = table.shape[1]
        func row(_ p: Int) -> [Float] { Array(table.storage[(p * d)..<((p + 1) * d)]) }
        let e2 = omni.videoTimeEmbedding(count: 3, rate: 2)
        #expect(e2.shape == [3, d])
        #expect(Array(e2.storage[0..<d]) == row(2) && Array(e2.storage[d..<(2 * d)]) == row(6) && Array(e2.storage[(2 * d)...]) == row(10))
        let late = omni.videoTimeEmbedding(count: 800, rate: 1)   // window 799 → position 1599 → clamped to 1499
        #expect(Array(late.storage[(799 * d)...]) == row(1499))

        let video = randomTensor([1, 5, 6], seed: 9)
        let (m, _) = try omni.memory(task: .vsr, audioStates: nil, audioRate: 1, videoFeatures: video, videoRate: 2)
        let plain = withoutGrad { omni.video!(video, rate: 2) }
        #expect(maxAbsDifference(m, plain + omni.videoTimeEmbedding(count: 3, rate: 2)) == 0)
        let audio = randomTensor([1, 8, d], seed: 10)
        let (av, _) = try omni.memory(task: .avsr, audioStates: audio, audioRate: 4, videoFeatures: video, videoRate: 2)
        #expect(Array(av.storage[(2 * d)...]) == m.storage)
        let off = try OmniAVSR(whisper: try tinyWhisper(), videoDim: 6, videoRates: [1, 2], seed: 2, videoTimePositions: false)
        let (mOff, _) = try off.memory(task: .vsr, audioStates: nil, audioRate: 1, videoFeatures: video, videoRate: 2)
        #expect(mOff.storage == withoutGrad { off.video!(video, rate: 2) }.storage)
    }

    /// Frame centres at 25 fps: 0.02, 0.06, 0.10, 0.14, 0.18 s. "p" sounds from 0.01 s, "a" from
    /// 0.10 s (a frame centre at exactly 0.10 s already shows "a"): bilabial ×2, open vowel ×3
    /// (worked by hand); the phonemes need not arrive sorted.
    @Test func visemeLabelsPerFrame() {
        let ph = [EspeakSynthesizer.Phoneme(name: "_", start: 0), .init(name: "p", start: 0.01), .init(name: "a", start: 0.10)]
        let v = MouthRenderer().visemes(phonemes: ph, duration: 0.2)
        #expect(v == [Viseme.bilabial, .bilabial, .openVowel, .openVowel, .openVowel].map(\.rawValue))
        let v2 = MouthRenderer().visemes(phonemes: [.init(name: "b", start: 0.03), .init(name: "_", start: 0)], duration: 0.1)
        #expect(v2 == [Viseme.rest, .bilabial, .bilabial].map(\.rawValue))
    }

    /// Three classes whose feature 0 is the class id plus small noise: the probe reads them
    /// (noise 0.1 against a class spacing of 1: > 95 % held out); with a pure-noise feature it
    /// cannot beat chance (1/3) by much.
    @Test func probeSeparatesInformativeFeaturesOnly() throws {
        var rng = SplitMix64(seed: 4)
        func set(_ n: Int, informative: Bool) -> (Tensor, [Int]) {
            var x: [Float] = [], y: [Int] = []
            for i in 0..<n {
                let c = i % 3
                y.append(c)
                x += [(informative ? Float(c) : 0) + 0.1 * rng.nextNormal(), rng.nextNormal()]
            }
            return (Tensor(x, shape: [n, 2]), y)
        }
        let (a, ya) = set(300, informative: true), (b, yb) = set(90, informative: true)
        let good = try VisemeProbe.fit(train: a, trainLabels: ya, test: b, testLabels: yb, classes: 3, steps: 150)
        #expect(good.testAccuracy > 0.95 && abs(good.majorityAccuracy - 1.0 / 3) < 1e-9)
        let (c, yc) = set(300, informative: false), (e, ye) = set(90, informative: false)
        let bad = try VisemeProbe.fit(train: c, trainLabels: yc, test: e, testLabels: ye, classes: 3, steps: 150)
        #expect(bad.testAccuracy < 0.6)
        #expect(throws: (any Error).self) { try VisemeProbe.fit(train: a, trainLabels: [0], test: b, testLabels: yb, classes: 3) }
    }

    /// Frames [1, 2, 3, 4] (width 1) with 3 valid frames (the 4th is padding), context 1: each
    /// row is (t − 1, t, t + 1) clamped to the valid frames, worked by hand; the padded row
    /// repeats the last valid row, so padding never enters a real frame's context.
    @Test func temporalContextStacksValidNeighbours() throws {
        let x = Tensor([1, 2, 3, 4, 10, 20, 30, 40], shape: [2, 4, 1])
        let c = OmniAVSR.temporalContext(x, lengths: [3, 4], radius: 1)
        #expect(c.shape == [2, 4, 3])
        #expect(c.storage == [1, 1, 2, 1, 2, 3, 2, 3, 3, 2, 3, 3,
                              10, 10, 20, 10, 20, 30, 20, 30, 40, 30, 40, 40])
        #expect(OmniAVSR.temporalContext(x, lengths: nil, radius: 0).storage == x.storage)
        // The video branch reads (2c + 1)·D features; the memory equals the branch on the stacked input.
        let whisper = try tinyWhisper()
        let omni = try OmniAVSR(whisper: whisper, videoDim: 6, videoRates: [1, 2], seed: 2, videoTimePositions: false, videoHidden: 10, videoContext: 2)
        #expect(omni.video!.projectors[1]!.fc1.weight.shape == [10, 30])
        let video = randomTensor([1, 5, 6], seed: 9)
        let (m, _) = try omni.memory(task: .vsr, audioStates: nil, audioRate: 1, videoFeatures: video, videoRate: 2)
        let direct = withoutGrad { omni.video!(OmniAVSR.temporalContext(video, lengths: nil, radius: 2), rate: 2) }
        #expect(m.storage == direct.storage)
    }

    /// `options.tasks = ["vsr"]` trains lip reading alone on video-only examples: only the VSR
    /// LoRAs (with the shared ones) and the video branch get updated; the audio projectors and
    /// the ASR/AVSR task LoRAs keep their initial values; an unknown task name is refused.
    @Test func lipReadingOnlyTrainsTheVideoPath() throws {
        let whisper = try tinyWhisper()
        let examples = [AVSRExample(audioStates: nil, videoFeatures: randomTensor([7, 6], seed: 1), targets: [300, 301]),
                        AVSRExample(audioStates: nil, videoFeatures: randomTensor([5, 6], seed: 2), targets: [400])]
        var o = AVSRTrainingOptions()
        o.epochs = 2; o.batchSize = 2; o.warmupFraction = 0; o.tasks = ["vsr"]; o.videoRates = [1, 2]; o.audioRates = [1, 4]
        let model = try AVSRAdapterFile(baseModel: "tiny", videoDim: 6, options: o).makeModel(whisper: whisper)
        let before = Dictionary(uniqueKeysWithValues: model.trainableParameters().map { ($0.0, $0.1.storage) })
        let report = try AVSRTrainer.train(model: model, examples: examples, prompt: [whisper.generation.startOfTranscript],
                                           endOfText: whisper.generation.endOfText, options: o, run: TrainingRun()) { _ in }
        #expect(Array(report.taskLosses.keys) == ["vsr"] && report.taskLosses["vsr"]!.count == 2)
        for (name, t) in model.trainableParameters() {
            let moved = t.storage != before[name]!
            let videoPath = name.hasPrefix("video.") || name.contains(".vsr.") || name.contains(".shared.")
            #expect(moved == videoPath, "\(name) moved: \(moved)")
        }
        o.tasks = ["lipreading"]
        #expect(throws: (any Error).self) {
            try AVSRTrainer.train(model: model, examples: examples, prompt: [1], endOfText: 2, options: o, run: TrainingRun()) { _ in }
        }
    }

    @Test func tokenBudget() {
        #expect(AVSRTrainer.tokenBudget(seconds: 0) == 8)
        #expect(AVSRTrainer.tokenBudget(seconds: 2.05) == 8 + 17)
    }
}

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

    @Test func tokenBudget() {
        #expect(AVSRTrainer.tokenBudget(seconds: 0) == 8)
        #expect(AVSRTrainer.tokenBudget(seconds: 2.05) == 8 + 17)
    }
}

import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The video branch's cross-modal pre-training (`VideoDistillation`) and the learned video time
/// rows, on the tiny HF Whisper (d = 64).
@Suite struct VideoDistillationTests {
    func tinyWhisper() throws -> WhisperModel {
        try WhisperModel(checkpoint: try WhisperCheckpoint.load(WhisperFixtures.fixture("tiny_hf")))
    }

    /// Frame f of 25 fps covers encoder states 2f and 2f + 1 (50 Hz); a window of r frames
    /// averages the 2r states it covers, the last one only those before 2·frames and the
    /// encoder's end.
    @Test func targetsAverageTheStatesOfEachWindow() {
        let states = Tensor((0..<10).map(Float.init), shape: [10, 1])
        #expect(VideoDistillation.targets(states: states, frames: 3, rate: 1).storage == [0.5, 2.5, 4.5])
        #expect(VideoDistillation.targets(states: states, frames: 3, rate: 2).storage == [1.5, 4.5])
        #expect(VideoDistillation.targets(states: states, frames: 3, rate: 5).storage == [2.5])
        // States shorter than the video: the last window keeps what exists, a window past the end the last state.
        let short = Tensor([0, 1, 2, 3, 4], shape: [5, 1])
        #expect(VideoDistillation.targets(states: short, frames: 4, rate: 1).storage == [0.5, 2.5, 4, 4])
        // Two channels are averaged independently.
        let two = Tensor([1, 10, 3, 30, 5, 50, 7, 70], shape: [4, 2])
        #expect(VideoDistillation.targets(states: two, frames: 2, rate: 1).storage == [2, 20, 6, 60])
    }

    /// The batch loss is the mean over valid tokens only: a batch of two utterances of different
    /// lengths equals the token-weighted mean of their single losses (padding contributes nothing),
    /// and each single loss equals the squared error recomputed in Double.
    @Test func lossIsTheMeanOverValidTokens() throws {
        let omni = try OmniAVSR(whisper: try tinyWhisper(), videoDim: 6, seed: 4, learnedVideoPositions: true)
        let a = AVSRExample(audioStates: randomTensor([40, 64], seed: 1, requiresGrad: false),
                            videoFeatures: randomTensor([9, 6], seed: 2, requiresGrad: false), targets: [])
        let b = AVSRExample(audioStates: randomTensor([40, 64], seed: 3, requiresGrad: false),
                            videoFeatures: randomTensor([4, 6], seed: 5, requiresGrad: false), targets: [])
        for rate in [1, 2] {
            let la = try withoutGrad { try VideoDistillation.loss(model: omni, batch: [a], rate: rate).item }
            let lb = try withoutGrad { try VideoDistillation.loss(model: omni, batch: [b], rate: rate).item }
            let both = try withoutGrad { try VideoDistillation.loss(model: omni, batch: [a, b], rate: rate).item }
            let na = Float(MatryoshkaBranch.pooledLength(9, rate: rate)), nb = Float(MatryoshkaBranch.pooledLength(4, rate: rate))
            #expect(abs(both - (la * na + lb * nb) / (na + nb)) < 1e-5 * max(1, both))
            // By hand for `a`: the video tokens the decoder would read against the window means.
            let tokens = try withoutGrad {
                try omni.memory(task: .vsr, audioStates: nil, audioRate: 1, videoFeatures: a.videoFeatures!.reshaped([1, 9, 6]), videoRate: rate).memory
            }
            let y = VideoDistillation.targets(states: a.audioStates!, frames: 9, rate: rate)
            let sse = zip(tokens.storage, y.storage).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            #expect(abs(Double(la) - sse / Double(y.count)) < 1e-5 * max(1, sse / Double(y.count)))
        }
        let noAudio = AVSRExample(audioStates: nil, videoFeatures: a.videoFeatures, targets: [])
        #expect(throws: WhisperDecodeError.self) { _ = try VideoDistillation.loss(model: omni, batch: [noAudio], rate: 1) }
        let audioOnly = try OmniAVSR(whisper: try tinyWhisper(), videoDim: nil, seed: 4)
        #expect(throws: WhisperDecodeError.self) { _ = try VideoDistillation.loss(model: audioOnly, batch: [a], rate: 1) }
    }

    /// The learned time table starts as the encoder's (same memory as the frozen rows), gets a
    /// gradient on the rows the tokens use only, and travels in the adapter file.
    @Test func learnedVideoPositionsStartAsTheEncoderTableAndRoundTrip() throws {
        let frozen = try OmniAVSR(whisper: try tinyWhisper(), videoDim: 6, seed: 8)
        let learned = try OmniAVSR(whisper: try tinyWhisper(), videoDim: 6, seed: 8, learnedVideoPositions: true)
        #expect(frozen.videoPositionTable == nil)
        let video = randomTensor([1, 7, 6], seed: 6, requiresGrad: false)
        for rate in [1, 2, 5] {
            let m1 = try withoutGrad { try frozen.memory(task: .vsr, audioStates: nil, audioRate: 1, videoFeatures: video, videoRate: rate).memory }
            let m2 = try withoutGrad { try learned.memory(task: .vsr, audioStates: nil, audioRate: 1, videoFeatures: video, videoRate: rate).memory }
            #expect(m1.storage == m2.storage)
        }
        let table = try #require(learned.videoPositionTable)
        #expect(learned.trainableParameters().contains { $0.0 == "video_positions" })
        let (memory, _) = try learned.memory(task: .vsr, audioStates: nil, audioRate: 1, videoFeatures: video, videoRate: 2)
        memory.sum().backward()
        // Rate 2, 7 frames → 4 tokens at rows 2, 6, 10, 14 (window centres 2·r·i + r).
        let d = table.shape[1], grad = table.gradStorage ?? []
        let touched = Set((0..<table.shape[0]).filter { r in (0..<d).contains { grad[r * d + $0] != 0 } })
        #expect(touched == [2, 6, 10, 14])

        var o = AVSRTrainingOptions()
        o.learnedVideoPositions = true
        let file = AVSRAdapterFile(baseModel: "tiny", videoDim: 6, options: o)
        let model = try file.makeModel(whisper: try tinyWhisper())
        model.videoPositionTable!.storage = model.videoPositionTable!.storage.map { $0 + 0.25 }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-vdist-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try file.save(model, to: dir)
        let (config, loaded) = try AVSRAdapterFile.load(dir, whisper: try tinyWhisper())
        #expect(config.options.learnedVideoPositions == true)
        #expect(loaded.videoPositionTable?.storage == model.videoPositionTable!.storage)
    }

    /// Pre-training fits states that are a function of the video and moves nothing but the video
    /// branch and the time rows (the Omni-LoRAs and the audio branch keep their values); the same
    /// seed gives the same losses.
    @Test func trainingFitsAndMovesOnlyTheVideoSide() throws {
        func run() throws -> (losses: [Float], model: OmniAVSR, before: [String: [Float]]) {
            let omni = try OmniAVSR(whisper: try tinyWhisper(), videoDim: 4, audioRates: [1], videoRates: [1, 2], seed: 3,
                                    learnedVideoPositions: true)
            var rng = SplitMix64(seed: 12)
            let mix = Tensor.normal([4, 64], std: 0.5, using: &rng)
            // Each state pair is a fixed linear function of its frame's features.
            let examples = (0..<6).map { i -> AVSRExample in
                let frames = 5 + i
                let v = randomTensor([frames, 4], seed: UInt64(20 + i), requiresGrad: false)
                let perFrame = withoutGrad { v.matmul(mix) }
                var states = [Float](repeating: 0, count: 30 * 64)
                for f in 0..<frames { for k in 0..<2 { states.replaceSubrange(((2 * f + k) * 64)..<((2 * f + k + 1) * 64), with: perFrame.storage[(f * 64)..<((f + 1) * 64)]) } }
                return AVSRExample(audioStates: Tensor(states, shape: [30, 64]), videoFeatures: v, targets: [])
            }
            let before = Dictionary(uniqueKeysWithValues: omni.trainableParameters().map { ($0.0, $0.1.storage) })
            var o = VideoDistillation.Options()
            o.epochs = 60
            o.batchSize = 3
            o.learningRate = 1e-2
            let losses = try VideoDistillation.train(model: omni, examples: examples, options: o, log: { _ in })
            return (losses, omni, before)
        }
        let (losses, omni, before) = try run()
        let first = losses.prefix(4).reduce(0, +) / 4, last = losses.suffix(4).reduce(0, +) / 4
        #expect(last < 0.2 * first, "distillation loss \(first) → \(last)")
        for (name, t) in omni.trainableParameters() {
            let moved = t.storage != before[name]!
            let videoSide = name.hasPrefix("video.") || name == "video_positions"
            #expect(moved == videoSide, "\(name) moved: \(moved)")
        }
        #expect(try run().losses == losses)
    }
}

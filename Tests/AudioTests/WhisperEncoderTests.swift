import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The Whisper encoder against two independent references: transformers' forward of the tiny
/// random HF checkpoint (tolerance 1e-4, fixtures/whisper README) and CTranslate2 4.8.5's encoder
/// output of the real tiny.en on three clips (tolerance 1e-3 absolute).
@Suite struct WhisperEncoderTests {
    @Test func tinyHuggingFaceEncoderMatchesTransformers() throws {
        let ckpt = try WhisperCheckpoint.load(WhisperFixtures.fixture("tiny_hf"))
        #expect(ckpt.format == .huggingFace)
        #expect(ckpt.config.dModel == 64 && ckpt.config.encoderLayers == 2 && ckpt.config.vocabSize == 512)
        let encoder = try WhisperEncoder(config: ckpt.config, at: ckpt.store.root.pp("model.encoder"))
        encoder.eval()
        let io = try FixtureFile(WhisperFixtures.fixture("tiny_hf/io.safetensors"))
        let x = try io["input.input_features"]
        let embedded = withoutGrad { encoder.embed(x) }
        let e1 = try io["output.encoder_after_conv_and_positions"]
        #expect(allClose(embedded, e1, atol: 1e-4, rtol: 0), "conv + positions: \(differenceReport(embedded, e1))")
        let out = withoutGrad { encoder.encode(x) }
        let e2 = try io["output.encoder_last_hidden_state"]
        #expect(allClose(out, e2, atol: 1e-4, rtol: 0), "last hidden state: \(differenceReport(out, e2))")
        // Every encoder weight in the file was used (none dropped or misnamed).
        #expect(ckpt.store.unusedKeys.filter { $0.hasPrefix("model.encoder.") }.isEmpty)
        #expect(encoder.namedParameters().map(\.0).contains("layers.1.self_attn.q_proj.weight"))
        #expect(encoder.layers[0].attention.key.bias == nil)
    }

    /// The stored encoder table is Whisper's sinusoid formula (README: within 8.5e-5 in tiny_hf).
    @Test func sinusoidsMatchStoredTable() throws {
        let weights = try FixtureTensors.load(WhisperFixtures.fixture("tiny_hf/model.safetensors"))
        let stored = try #require(weights["model.encoder.embed_positions.weight"])
        let mine = Tensor(WhisperEncoder.sinusoids(count: 1500, dim: 64), shape: [1500, 64])
        #expect((maxAbsDifference(mine, stored) ?? .infinity) < 1e-4)
    }

    /// CTranslate2's encoder output on three clips, batched as one [3, 80, 3000] input.
    @Test func realTinyEnglishEncoderMatchesCTranslate2() throws {
        let encoder = try WhisperFixtures.realEncoder()
        #expect(encoder.config == .tinyEnglish)
        let ref = try WhisperFixtures.reference.get()
        let x = Tensor.concat(try WhisperFixtures.clips.map { try WhisperFixtures.features($0) }, axis: 0)
        let out = withoutGrad { encoder.encode(x) }
        #expect(out.shape == [3, 1500, 384])
        for (b, clip) in WhisperFixtures.clips.enumerated() {
            let frames = out.slice(axis: 0, b..<(b + 1)).reshaped([1500, 384])
            let first200 = frames.slice(axis: 0, 0..<200)
            let e1 = try ref["\(clip)/encoder_output_frames_0_200"]
            #expect((maxAbsDifference(first200, e1) ?? .infinity) <= 1e-3, "\(clip) frames 0..<200: \(differenceReport(first200, e1))")
            let every50 = frames.indexSelect(axis: 0, Array(stride(from: 0, to: 1500, by: 50)))
            let e2 = try ref["\(clip)/encoder_output_every_50th"]
            #expect((maxAbsDifference(every50, e2) ?? .infinity) <= 1e-3, "\(clip) every 50th frame: \(differenceReport(every50, e2))")
            // Per-frame mean, population std, min, max over channels (reference computed in float64).
            var stats = [Float](repeating: 0, count: 1500 * 4)
            for t in 0..<1500 {
                let row = frames.storage[(t * 384)..<((t + 1) * 384)].map(Double.init)
                let mean = row.reduce(0, +) / 384
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 384
                stats[t * 4] = Float(mean); stats[t * 4 + 1] = Float(variance.squareRoot())
                stats[t * 4 + 2] = Float(row.min()!); stats[t * 4 + 3] = Float(row.max()!)
            }
            let e3 = try ref["\(clip)/encoder_output_frame_stats"]
            let got = Tensor(stats, shape: [1500, 4])
            #expect((maxAbsDifference(got, e3) ?? .infinity) <= 1e-3, "\(clip) frame stats: \(differenceReport(got, e3))")
        }
    }

    @Test func missingOrWrongFolderIsOneClearError() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect { _ = try WhisperCheckpoint.load(dir.appendingPathComponent("nope")) } throws: {
            "\($0)".contains("no such file or folder")
        }
        #expect { _ = try WhisperCheckpoint.load(dir) } throws: { "\($0)".contains("neither model.bin") }
        try Data([6, 0, 0, 0, 1]).write(to: dir.appendingPathComponent("model.bin"))
        #expect { _ = try WhisperCheckpoint.load(dir) } throws: { "\($0)".contains("model.bin") }
    }
}

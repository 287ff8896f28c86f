import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The Whisper decoder: teacher-forced and cached (incremental) forwards against transformers'
/// outputs for the tiny HF checkpoint (1e-4), and CTranslate2's greedy decode of the real tiny.en
/// (ids and top-5 exact, logits within 2e-3 on unsuppressed ids, as fixtures/whisper/README.md states).
@Suite struct WhisperDecoderTests {
    static let tolerance: Float = 1e-4

    func tinyModel() throws -> (WhisperModel, FixtureFile) {
        let model = try WhisperModel(checkpoint: try WhisperCheckpoint.load(WhisperFixtures.fixture("tiny_hf")))
        model.eval()
        return (model, try FixtureFile(WhisperFixtures.fixture("tiny_hf/io.safetensors")))
    }

    @Test func tinyTeacherForcedDecoderMatchesTransformers() throws {
        let (model, io) = try tinyModel()
        #expect(model.generation.startOfTranscript == 510 && model.generation.endOfText == 509)
        let memory = try io["output.encoder_last_hidden_state"]
        let tokens = WhisperFixtures.ids(try io["input.decoder_input_ids"])
        let hidden = try withoutGrad { try model.decoder.forward(tokens: tokens, batch: 1, memory: memory) }
        let eh = try io["output.decoder_last_hidden_state"]
        #expect(allClose(hidden, eh, atol: Self.tolerance, rtol: 0), "decoder states: \(differenceReport(hidden, eh))")
        let logits = withoutGrad { model.decoder.logits(hidden) }
        let el = try io["output.logits"]
        #expect(allClose(logits, el, atol: Self.tolerance, rtol: 0), "logits: \(differenceReport(logits, el))")
        // End to end from the features through our own encoder.
        let full = try withoutGrad { try model.logits(logMel: try io["input.input_features"], tokens: tokens) }
        #expect(allClose(full, el, atol: Self.tolerance, rtol: 0), "logits from features: \(differenceReport(full, el))")
        #expect(model.namedParameters().count == 89)  // every tensor of model.safetensors, tied projection once
    }

    /// The key/value cache gives the same logits as the full forward: prompt of 3, then 1 token at a
    /// time, on two rows that read the same memory item (as beams do), with a reorder in between.
    @Test func cachedStepsEqualTeacherForcing() throws {
        let (model, io) = try tinyModel()
        let memory = try io["output.encoder_last_hidden_state"]
        let tokens = WhisperFixtures.ids(try io["input.decoder_input_ids"])
        let expected = try io["output.logits"].reshaped([8, 512])
        let cache = model.decoder.makeCache(memory: memory, source: [0, 0])
        var got: [Tensor] = []
        let first = try model.decoder.step(tokens: Array(tokens[0..<3]) + Array(tokens[0..<3]), cache: cache)
        got.append(withoutGrad { model.decoder.logits(first.slice(axis: 0, 0..<1).reshaped([3, 64])) })
        cache.reorder([1, 0])
        for i in 3..<8 {
            let h = try model.decoder.step(tokens: [tokens[i], tokens[i]], cache: cache)
            // Same inputs, same memory item: equal up to GEMM rounding of different rows.
            #expect(allClose(h.slice(axis: 0, 0..<1), h.slice(axis: 0, 1..<2), atol: 1e-5, rtol: 0))
            got.append(withoutGrad { model.decoder.logits(h.slice(axis: 0, 1..<2).reshaped([1, 64])) })
        }
        let all = Tensor.concat(got, axis: 0)
        #expect(allClose(all, expected, atol: Self.tolerance, rtol: 0), "cached logits: \(differenceReport(all, expected))")
        #expect(cache.length == 8)
        #expect(throws: (any Error).self) { _ = try model.decoder.step(tokens: [600, 600], cache: cache) }  // id outside 0..<512
    }

    /// CTranslate2's greedy decode of the three clips: ids, scores, no-speech probability, top-5
    /// per step, and the full logits of clip 1 (suppressed ids must hold −FLT_MAX, as CT2's do).
    @Test func realGreedyDecodeMatchesCTranslate2() throws {
        let ckpt = try WhisperFixtures.realCheckpoint()
        let model = try WhisperModel(config: ckpt.config, generation: ckpt.generation, at: ckpt.store.root)
        model.eval()
        #expect(model.generation.suppressTokens.count == 90 && model.generation.beginSuppressTokens == [220, 50256])
        let ref = try WhisperFixtures.reference.get()
        let x = Tensor.concat(try WhisperFixtures.clips.map { try WhisperFixtures.features($0) }, axis: 0)
        let results = try model.transcribe(logMel: x, options: WhisperDecodingOptions(maxLength: 32, returnLogits: true))
        let scores: [Float] = [-0.6963281631469727, -0.9173440933227539, -0.7232494354248047]  // ct2_reference.json
        let noSpeech: [Float] = [0.09547603875398636, 0.057562634348869324, 0.0757249966263771]
        for (i, clip) in WhisperFixtures.clips.enumerated() {
            let r = results[i]
            #expect(r.tokens == WhisperFixtures.ids(try ref["\(clip)/generated_ids"]), "\(clip)")
            #expect(r.finished && r.stepLogits.count == 3)
            #expect(abs(r.score - scores[i]) < 1e-3, "\(clip) score \(r.score)")
            #expect(abs((r.noSpeechProbability ?? -1) - noSpeech[i]) < 1e-4, "\(clip) no-speech \(String(describing: r.noSpeechProbability))")
            let topIDs = try ref["\(clip)/step_top5_ids"], topLogits = try ref["\(clip)/step_top5_logits"]
            for s in 0..<3 {
                let l = r.stepLogits[s]
                let order = l.indices.sorted { l[$0] > l[$1] }.prefix(5)
                #expect(Array(order) == WhisperFixtures.ids(topIDs.slice(axis: 0, s..<(s + 1))), "\(clip) step \(s) top-5")
                for (j, id) in order.enumerated() {
                    #expect(abs(l[id] - topLogits.storage[s * 5 + j]) <= 2e-3, "\(clip) step \(s) logit \(id)")
                }
            }
        }
        let full = try ref["allison_digit1_16k/step_logits"]
        var worst: Float = 0, maskMismatch = 0
        for s in 0..<3 {
            for id in 0..<51864 {
                let e = full.storage[s * 51864 + id], g = results[0].stepLogits[s][id]
                if e == -Float.greatestFiniteMagnitude || g == -Float.greatestFiniteMagnitude {
                    if e != g { maskMismatch += 1 }
                } else {
                    worst = max(worst, abs(e - g))
                }
            }
        }
        #expect(maskMismatch == 0)
        #expect(worst <= 2e-3, "worst step-logit difference \(worst)")
    }

    @Test func badDecodingOptionsAreErrors() throws {
        let (model, io) = try tinyModel()
        let memory = try io["output.encoder_last_hidden_state"]
        #expect(throws: WhisperDecodeError.self) { _ = try model.decode(memory: memory, options: WhisperDecodingOptions(beamSize: 0)) }
        #expect(throws: WhisperDecodeError.self) { _ = try model.decode(memory: memory, options: WhisperDecodingOptions(prompt: [9999])) }
        #expect(throws: WhisperDecodeError.self) {
            _ = try model.decode(memory: memory, options: WhisperDecodingOptions(prompt: [Int](repeating: 510, count: 448)))
        }
    }
}

import Audio
import Core
import Foundation
import Testing
import TestSupport

/// Beam search against exhaustive search and against teacher-forced rescoring.
@Suite struct WhisperBeamSearchTests {
    /// Teacher-forced Σ log-softmax of `tokens` (+ end of text when `ended`) after `prompt`, with
    /// the checkpoint's suppressed ids (and the begin ids at the first step) removed first.
    static func rescore(_ model: WhisperModel, memory: Tensor, prompt: [Int], tokens: [Int], ended: Bool) throws -> Float {
        let seq = prompt + tokens + (ended ? [model.generation.endOfText] : [])
        let logits = try withoutGrad { try model.decoder.logits(model.decoder.forward(tokens: Array(seq.dropLast()), batch: 1, memory: memory)) }
        let v = model.config.vocabSize
        var total: Float = 0
        for (i, target) in seq.enumerated().dropFirst(prompt.count) {
            var row = Array(logits.storage[((i - 1) * v)..<(i * v)])
            for id in model.generation.suppressTokens { row[id] = -.infinity }
            if i == prompt.count { for id in model.generation.beginSuppressTokens { row[id] = -.infinity } }
            let m = row.max()!
            let logZ = m + log(row.reduce(0) { $0 + exp($1 - m) })
            total += row[target] - logZ
        }
        return total
    }

    /// With every token kept (width = vocabulary) and two steps, beam search is exhaustive: its
    /// answer must be the best length-normalised sequence found by scoring all 511 first tokens
    /// with a batched teacher-forced forward (no cache involved).
    @Test func fullWidthBeamEqualsExhaustiveSearch() throws {
        let model = try WhisperModel(checkpoint: try WhisperCheckpoint.load(WhisperFixtures.fixture("tiny_hf")))
        model.eval()
        let io = try FixtureFile(WhisperFixtures.fixture("tiny_hf/io.safetensors"))
        let memory = try io["output.encoder_last_hidden_state"].slice(axis: 1, 0..<100)  // any memory length works
        let (sot, eot, v) = (510, 509, 512)
        let firsts = (0..<v).filter { $0 != eot }
        let batch = firsts.count
        let tokens = firsts.flatMap { [sot, $0] }
        let logits = try withoutGrad {
            try model.decoder.logits(model.decoder.forward(tokens: tokens, batch: batch, memory: memory.expand(to: [batch, 100, 64]).detached()))
        }
        func logSoftmax(_ row: ArraySlice<Float>) -> [Float] {
            let m = row.max()!
            let logZ = m + log(row.reduce(0) { $0 + exp($1 - m) })
            return row.map { $0 - logZ }
        }
        let lp0 = logSoftmax(logits.storage[0..<v])  // position 0 is the same in every row
        var best: (tokens: [Int], score: Float) = ([], lp0[eot])
        for (r, t1) in firsts.enumerated() {
            let lp1 = logSoftmax(logits.storage[((2 * r + 1) * v)..<((2 * r + 2) * v)])
            if lp0[t1] + lp1[eot] > best.score { best = ([t1], lp0[t1] + lp1[eot]) }
            for t2 in 0..<v where t2 != eot && (lp0[t1] + lp1[t2]) / 2 > best.score { best = ([t1, t2], (lp0[t1] + lp1[t2]) / 2) }
        }
        let beam = try model.decode(memory: memory, options: WhisperDecodingOptions(beamSize: v, maxLength: 2))[0]
        #expect(beam.tokens == best.tokens)
        #expect(abs(beam.score - best.score) < 1e-4, "beam \(beam.score) vs exhaustive \(best.score)")
        // Width 1 is greedy.
        let greedy = try model.decode(memory: memory, options: WhisperDecodingOptions(maxLength: 2))[0]
        let t1 = lp0.indices.max { lp0[$0] < lp0[$1] }!
        #expect(greedy.tokens.first == (t1 == eot ? nil : t1))
    }

    /// Beam 5 on the real clips: every result's Σ log p equals a teacher-forced rescoring of its
    /// tokens (so the cache stayed consistent through the beam reorders), and the transcripts are
    /// CTranslate2's greedy ones (" 1." etc.; a sanity check, not a beam reference).
    @Test func realBeamSearchIsConsistent() throws {
        let ckpt = try WhisperFixtures.realCheckpoint()
        let model = try WhisperModel(config: ckpt.config, generation: ckpt.generation, at: ckpt.store.root)
        model.eval()
        let ref = try WhisperFixtures.reference.get()
        let x = Tensor.concat(try WhisperFixtures.clips.map { try WhisperFixtures.features($0) }, axis: 0)
        let memory = withoutGrad { model.encoder.encode(x) }
        let results = try model.decode(memory: memory, options: WhisperDecodingOptions(beamSize: 5, maxLength: 32))
        for (i, clip) in WhisperFixtures.clips.enumerated() {
            #expect(results[i].tokens == WhisperFixtures.ids(try ref["\(clip)/generated_ids"]), "\(clip)")
            let item = memory.slice(axis: 0, i..<(i + 1))
            let rescored = try Self.rescore(model, memory: item, prompt: [50257, 50362], tokens: results[i].tokens, ended: results[i].finished)
            #expect(abs(rescored - results[i].sumLogProbability) < 2e-3, "\(clip): \(rescored) vs \(results[i].sumLogProbability)")
        }
    }
}

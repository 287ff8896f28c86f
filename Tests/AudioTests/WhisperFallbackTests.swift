@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// Whisper's temperature fallback: the loop test, the choice among attempts, seeded sampling and
/// per-item token caps (the short `avsr-tune demo`'s 0 dB WER was decided by a few greedy loops
/// that ran to the length cap; see WhisperFallback).
@Suite struct WhisperFallbackTests {
    static func result(_ tokens: [Int], finished: Bool = true, sum: Float = -1) -> WhisperDecodingResult {
        WhisperDecodingResult(tokens: tokens, sumLogProbability: sum, score: 0, finished: finished, noSpeechProbability: nil, stepLogits: [])
    }

    @Test func repeatedBlocks() {
        func loops(_ t: [Int]) -> Bool { WhisperFallback.hasRepeatedBlock(t, repeats: 4, maxPeriod: 12) }
        #expect(loops([9, 5, 6, 5, 6, 5, 6, 5, 6, 8]))        // [5, 6] four times
        #expect(!loops([5, 6, 5, 6, 5, 6, 8]))                // three times is not a loop
        #expect(loops([7, 7, 7, 7]))
        #expect(!loops([7, 7, 7]))
        #expect(loops([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]))  // period 3
        // "4 or 6 to decrease or increase the volume, 7 or 9 to decrease or increase your volume":
        // repeated phrases, but not four copies in a row.
        #expect(!loops([4, 30, 6, 31, 32, 30, 33, 34, 35, 7, 30, 9, 31, 32, 30, 33, 36, 35]))
        // A 13-token block is beyond maxPeriod 12.
        let block = Array(100..<113)
        #expect(!loops(block + block + block + block))
        #expect(WhisperFallback.hasRepeatedBlock(block + block + block + block, repeats: 4, maxPeriod: 13))
    }

    @Test func choiceAmongAttempts() {
        let f = WhisperFallback()
        #expect(!f.needsFallback(Self.result([1, 2, 3])))
        #expect(f.needsFallback(Self.result([1, 2, 3], finished: false)))      // cut off at its budget
        #expect(f.needsFallback(Self.result([4, 4, 4, 4, 5])))                 // loop, though finished
        // The first attempt that passes wins, even with a lower average log-probability.
        let pass = [Self.result([1, 1, 1, 1], sum: -0.1), Self.result([2], sum: -9), Self.result([3], sum: -1)]
        #expect(f.choose(pass) == 1)
        // None passes: a finished one before a cut-off one; then the best Σ log p / (tokens + 1):
        // [5,5,5,5] finished, average -2/5 = -0.4 beats [6,6,6,6,6,6] finished, -3.5/7 = -0.5.
        let fail = [Self.result([9, 8], finished: false, sum: -0.01), Self.result([6, 6, 6, 6, 6, 6], sum: -3.5),
                    Self.result([5, 5, 5, 5], sum: -2)]
        #expect(f.choose(fail) == 2)
        // All cut off: best average.
        #expect(f.choose([Self.result([1], finished: false, sum: -4), Self.result([2, 3, 4], finished: false, sum: -4)]) == 1)
    }

    /// softmax([log .5, log .3, log .2]) = (.5, .3, .2); at temperature 0.5 the weights are
    /// p² ∝ (.25, .09, .04), i.e. (.6579, .2368, .1053). 40 000 draws: σ ≤ .0025, bound 0.0125 ≈ 5σ.
    @Test func samplingFollowsTheTemperature() {
        let logits: [Float] = [logf(0.5), logf(0.3), logf(0.2), -Float.greatestFiniteMagnitude]
        for (t, expected) in [(Float(1), [0.5, 0.3, 0.2, 0]), (0.5, [0.25 / 0.38, 0.09 / 0.38, 0.04 / 0.38, 0])] {
            var rng = SplitMix64(seed: 11)
            var counts = [Int](repeating: 0, count: 4)
            let n = 40_000
            for _ in 0..<n { counts[SuppressionMasks.sample(logits, temperature: t, using: &rng)] += 1 }
            for i in 0..<4 { #expect(abs(Double(counts[i]) / Double(n) - expected[i]) < 0.0125, "T \(t) token \(i): \(counts)") }
            #expect(counts[3] == 0)  // a suppressed token is never drawn
        }
    }

    /// On the small random Whisper fixture: sampling is reproducible, a tiny temperature is greedy,
    /// per-item caps hold inside a batch, and a cut-off greedy hypothesis goes through every
    /// temperature and keeps one of its attempts.
    @Test func fallbackDecodingOnTinyWhisper() throws {
        let model = try WhisperModel(checkpoint: try WhisperCheckpoint.load(WhisperFixtures.fixture("tiny_hf")))
        model.eval()
        let io = try FixtureFile(WhisperFixtures.fixture("tiny_hf/io.safetensors"))
        let one = try io["output.encoder_last_hidden_state"].slice(axis: 1, 0..<100).slice(axis: 0, 0..<1)
        let memory = Tensor.concat([one, one], axis: 0)
        let greedy = try model.decode(memory: one, options: WhisperDecodingOptions(maxLength: 6))[0]
        let cold = try model.decode(memory: one, options: WhisperDecodingOptions(maxLength: 6, temperature: 1e-4, seed: 3))[0]
        #expect(cold.tokens == greedy.tokens)
        let a = try model.decode(memory: one, options: WhisperDecodingOptions(maxLength: 6, temperature: 1, seed: 5))[0]
        let b = try model.decode(memory: one, options: WhisperDecodingOptions(maxLength: 6, temperature: 1, seed: 5))[0]
        #expect(a == b)
        #expect(throws: WhisperDecodeError.self) { try model.decode(memory: one, options: WhisperDecodingOptions(beamSize: 2, temperature: 0.5)) }

        let f = WhisperFallback()
        let out = try model.decode(memory: memory, options: WhisperDecodingOptions(maxLength: 6), fallback: f, maxLengths: [2, 6])
        #expect(out[0].result.tokens.count <= 2 && out[1].result.tokens.count <= 6)
        #expect(out[0].result.tokens == Array(greedy.tokens.prefix(out[0].result.tokens.count)) || out[0].attempts > 1)
        for o in out {
            // Kept a passing attempt, or tried every temperature.
            #expect(!f.needsFallback(o.result) || o.attempts == 1 + f.temperatures.count)
        }
        if !greedy.finished || greedy.tokens.count > 2 { #expect(out[0].attempts > 1) }  // cut at 2 tokens: re-decoded
    }
}

import Core
import Foundation

/// Whisper's temperature fallback, for hypotheses that ran away.
///
/// Whisper (openai/whisper `transcribe`, `temperature=(0.0, 0.2, …, 1.0)`) decodes greedily first
/// and re-decodes a segment by sampling at the next temperature while the text's gzip compression
/// ratio is above 2.4, i.e. while the decoder is repeating itself. A greedy decoder that is unsure
/// of its input (babble at 0 dB, an adapter trained for a dozen steps) falls into such loops
/// ("or 2 or 2 or 2 …", "please, please, please, …") that run until the length cap; each loop
/// adds dozens of insertions and a few of them decide a corpus WER.
///
/// Our criterion, stated on tokens (no zlib in the package), flags what a high compression ratio
/// flags: a hypothesis needs the fallback when it
/// - did not end with end-of-text within its token budget (it was cut off: a runaway), or
/// - holds one block of 1…`maxPeriod` tokens `repeats` or more times in a row.
/// The attempts are greedy, then sampling at each of `temperatures` (seeded), stopping at the
/// first one that passes. When none passes, the kept attempt is a finished one if there is one,
/// then the one with the best average log-probability (faster-whisper's choice among failed
/// attempts), so a cut-off loop is kept only when every attempt was cut off.
public struct WhisperFallback: Sendable, Equatable {
    /// Sampling temperatures tried after the greedy attempt (Whisper's defaults).
    public var temperatures: [Float] = [0.2, 0.4, 0.6, 0.8, 1.0]
    /// Consecutive copies of one block that count as a loop.
    public var repeats = 4
    /// Longest block (in tokens) checked for repetition.
    public var maxPeriod = 12
    /// Seed of the sampling; item i at temperature step k draws from `seed ^ FNV(i, k)`.
    public var seed: UInt64 = 0x0057_4849_5350

    public init() {}

    /// Whether a hypothesis must be decoded again: cut off at its budget, or looping.
    public func needsFallback(_ r: WhisperDecodingResult) -> Bool {
        !r.finished || Self.hasRepeatedBlock(r.tokens, repeats: repeats, maxPeriod: maxPeriod)
    }

    /// True when some block of p ≤ `maxPeriod` tokens occurs `repeats` or more times back to back
    /// (`[5, 6, 5, 6, 5, 6, 5, 6]` has block `[5, 6]` four times).
    public static func hasRepeatedBlock(_ tokens: [Int], repeats: Int, maxPeriod: Int) -> Bool {
        guard repeats >= 2 else { return !tokens.isEmpty }
        for p in 1...max(1, maxPeriod) where p * repeats <= tokens.count {
            // run = length of the current stretch where tokens[i] == tokens[i - p]; a stretch of
            // (repeats − 1)·p such positions means `repeats` copies of one p-token block.
            var run = 0
            for i in p..<tokens.count {
                run = tokens[i] == tokens[i - p] ? run + 1 : 0
                if run >= (repeats - 1) * p { return true }
            }
        }
        return false
    }

    /// Index of the attempt to keep: the first that passes, else a finished one with the best
    /// average log-probability (Σ log p over the tokens and the end-of-text step), else the best
    /// average among all.
    public func choose(_ attempts: [WhisperDecodingResult]) -> Int {
        if let first = attempts.firstIndex(where: { !needsFallback($0) }) { return first }
        func average(_ r: WhisperDecodingResult) -> Float { r.sumLogProbability / Float(r.tokens.count + 1) }
        let pool = attempts.indices.filter { attempts[$0].finished }
        let candidates = pool.isEmpty ? Array(attempts.indices) : pool
        var best = candidates[0]
        for i in candidates.dropFirst() where average(attempts[i]) > average(attempts[best]) { best = i }
        return best
    }
}

extension WhisperModel {
    /// Decodes every item of `memory [B, S, d]` with `options` (greedy or beam search), then
    /// re-decodes each item that `fallback` flags, one at a time, by sampling at its temperatures
    /// (see `WhisperFallback`; nil: no re-decoding). `maxLengths` (one per item) caps each item's
    /// tokens below `options.maxLength`; an item decoded in a batch beyond its own cap counts as cut off.
    /// Returns each item's kept result and how many attempts it took (1 = no fallback).
    public func decode(memory: Tensor, options: WhisperDecodingOptions, fallback: WhisperFallback?,
                       maxLengths: [Int]? = nil) throws -> [(result: WhisperDecodingResult, attempts: Int)] {
        let b = memory.shape[0]
        if let maxLengths, maxLengths.count != b { throw WhisperDecodeError("\(maxLengths.count) length caps for \(b) items") }
        let caps = (0..<b).map { min(options.maxLength, maxLengths?[$0] ?? options.maxLength) }
        var o = options
        o.maxLength = caps.max() ?? options.maxLength
        let first = try decode(memory: memory, options: o)
        return try first.enumerated().map { i, r0 in
            var r = r0
            if r.tokens.count > caps[i] {  // ran past its own cap while a longer item was decoded
                r.tokens = Array(r.tokens.prefix(caps[i]))
                r.finished = false
            }
            var attempts = [r]
            guard let fallback, fallback.needsFallback(r) else { return (r, 1) }
            let item = memory.slice(axis: 0, i..<(i + 1))
            for (k, t) in fallback.temperatures.enumerated() {
                var s = options
                s.beamSize = 1
                s.maxLength = caps[i]
                s.temperature = t
                s.seed = fallback.seed ^ OmniAVSR.fnv1a("item \(i) step \(k)")
                let next = try decode(memory: item, options: s)[0]
                attempts.append(next)
                if !fallback.needsFallback(next) { break }
            }
            return (attempts[fallback.choose(attempts)], attempts.count)
        }
    }
}

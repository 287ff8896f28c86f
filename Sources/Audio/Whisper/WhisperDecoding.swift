import Core
import Foundation

/// How to decode. Defaults reproduce CTranslate2's `Whisper.generate(beam_size=1,
/// suppress_blank=True, suppress_tokens=[-1])` with the `<|startoftranscript|> <|notimestamps|>` prompt.
public struct WhisperDecodingOptions: Sendable, Equatable {
    /// 1 = greedy; more = beam search with that many hypotheses.
    public var beamSize: Int
    /// Most tokens generated after the prompt (the end-of-text token not counted); also capped
    /// by the decoder's positions.
    public var maxLength: Int
    /// Length normalisation of the final ranking: score = Σ log p / length^lengthPenalty, where
    /// the sum includes the end-of-text step and length counts the tokens without it (CTranslate2's rule).
    public var lengthPenalty: Float
    /// Beam search stops once round(beamSize · patience) hypotheses have ended.
    public var patience: Float
    /// Mask `beginSuppressTokens` (" " and end of text) at the first generated step.
    public var suppressBlank: Bool
    /// Masked at every step; nil = the checkpoint's list (CTranslate2's `suppress_ids`).
    public var suppressTokens: [Int]?
    /// Prompt ids; nil = start of transcript + no-timestamps.
    public var prompt: [Int]?
    /// Keep each step's masked logits of the best hypothesis (greedy only; for tests and inspection).
    public var returnLogits: Bool
    /// 0 = greedy / beam search; > 0 = each token is sampled from softmax(masked logits / temperature)
    /// (width 1 only; Whisper's fallback decoding, see `WhisperFallback`). Σ log p stays the
    /// log-softmax of the unscaled logits, as Whisper's `avg_logprob`.
    public var temperature: Float
    /// Seed of the sampling: item b draws from `SplitMix64(seed: seed).fork(b)`.
    public var seed: UInt64

    public init(beamSize: Int = 1, maxLength: Int = 448, lengthPenalty: Float = 1, patience: Float = 1,
                suppressBlank: Bool = true, suppressTokens: [Int]? = nil, prompt: [Int]? = nil, returnLogits: Bool = false,
                temperature: Float = 0, seed: UInt64 = 0) {
        self.beamSize = beamSize; self.maxLength = maxLength; self.lengthPenalty = lengthPenalty
        self.patience = patience; self.suppressBlank = suppressBlank; self.suppressTokens = suppressTokens
        self.prompt = prompt; self.returnLogits = returnLogits
        self.temperature = temperature; self.seed = seed
    }
}

/// One decoded utterance.
public struct WhisperDecodingResult: Sendable, Equatable {
    /// Generated ids, without the prompt and the final end-of-text.
    public var tokens: [Int]
    /// Σ log-softmax of the masked logits at the chosen ids, end-of-text step included.
    public var sumLogProbability: Float
    /// `sumLogProbability / max(tokens.count, 1)^lengthPenalty`.
    public var score: Float
    /// Whether the hypothesis ended with end-of-text (false: stopped at the maximum length).
    public var finished: Bool
    /// softmax of the unmasked logits after `<|startoftranscript|>` at `<|nocaptions|>`.
    public var noSpeechProbability: Float?
    /// With `returnLogits` (greedy): the masked logits vector of every step.
    public var stepLogits: [[Float]]
}

extension WhisperModel {
    /// Encodes `logMel [B, mel, frames]` and decodes each item.
    public func transcribe(logMel: Tensor, options: WhisperDecodingOptions = WhisperDecodingOptions()) throws -> [WhisperDecodingResult] {
        let memory = withoutGrad { encoder.encode(logMel) }
        return try decode(memory: memory, options: options)
    }

    /// Decodes every item of `memory [B, S, d]` (encoder output) greedily or with beam search.
    public func decode(memory: Tensor, options o: WhisperDecodingOptions = WhisperDecodingOptions()) throws -> [WhisperDecodingResult] {
        guard o.beamSize >= 1 else { throw WhisperDecodeError("beam size must be at least 1, got \(o.beamSize)") }
        guard o.maxLength >= 1 else { throw WhisperDecodeError("maximum length must be at least 1, got \(o.maxLength)") }
        guard o.temperature >= 0, o.temperature.isFinite else { throw WhisperDecodeError("temperature must be ≥ 0, got \(o.temperature)") }
        guard o.temperature == 0 || o.beamSize == 1 else { throw WhisperDecodeError("sampling (temperature > 0) decodes with beam size 1, got \(o.beamSize)") }
        let prompt = o.prompt ?? ([generation.startOfTranscript] + (generation.noTimestamps.map { [$0] } ?? []))
        guard !prompt.isEmpty, prompt.count < config.maxTargetPositions else {
            throw WhisperDecodeError("the prompt has \(prompt.count) tokens; it needs 1..<\(config.maxTargetPositions)")
        }
        let suppress = o.suppressTokens ?? generation.suppressTokens
        if let bad = (prompt + suppress).first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw WhisperDecodeError("token id \(bad) is outside the vocabulary 0..<\(config.vocabSize)")
        }
        let masks = SuppressionMasks(always: suppress, begin: o.suppressBlank ? generation.beginSuppressTokens : [])
        let limit = min(o.maxLength, config.maxTargetPositions - prompt.count)
        if o.beamSize == 1 {
            return try greedy(memory: memory, prompt: prompt, limit: limit, masks: masks, options: o)
        }
        return try (0..<memory.shape[0]).map { b in
            try beamSearch(memory: memory.slice(axis: 0, b..<(b + 1)), prompt: prompt, limit: limit, masks: masks, options: o)
        }
    }

    /// Runs the prompt for `rows` hypotheses; returns the last position's logits `[rows, V]` and the
    /// no-speech probability of each memory item.
    private func startDecoding(cache: WhisperKVCache, prompt: [Int]) throws -> (logits: [Float], noSpeech: [Float?]) {
        let rows = cache.rows, p = prompt.count, d = config.dModel
        let hidden = try decoder.step(tokens: Array([[Int]](repeating: prompt, count: rows).joined()), cache: cache)
        return withoutGrad {
            let last = hidden.slice(axis: 1, (p - 1)..<p).reshaped([rows, d])
            var noSpeech = [Float?](repeating: nil, count: rows)
            if let ns = generation.noSpeech, ns < config.vocabSize {
                let first = decoder.decodingLogits(hidden.slice(axis: 1, 0..<1).reshaped([rows, d]))
                let v = config.vocabSize
                first.withUnsafeBufferPointer { f in
                    for r in 0..<rows {
                        let row = UnsafeBufferPointer(rebasing: f[(r * v)..<((r + 1) * v)])
                        noSpeech[r] = expf(row[ns] - SuppressionMasks.logNormalizer(row))
                    }
                }
            }
            return (decoder.decodingLogits(last), noSpeech)
        }
    }

    /// Greedy decoding of all items together; finished rows leave the cache.
    private func greedy(memory: Tensor, prompt: [Int], limit: Int, masks: SuppressionMasks,
                        options o: WhisperDecodingOptions) throws -> [WhisperDecodingResult] {
        let b = memory.shape[0], v = config.vocabSize
        let cache = decoder.makeCache(memory: memory, capacity: prompt.count + limit)
        var (logits, noSpeech) = try startDecoding(cache: cache, prompt: prompt)
        var results = (0..<b).map {
            WhisperDecodingResult(tokens: [], sumLogProbability: 0, score: 0, finished: false, noSpeechProbability: noSpeech[$0], stepLogits: [])
        }
        var alive = Array(0..<b)  // result index of each cache row
        let root = SplitMix64(seed: o.seed)
        var rngs = (0..<b).map { root.fork(UInt64($0)) }
        var step = 0
        while !alive.isEmpty {
            var next: [Int] = [], keep: [Int] = []
            for (row, item) in alive.enumerated() {
                // The row is masked in place in this step's logits buffer (rebuilt every step): no
                // per-row copies of the 51864 values.
                let (token, logProbability) = logits.withUnsafeMutableBufferPointer { buffer in
                    let l = UnsafeMutableBufferPointer(rebasing: buffer[(row * v)..<((row + 1) * v)])
                    masks.apply(l, firstStep: step == 0)
                    if o.returnLogits { results[item].stepLogits.append(Array(l)) }
                    let token = o.temperature > 0 ? SuppressionMasks.sample(Array(l), temperature: o.temperature, using: &rngs[item])
                                                  : SuppressionMasks.argmax(UnsafeBufferPointer(l))
                    return (token, l[token] - SuppressionMasks.logNormalizer(UnsafeBufferPointer(l)))
                }
                results[item].sumLogProbability += logProbability
                if token == generation.endOfText {
                    results[item].finished = true
                    continue
                }
                results[item].tokens.append(token)
                if results[item].tokens.count >= limit { continue }
                keep.append(row); next.append(token)
            }
            step += 1
            if keep.count != alive.count { cache.reorder(keep) }
            alive = keep.map { alive[$0] }
            if alive.isEmpty { break }
            let hidden = try decoder.step(tokens: next, cache: cache)
            logits = decoder.decodingLogits(hidden.reshaped([alive.count, config.dModel]))
        }
        for i in results.indices {
            results[i].score = results[i].sumLogProbability / powf(Float(max(results[i].tokens.count, 1)), o.lengthPenalty)
        }
        return results
    }

    /// Beam search over one memory item (`memory [1, S, d]`).
    ///
    /// Each step extends every live hypothesis with its `beamSize + 1` most likely tokens, ranks all
    /// extensions by Σ log p, and walks down that list: an extension ending in end-of-text joins the
    /// finished set (while it holds fewer than round(beamSize · patience)), the others become the
    /// next live hypotheses until there are `beamSize`. Decoding stops when the finished set is full
    /// or at the maximum length (live hypotheses then count as finished). The result is the
    /// finished hypothesis with the best length-normalised score (see `lengthPenalty`).
    private func beamSearch(memory: Tensor, prompt: [Int], limit: Int, masks: SuppressionMasks,
                            options o: WhisperDecodingOptions) throws -> WhisperDecodingResult {
        let k = o.beamSize, v = config.vocabSize
        let maxFinished = max(1, Int((Float(k) * o.patience).rounded()))
        let cache = decoder.makeCache(memory: memory, capacity: prompt.count + limit)
        var (logits, noSpeech) = try startDecoding(cache: cache, prompt: prompt)
        var beams: [(tokens: [Int], sum: Float)] = [([], 0)]
        var finished: [(tokens: [Int], sum: Float, ended: Bool)] = []
        for step in 0..<limit {
            var candidates: [(parent: Int, token: Int, sum: Float)] = []
            for (row, beam) in beams.enumerated() {
                logits.withUnsafeMutableBufferPointer { buffer in
                    let l = UnsafeMutableBufferPointer(rebasing: buffer[(row * v)..<((row + 1) * v)])
                    masks.apply(l, firstStep: step == 0)
                    let logZ = SuppressionMasks.logNormalizer(UnsafeBufferPointer(l))
                    for t in SuppressionMasks.topK(UnsafeBufferPointer(l), k + 1, minus: logZ) {
                        candidates.append((row, t, beam.sum + (l[t] - logZ)))
                    }
                }
            }
            // Ties keep the earlier beam and the lower id, so results do not depend on sort stability.
            candidates.sort { ($0.sum, -$0.parent, -$0.token) > ($1.sum, -$1.parent, -$1.token) }
            var next: [(tokens: [Int], sum: Float)] = [], parents: [Int] = []
            for c in candidates where next.count < k {
                if c.token == generation.endOfText {
                    if finished.count < maxFinished { finished.append((beams[c.parent].tokens, c.sum, true)) }
                } else {
                    next.append((beams[c.parent].tokens + [c.token], c.sum))
                    parents.append(c.parent)
                }
            }
            if finished.count >= maxFinished || step == limit - 1 {
                if step == limit - 1 { finished += next.map { ($0.tokens, $0.sum, false) } }
                break
            }
            beams = next
            cache.reorder(parents)
            let hidden = try decoder.step(tokens: next.map { $0.tokens.last! }, cache: cache)
            logits = decoder.decodingLogits(hidden.reshaped([next.count, config.dModel]))
        }
        func normalised(_ h: (tokens: [Int], sum: Float, ended: Bool)) -> Float {
            h.sum / powf(Float(max(h.tokens.count, 1)), o.lengthPenalty)
        }
        // Best normalised score; ties go to the hypothesis that finished first.
        var best = finished[0]
        for h in finished.dropFirst() where normalised(h) > normalised(best) { best = h }
        return WhisperDecodingResult(tokens: best.tokens, sumLogProbability: best.sum, score: normalised(best),
                                     finished: best.ended, noSpeechProbability: noSpeech[0], stepLogits: [])
    }
}

/// Token suppression as CTranslate2 applies it: the listed ids get −FLT_MAX (not −∞, so a row stays finite).
struct SuppressionMasks {
    let always: [Int]
    let begin: [Int]

    func apply(_ logits: UnsafeMutableBufferPointer<Float>, firstStep: Bool) {
        for id in always { logits[id] = -Float.greatestFiniteMagnitude }
        if firstStep { for id in begin { logits[id] = -Float.greatestFiniteMagnitude } }
    }

    /// log Σ exp(x): the log-softmax of x is x − this. Accumulated in float64 (a 51864-way sum
    /// in float32 loses ~1e-4), in four partial sums so the additions do not wait on each other
    /// (only the rounding order of the float64 sum differs from one running sum); the
    /// exponentials stay libm's `expf`.
    static func logNormalizer(_ x: UnsafeBufferPointer<Float>) -> Float {
        let m = x.max() ?? 0
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= x.count {
            s0 += Double(expf(x[i] - m)); s1 += Double(expf(x[i + 1] - m))
            s2 += Double(expf(x[i + 2] - m)); s3 += Double(expf(x[i + 3] - m))
            i += 4
        }
        while i < x.count { s0 += Double(expf(x[i] - m)); i += 1 }
        return m + Float(log((s0 + s1) + (s2 + s3)))
    }

    /// Index of the largest value (the lowest index among ties).
    static func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<x.count where x[i] > x[best] { best = i }
        return best
    }

    /// A draw from softmax(x / temperature) (masked entries, at −FLT_MAX, get probability 0):
    /// the first index whose cumulative probability exceeds a uniform draw in [0, 1).
    static func sample(_ x: [Float], temperature: Float, using rng: inout SplitMix64) -> Int {
        let m = x.max() ?? 0
        var weights = [Double](repeating: 0, count: x.count)
        var total = 0.0
        for i in x.indices {
            let w = Foundation.exp(Double(x[i] - m) / Double(temperature))
            weights[i] = w
            total += w
        }
        let u = Double(rng.next() >> 11) * (1.0 / 9_007_199_254_740_992.0) * total
        var cumulative = 0.0
        for i in weights.indices where weights[i] > 0 {
            cumulative += weights[i]
            if u < cumulative { return i }
        }
        return x.withUnsafeBufferPointer { argmax($0) }  // only when rounding put u at the total
    }

    /// Indices of the `k` largest values of x − `shift` (the log-probabilities when `shift` is
    /// the `logNormalizer`), largest first, lower index first among ties. The differences are
    /// compared, not x, because subtracting can round two different values to one.
    static func topK(_ x: UnsafeBufferPointer<Float>, _ k: Int, minus shift: Float = 0) -> [Int] {
        var top: [Int] = []
        top.reserveCapacity(k + 1)
        for i in x.indices {
            let value = x[i] - shift
            if top.count == k, let last = top.last, value <= x[last] - shift { continue }
            var pos = top.count
            while pos > 0 && x[top[pos - 1]] - shift < value { pos -= 1 }
            top.insert(i, at: pos)
            if top.count > k { top.removeLast() }
        }
        return top
    }
}

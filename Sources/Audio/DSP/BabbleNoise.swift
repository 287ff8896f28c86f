import Core
import Foundation

/// Babble noise as in Omni-AVSR's noisy evaluation: the sum of several other talkers, added to a
/// clean utterance at a chosen signal-to-noise ratio.
///
/// For an utterance `s` of n samples, `talkers` distinct utterances of the pool (never the
/// utterance itself, when its pool index is given) are each read from a random start and looped
/// to n samples, then summed into `b`. The babble is scaled by `g` so that
/// `10·log10(Σs² / Σ(g·b)²) = snr` exactly over the utterance, and the mix is `s + g·b`. All choices
/// come from one `SplitMix64` seeded per call, so a (seed, utterance) pair always gives the same mix.
/// Nothing is clipped: the mix is a float signal for the feature extractor, not a file.
public struct BabbleMixer: Sendable {
    /// 16 kHz mono utterances the babble is made of.
    public let pool: [[Float]]
    public let talkers: Int

    /// Needs at least `talkers + 1` non-silent utterances in `pool` (one may be the utterance itself).
    public init(pool: [[Float]], talkers: Int = 4) throws {
        let usable = pool.filter { $0.contains { $0 != 0 } }
        guard talkers >= 1, usable.count > talkers else {
            throw SpeechManifestError("babble: need more than \(talkers) non-silent utterances to mix \(talkers) talkers, got \(usable.count)")
        }
        self.pool = usable
        self.talkers = talkers
    }

    /// `talkers` summed, looped excerpts of other pool utterances, n samples long.
    public func babble(count n: Int, excluding own: Int? = nil, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var picked: [Int] = []
        while picked.count < talkers {
            let i = Int(rng.next() % UInt64(pool.count))
            if i != own && !picked.contains(i) { picked.append(i) }
        }
        var out = [Float](repeating: 0, count: n)
        for i in picked {
            let talker = pool[i]
            var p = Int(rng.next() % UInt64(talker.count))
            for k in 0..<n {
                out[k] += talker[p]
                p += 1
                if p == talker.count { p = 0 }
            }
        }
        return out
    }

    /// `speech` with babble added at `snrDB` dB. Silent speech is returned unchanged (no SNR exists).
    public func mix(_ speech: [Float], snrDB: Double, excluding own: Int? = nil, seed: UInt64) -> [Float] {
        guard !speech.isEmpty else { return speech }
        let noise = babble(count: speech.count, excluding: own, seed: seed)
        let ps = Self.energy(speech), pn = Self.energy(noise)
        guard ps > 0, pn > 0 else { return speech }
        let gain = Float((ps / (pn * Foundation.pow(10, snrDB / 10))).squareRoot())
        return zip(speech, noise).map { $0 + gain * $1 }
    }

    /// Σx² in double precision.
    public static func energy(_ x: [Float]) -> Double { x.reduce(0) { $0 + Double($1) * Double($1) } }

    /// The SNR in dB of `mixed = clean + noise` (for tests and reports).
    public static func snr(clean: [Float], mixed: [Float]) -> Double {
        let noise = zip(mixed, clean).map { $0 - $1 }
        return 10 * log10(energy(clean) / energy(noise))
    }
}

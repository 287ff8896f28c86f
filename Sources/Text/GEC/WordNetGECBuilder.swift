import Core
import Foundation

/// Builds the embedded 10-domain English GEC benchmark in the shape of CL²GEC: real English
/// sentences (WordNet 3.0 glosses and example sentences) grouped by lexicographer file into ten
/// domains, with errors injected by `ErrorInjector` (real misspellings from codespell's
/// dictionary plus common grammatical error types). The clean sentence is the reference; a share
/// of sentences stays error-free. Each domain is split 70 / 10 / 20 into train / dev / test.
///
/// The errors are synthetic; only the text and the misspellings are real. Deterministic for a
/// seed and the same input files.
public struct WordNetGECBuilder {
    /// Domain name → WordNet lexicographer file number (noun files; see `lexnames(5WN)`).
    public static let domains: [(name: String, lexFile: Int)] = [
        ("animals", 5), ("plants", 20), ("food", 13), ("body", 8), ("artifacts", 6),
        ("people", 18), ("places", 15), ("acts", 4), ("communication", 10), ("cognition", 9),
    ]

    public var wordnetDirectory = WordNetReader.defaultDirectory
    /// codespell's `dictionary.txt`.
    public var misspellingsPath = ""
    public var sentencesPerDomain = 300
    /// Share of sentences left without errors.
    public var cleanShare = 0.2
    public var minTokens = 6
    public var maxTokens = 30
    public var seed: UInt64 = 2025

    public init() {}

    public struct Corpus: Sendable {
        public var train: [GECExample], dev: [GECExample], test: [GECExample]
        /// Error types used, with counts.
        public var typeCounts: [String: Int]
    }

    /// Splits a gloss sentence into ERRANT-style tokens: words, with leading and trailing
    /// punctuation as tokens of their own; adds a final full stop when there is no final
    /// punctuation.
    public static func tokenize(_ sentence: String) -> [String] {
        var out: [String] = []
        let punct = Set(",;:.!?()\"'[]")
        for raw in GECTokens.split(sentence) {
            var w = Substring(raw)
            var lead: [String] = [], trail: [String] = []
            while let f = w.first, punct.contains(f), w.count > 1 { lead.append(String(f)); w = w.dropFirst() }
            while let l = w.last, punct.contains(l), w.count > 1 { trail.insert(String(l), at: 0); w = w.dropLast() }
            out += lead + [String(w)] + trail
        }
        if let last = out.last, ![".", "!", "?"].contains(last) { out.append(".") }
        return out
    }

    public func build() throws -> Corpus {
        let dir = wordnetDirectory
        let noun = try WordNetReader.read(file: (dir as NSString).appendingPathComponent("data.noun"))
        let nouns = Set(try WordNetReader.readIndex(file: (dir as NSString).appendingPathComponent("index.noun")).keys.filter { !$0.contains("_") })
        let verbs = Set(try WordNetReader.readIndex(file: (dir as NSString).appendingPathComponent("index.verb")).keys.filter { !$0.contains("_") })
        guard let data = FileManager.default.contents(atPath: misspellingsPath), let text = String(data: data, encoding: .utf8) else {
            throw GECError.unusable("\(misspellingsPath): cannot read codespell's dictionary.txt; pass --misspellings PATH (pip download codespell, file codespell_lib/data/dictionary.txt)")
        }
        let injector = ErrorInjector(misspellings: ErrorInjector.codespellMisspellings(text), nouns: nouns, verbs: verbs)
        var corpus = Corpus(train: [], dev: [], test: [], typeCounts: [:])
        for (name, lexFile) in Self.domains {
            var seen = Set<String>()
            var candidates: [[String]] = []
            for s in noun where s.lexFile == lexFile {
                for sentence in s.glossSentences {
                    let toks = Self.tokenize(sentence)
                    guard toks.count >= minTokens, toks.count <= maxTokens else { continue }
                    let key = toks.joined(separator: " ")
                    if seen.insert(key).inserted { candidates.append(toks) }
                }
            }
            guard candidates.count >= sentencesPerDomain else {
                throw GECError.unusable("WordNet file \(lexFile) (\(name)) gives \(candidates.count) sentences, fewer than --per-domain \(sentencesPerDomain)")
            }
            var rng = SplitMix64(seed: seed).fork(UInt64(lexFile))
            for i in stride(from: candidates.count - 1, to: 0, by: -1) { candidates.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var examples: [GECExample] = []
            for clean in candidates.prefix(sentencesPerDomain) {
                var source = clean
                if Double(rng.next() % 1_000_000) / 1_000_000 >= cleanShare {
                    let n = 1 + Int(rng.next() % 3 == 0 ? 2 : rng.next() % 2)
                    let r = injector.corrupt(clean, count: n, rng: &rng)
                    source = r.tokens
                    for t in r.types { corpus.typeCounts[t, default: 0] += 1 }
                }
                examples.append(GECExample(source: source.joined(separator: " "), references: [clean.joined(separator: " ")], category: name))
            }
            let nTrain = sentencesPerDomain * 7 / 10, nDev = sentencesPerDomain / 10
            corpus.train += examples[0..<nTrain]
            corpus.dev += examples[nTrain..<(nTrain + nDev)]
            corpus.test += examples[(nTrain + nDev)...]
        }
        return corpus
    }
}

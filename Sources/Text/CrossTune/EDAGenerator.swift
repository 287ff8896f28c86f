import Core
import Foundation

/// Synonyms from WordNet: two words are synonyms when they share a synset. Multi-word lemmas
/// keep their spaces ("hot dog"); lookups are lower case.
public struct SynonymTable: Sendable {
    public let synonyms: [String: [String]]

    /// A hand-made table (tests, small vocabularies); lists are used in the given order.
    public init(_ synonyms: [String: [String]]) { self.synonyms = synonyms }

    /// Reads the four WordNet 3.0 data files of `directory` (Debian `wordnet-base`).
    public static func wordNet(directory: String = WordNetReader.defaultDirectory) throws -> SynonymTable {
        var sets: [String: Set<String>] = [:]
        for file in WordNetReader.dataFiles {
            for synset in try WordNetReader.read(file: (directory as NSString).appendingPathComponent(file)) {
                let words = Array(Set(synset.words.map { $0.lowercased() }))
                guard words.count > 1 else { continue }
                for w in words { sets[w, default: []].formUnion(words.filter { $0 != w }) }
            }
        }
        // Sorted lists: the same files give the same choices for a seed.
        return SynonymTable(sets.mapValues { $0.sorted() })
    }

    public func of(_ word: String) -> [String] { synonyms[word.lowercased()] ?? [] }
}

/// The offline generator: EDA (Wei & Zou, 2019) — synonym replacement, random insertion of a
/// synonym, random swap and random deletion — applied to the class's few-shot examples, seeded.
///
/// Each new text takes one example (in turn) and one operation (in turn), changing
/// `n = max(1, round(alpha · words))` words; deletion drops each word with probability `alpha`.
/// Stop words are never replaced nor used as insertion sources, as in the EDA recipe.
public final class EDAGenerator: TextGenerator {
    public enum Operation: String, Sendable, CaseIterable {
        case synonymReplacement = "sr", randomInsertion = "ri", randomSwap = "rs", randomDeletion = "rd"
    }

    public let table: SynonymTable
    public let alpha: Double
    public var generatorID: String { "offline-eda" }
    public let apiCalls = 0

    public init(table: SynonymTable, alpha: Double = 0.1) throws {
        guard alpha > 0, alpha < 1 else { throw CrossTuneError("EDA: alpha must be in (0, 1), got \(alpha)") }
        self.table = table
        self.alpha = alpha
    }

    /// EDA's stop-word list (a short English list; these words carry no class signal).
    static let stopWords: Set<String> = Set(("i me my myself we our ours ourselves you your yours yourself yourselves he him his himself "
        + "she her hers herself it its itself they them their theirs themselves what which who whom this that these those am is are "
        + "was were be been being have has had having do does did doing a an the and but if or because as until while of at by for "
        + "with about against between into through during before after above below to from up down in out on off over under again "
        + "further then once here there when where why how all any both each few more most other some such no nor not only own same "
        + "so than too very s t can will just don should now").split(separator: " ").map(String.init))

    public func generate(label: String, description: String, examples: [String], count: Int, seed: UInt64) throws -> [String] {
        guard count > 0, !examples.isEmpty else { return [] }
        var rng = SplitMix64(seed: seed)
        var seen = Set(examples.map { $0.lowercased() })
        var out: [String] = []
        let ops = Operation.allCases
        // Some edits are no-ops (no synonym, nothing to swap); bounded retries keep it finite.
        var attempt = 0
        while out.count < count && attempt < count * 8 {
            let words = examples[attempt % examples.count].split(whereSeparator: { $0.isWhitespace }).map(String.init)
            let op = ops[(attempt / examples.count + attempt) % ops.count]
            attempt += 1
            let edited = apply(op, to: words, rng: &rng).joined(separator: " ")
            if !edited.isEmpty, seen.insert(edited.lowercased()).inserted { out.append(edited) }
        }
        return out
    }

    /// Applies one EDA operation to a tokenised text.
    public func apply(_ op: Operation, to words: [String], rng: inout SplitMix64) -> [String] {
        guard !words.isEmpty else { return words }
        let n = max(1, Int((alpha * Double(words.count)).rounded()))
        var w = words
        switch op {
        case .synonymReplacement:
            var candidates = indices(of: w).filter { !synonyms(w[$0]).isEmpty }
            shuffle(&candidates, &rng)
            for i in candidates.prefix(n) {
                let options = synonyms(w[i])
                w[i] = options[Int(rng.next() % UInt64(options.count))]
            }
        case .randomInsertion:
            for _ in 0..<n {
                let sources = indices(of: w).filter { !synonyms(w[$0]).isEmpty }
                guard !sources.isEmpty else { break }
                let options = synonyms(w[sources[Int(rng.next() % UInt64(sources.count))]])
                let word = options[Int(rng.next() % UInt64(options.count))]
                w.insert(word, at: Int(rng.next() % UInt64(w.count + 1)))
            }
        case .randomSwap:
            guard w.count >= 2 else { return w }
            for _ in 0..<n {
                let i = Int(rng.next() % UInt64(w.count))
                var j = Int(rng.next() % UInt64(w.count - 1))
                if j >= i { j += 1 }  // a different position, uniformly
                w.swapAt(i, j)
            }
        case .randomDeletion:
            guard w.count >= 2 else { return w }
            let kept = w.filter { _ in Double(rng.next() >> 11) / Double(1 << 53) >= alpha }
            // Never delete everything: keep one random word instead.
            w = kept.isEmpty ? [w[Int(rng.next() % UInt64(w.count))]] : kept
        }
        return w
    }

    /// Positions of words that are not stop words.
    func indices(of words: [String]) -> [Int] {
        words.indices.filter { !Self.stopWords.contains(Self.bare(words[$0]).lowercased()) }
    }

    /// Synonyms of a word, looked up without surrounding punctuation and never the word itself.
    func synonyms(_ word: String) -> [String] {
        let b = Self.bare(word).lowercased()
        return b.isEmpty ? [] : table.of(b).filter { $0 != b }
    }

    static func bare(_ w: String) -> String { w.trimmingCharacters(in: .punctuationCharacters) }

    func shuffle(_ xs: inout [Int], _ rng: inout SplitMix64) {
        for i in stride(from: xs.count - 1, to: 0, by: -1) { xs.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    }
}

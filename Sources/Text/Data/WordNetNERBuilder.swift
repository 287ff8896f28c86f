import Core
import Foundation

/// Builds a silver-standard English NER corpus from WordNet 3.0: the sentences are WordNet's
/// own glosses and example sentences (real English written by lexicographers), and the entity
/// tags come from matching the names of WordNet's instance synsets in them
/// (`EntityGazetteer`). Deterministic: the same WordNet files and options give byte-identical
/// output.
///
/// Steps: read `data.noun`, `data.verb`, `data.adj`, `data.adv` in that order; cut every gloss
/// into its definition and examples; tokenize (`GlossTokenizer`); keep sentences of
/// `minTokens...maxTokens` tokens, dropping repeats of an identical token sequence; annotate;
/// shuffle the sentences with and without entities separately (SplitMix64 from `seed`); take
/// `entityFreeFraction` of the total from the entity-free ones; from the others, first make
/// sure every entity type occurs in at least `minSentencesPerType` sentences (rarest type
/// first; ORG is rare in WordNet glosses and would otherwise get a handful of dev/test
/// entities), then fill up in shuffled order; shuffle the selection and cut it into train,
/// dev and test.
///
/// ```swift
/// let corpus = try WordNetNERBuilder().build()
/// try corpus.write(to: URL(fileURLWithPath: "data/text"))
/// ```
public struct WordNetNERBuilder: Sendable {
    /// Folder with the WordNet data files.
    public var wordnetDirectory = WordNetReader.defaultDirectory
    public var trainCount = 2000
    public var devCount = 400
    public var testCount = 400
    /// Share of the selected sentences that contain no entity (so a model also learns `O`).
    public var entityFreeFraction = 0.2
    public var minTokens = 4
    public var maxTokens = 48
    /// Sentences with each entity type kept before the random fill (when WordNet has them).
    public var minSentencesPerType = 200
    public var seed: UInt64 = 2003

    public init() {}

    /// Reads WordNet and makes the three splits.
    public func build() throws -> WordNetNERCorpus {
        var synsets: [WordNetSynset] = []
        for name in WordNetReader.dataFiles {
            let path = (wordnetDirectory as NSString).appendingPathComponent(name)
            synsets += try WordNetReader.read(file: path)
        }
        let index = try WordNetReader.readIndex(file: (wordnetDirectory as NSString).appendingPathComponent("index.noun"))
        return try build(synsets: synsets, nounIndex: index)
    }

    /// Makes the splits from already-read synsets (in file order) and the noun index.
    public func build(synsets: [WordNetSynset], nounIndex: [String: [Int]]?) throws -> WordNetNERCorpus {
        guard trainCount > 0, devCount > 0, testCount > 0 else {
            throw WordNetError("train, dev and test sizes must be positive (got \(trainCount), \(devCount), \(testCount))")
        }
        guard (0...1).contains(entityFreeFraction), minTokens >= 1, maxTokens >= minTokens else {
            throw WordNetError("entity-free fraction must be in 0…1 and 1 ≤ min tokens ≤ max tokens")
        }
        let gazetteer = EntityGazetteer(synsets: synsets, nounIndex: nounIndex)
        var seen = Set<[String]>()
        var withEntities: [NERExample] = [], without: [NERExample] = []
        for s in synsets {
            for text in s.glossSentences {
                let tokens = GlossTokenizer.tokens(text)
                guard (minTokens...maxTokens).contains(tokens.count), seen.insert(tokens).inserted else { continue }
                let tags = gazetteer.annotate(tokens)
                let example = NERExample(tokens: tokens, tags: tags)
                if tags.contains(where: { $0 != "O" }) { withEntities.append(example) } else { without.append(example) }
            }
        }
        let total = trainCount + devCount + testCount
        let free = Int((Double(total) * entityFreeFraction).rounded())
        guard withEntities.count >= total - free, without.count >= free else {
            throw WordNetError("WordNet gives \(withEntities.count) sentences with entities and \(without.count) without; \(total - free) and \(free) are needed; ask for fewer sentences")
        }
        var rng = SplitMix64(seed: seed)
        Self.shuffle(&withEntities, &rng)
        Self.shuffle(&without, &rng)
        var chosen = Self.stratified(withEntities, count: total - free, minPerType: minSentencesPerType) + Array(without.prefix(free))
        Self.shuffle(&chosen, &rng)
        return WordNetNERCorpus(
            train: Array(chosen[0..<trainCount]),
            dev: Array(chosen[trainCount..<(trainCount + devCount)]),
            test: Array(chosen[(trainCount + devCount)...]),
            nameCount: gazetteer.nameCount,
            candidateCounts: (withEntities.count, without.count))
    }

    /// `count` sentences of `pool` (already shuffled): for each type, rarest first, sentences
    /// containing it in pool order until `minPerType` selected sentences contain it; then the
    /// rest of the pool in order.
    static func stratified(_ pool: [NERExample], count: Int, minPerType: Int) -> [NERExample] {
        let types = pool.map { Set($0.tags.compactMap { $0 == "O" ? nil : String($0.dropFirst(2)) }) }
        var frequency: [String: Int] = [:]
        for t in types { for x in t { frequency[x, default: 0] += 1 } }
        let rarestFirst = frequency.keys.sorted { (frequency[$0] ?? 0, $0) < (frequency[$1] ?? 0, $1) }
        var taken = [Bool](repeating: false, count: pool.count)
        var selected: [Int] = []
        for type in rarestFirst {
            var have = selected.filter { types[$0].contains(type) }.count
            for i in pool.indices where have < minPerType && selected.count < count && !taken[i] && types[i].contains(type) {
                taken[i] = true
                selected.append(i)
                have += 1
            }
        }
        for i in pool.indices where selected.count < count && !taken[i] {
            taken[i] = true
            selected.append(i)
        }
        return selected.map { pool[$0] }
    }

    /// Fisher–Yates with our own generator (the standard library's shuffle algorithm is not
    /// promised to stay the same across releases; this one is).
    static func shuffle<T>(_ a: inout [T], _ rng: inout SplitMix64) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
    }
}

/// One tokenized, tagged sentence.
public struct NERExample: Sendable, Equatable, Hashable {
    public var tokens: [String]
    /// IOB2 tags, one per token.
    public var tags: [String]

    public init(tokens: [String], tags: [String]) {
        self.tokens = tokens
        self.tags = tags
    }
}

/// The three splits the builder made, with counts for the README.
public struct WordNetNERCorpus: Sendable {
    public var train: [NERExample]
    public var dev: [NERExample]
    public var test: [NERExample]
    /// Distinct entity names in the gazetteer.
    public var nameCount: Int
    /// Candidate sentences found (with entities, without).
    public var candidateCounts: (withEntities: Int, without: Int)

    /// The file names `write(to:)` uses, in split order.
    public static let fileNames = ["train.conll", "dev.conll", "test.conll"]

    /// The CoNLL text of one split: `token tag` lines, a blank line after each sentence.
    public static func conll(_ examples: [NERExample]) throws -> String {
        try CoNLLWriter.format(examples.map { PredictedSentence(tokens: $0.tokens, predicted: $0.tags) })
    }

    /// Writes `train.conll`, `dev.conll` and `test.conll` into `directory` (created when
    /// missing), each atomically.
    public func write(to directory: URL) throws {
        for (name, split) in zip(Self.fileNames, [train, dev, test]) {
            try AtomicFile.write(try Self.conll(split), to: directory.appendingPathComponent(name), createDirectories: true)
        }
    }

    /// Sentence, token and per-type entity counts of each split, one line per split.
    public func summary() -> String {
        var lines: [String] = []
        for (name, split) in zip(Self.fileNames, [train, dev, test]) {
            var types: [String: Int] = [:]
            for e in split {
                for span in EntityChunker.lenient(e.tags) { types[span.type, default: 0] += 1 }
            }
            let perType = types.keys.sorted().map { "\($0) \(types[$0] ?? 0)" }.joined(separator: ", ")
            let tokens = split.reduce(0) { $0 + $1.tokens.count }
            lines.append("\(name): \(split.count) sentences, \(tokens) tokens, \(types.values.reduce(0, +)) entities (\(perType))")
        }
        return lines.joined(separator: "\n")
    }
}

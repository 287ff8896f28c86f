import Core
import Foundation

/// Unlabelled in-domain text for the DAPT demo: WordNet 3.0 glosses (definitions and example
/// sentences) of synsets that contribute **no** sentence to the NER data, so pre-training never
/// sees a dev or test sentence. A synset is excluded when any of its gloss sentences, tokenized
/// as the NER builder tokenizes them (`GlossTokenizer`), is a sentence of the given CoNLL files;
/// a sentence equal to an NER sentence is excluded even when another synset carries it.
///
/// The kept sentences are shuffled (SplitMix64 from `seed`) and taken until `maxBytes` of UTF-8
/// text (one sentence per line) — deterministic for the same WordNet files and options.
///
/// ```swift
/// var b = WordNetDAPTText(); b.nerFiles = ["data/text/train.conll", …]
/// let text = try b.build()     // lines
/// ```
public struct WordNetDAPTText: Sendable {
    public var wordnetDirectory = WordNetReader.defaultDirectory
    /// CoNLL files whose sentences (and their synsets) must not appear in the output.
    public var nerFiles: [String] = ["data/text/train.conll", "data/text/dev.conll", "data/text/test.conll"]
    /// Output budget in bytes (the demo keeps the file under 1 MB).
    public var maxBytes = 900_000
    /// Sentences shorter than this many tokens (fragments such as "a person") are skipped.
    public var minTokens = 5
    public var seed: UInt64 = 2024

    public init() {}

    /// What was built: the lines and how many synsets were excluded for overlapping the NER data.
    public struct Output: Sendable {
        public var lines: [String]
        public var excludedSynsets: Int
        public var nerSentences: Int
        public var candidates: Int
    }

    /// Reads WordNet and the NER files and selects the text.
    public func build() throws -> Output {
        var synsets: [WordNetSynset] = []
        for name in WordNetReader.dataFiles {
            synsets += try WordNetReader.read(file: (wordnetDirectory as NSString).appendingPathComponent(name))
        }
        var ner = Set<[String]>()
        for path in nerFiles {
            for s in try CoNLLReader().read(path: path).sentences { ner.insert(s.tokens) }
        }
        return try build(synsets: synsets, nerSentences: ner)
    }

    /// Selects from already-read synsets against a set of NER token sequences.
    public func build(synsets: [WordNetSynset], nerSentences ner: Set<[String]>) throws -> Output {
        guard maxBytes > 0 else { throw DAPTError("the DAPT text budget must be positive (got \(maxBytes) bytes)") }
        var candidates: [String] = []
        var seen = Set<String>()
        var excluded = 0
        for s in synsets {
            let sentences = s.glossSentences
            let tokenized = sentences.map { GlossTokenizer.tokens($0) }
            if tokenized.contains(where: { ner.contains($0) }) {
                excluded += 1
                continue
            }
            for (text, tokens) in zip(sentences, tokenized) where tokens.count >= minTokens && seen.insert(text).inserted {
                candidates.append(text)
            }
        }
        var rng = SplitMix64(seed: seed)
        WordNetNERBuilder.shuffle(&candidates, &rng)
        var lines: [String] = []
        var bytes = 0
        for c in candidates {
            let n = c.utf8.count + 1
            if bytes + n > maxBytes { break }
            lines.append(c)
            bytes += n
        }
        guard !lines.isEmpty else { throw DAPTError("no WordNet gloss is left after removing the NER data's sentences") }
        return Output(lines: lines, excludedSynsets: excluded, nerSentences: ner.count, candidates: candidates.count)
    }
}

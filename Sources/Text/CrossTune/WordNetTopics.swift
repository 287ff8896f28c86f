import Core
import Foundation

/// Builds a real topic-classification set from WordNet 3.0: the definitions of noun synsets,
/// labelled by their lexicographer file ("supersense"). Ten noun domains; the label
/// descriptions are WordNet's own descriptions of those files (lexnames(5WN)), without the
/// leading "nouns denoting".
///
/// Deterministic: the same WordNet files and seed give byte-identical output.
public enum WordNetTopics {
    /// (label, lexicographer file number, description).
    public static let domains: [(label: String, lexFile: Int, description: String)] = [
        ("act", 4, "acts or actions"),
        ("animal", 5, "animals"),
        ("artifact", 6, "man-made objects"),
        ("body", 8, "body parts"),
        ("communication", 10, "communicative processes and contents"),
        ("food", 13, "foods and drinks"),
        ("location", 15, "spatial position"),
        ("person", 18, "people"),
        ("plant", 20, "plants"),
        ("substance", 27, "substances"),
    ]

    /// The labelled definitions: per domain `trainPerClass` + `testPerClass` distinct
    /// definitions of 5–40 words, sampled with `seed`.
    public static func build(wordnetDirectory: String = WordNetReader.defaultDirectory, trainPerClass: Int = 200,
                             testPerClass: Int = 100, seed: UInt64 = 2024) throws -> (train: [LabelledText], test: [LabelledText]) {
        let synsets = try WordNetReader.read(file: (wordnetDirectory as NSString).appendingPathComponent("data.noun"))
        var seen = Set<String>()
        var byDomain: [Int: [String]] = [:]
        for s in synsets {
            guard domains.contains(where: { $0.lexFile == s.lexFile }), let definition = s.glossSentences.first else { continue }
            // Glosses end in ';' before examples; collapse whitespace so TSV stays one line per text.
            let text = definition.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            let words = text.split(separator: " ").count
            guard (5...40).contains(words), seen.insert(text).inserted else { continue }
            byDomain[s.lexFile, default: []].append(text)
        }
        var rng = SplitMix64(seed: seed)
        var train: [LabelledText] = [], test: [LabelledText] = []
        for d in domains {
            var texts = byDomain[d.lexFile] ?? []
            guard texts.count >= trainPerClass + testPerClass else {
                throw WordNetError("\(wordnetDirectory): domain noun.\(d.label) has \(texts.count) usable definitions, fewer than \(trainPerClass + testPerClass)")
            }
            for i in stride(from: texts.count - 1, to: 0, by: -1) { texts.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            train += texts[0..<trainPerClass].map { LabelledText(text: $0, label: d.label) }
            test += texts[trainPerClass..<(trainPerClass + testPerClass)].map { LabelledText(text: $0, label: d.label) }
        }
        return (train, test)
    }

    /// `label<TAB>text` lines under a header.
    public static func tsv(_ items: [LabelledText]) -> String {
        "label\ttext\n" + items.map { "\($0.label)\t\($0.text)\n" }.joined()
    }

    /// The label descriptions file.
    public static var descriptionsFile: String {
        "# WordNet 3.0 lexicographer-file descriptions (lexnames), without \"nouns denoting\"\n"
            + domains.map { "\($0.label)\t\($0.description)\n" }.joined()
    }

    /// Writes `train.tsv`, `test.tsv` and `labels.tsv` into `directory` (atomically).
    public static func write(to directory: URL, wordnetDirectory: String = WordNetReader.defaultDirectory, seed: UInt64 = 2024) throws -> (train: Int, test: Int) {
        let (train, test) = try build(wordnetDirectory: wordnetDirectory, seed: seed)
        try AtomicFile.write(tsv(train), to: directory.appendingPathComponent("train.tsv"), createDirectories: true)
        try AtomicFile.write(tsv(test), to: directory.appendingPathComponent("test.tsv"))
        try AtomicFile.write(descriptionsFile, to: directory.appendingPathComponent("labels.tsv"))
        return (train.count, test.count)
    }
}

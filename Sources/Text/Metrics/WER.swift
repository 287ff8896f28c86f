import Foundation

/// Word error rate over a corpus, as jiwer 4 computes it: each sentence is split into words at
/// whitespace, aligned to its reference by word-level Levenshtein distance, and the counts are
/// summed over all sentences before dividing: WER = (S + D + I) / (S + D + H), the number of
/// reference words (so WER can exceed 1). An empty hypothesis deletes every reference word.
///
/// When several alignments are equally short, the backtrace from the end takes a match or
/// substitution step whenever one lies on a shortest path (so a substitution wins over a
/// deletion + insertion pair); this gives jiwer's counts on every fixture case.
///
/// ```swift
/// let r = WordErrorRate.compute(references: ["press one"], hypotheses: ["press 1"], normaliser: .standard)
/// r.wer        // 0.5
/// ```
public struct WordErrorRate: Sendable, Equatable {
    public var hits = 0, substitutions = 0, deletions = 0, insertions = 0

    public init(hits: Int = 0, substitutions: Int = 0, deletions: Int = 0, insertions: Int = 0) {
        self.hits = hits; self.substitutions = substitutions; self.deletions = deletions; self.insertions = insertions
    }

    /// Words in the references.
    public var referenceWords: Int { hits + substitutions + deletions }
    /// (S + D + I) / reference words; nil when the references hold no word (undefined).
    public var wer: Double? {
        referenceWords == 0 ? nil : Double(substitutions + deletions + insertions) / Double(referenceWords)
    }

    /// Adds another corpus' counts.
    public static func + (a: WordErrorRate, b: WordErrorRate) -> WordErrorRate {
        WordErrorRate(hits: a.hits + b.hits, substitutions: a.substitutions + b.substitutions,
                      deletions: a.deletions + b.deletions, insertions: a.insertions + b.insertions)
    }

    /// Counts over sentence pairs (`references[i]` with `hypotheses[i]`), after `normaliser`.
    public static func compute(references: [String], hypotheses: [String], normaliser: TranscriptNormaliser = .none) -> WordErrorRate {
        precondition(references.count == hypotheses.count, "WordErrorRate: \(references.count) references but \(hypotheses.count) hypotheses")
        var total = WordErrorRate()
        for (r, h) in zip(references, hypotheses) {
            total = total + align(words(normaliser(r)), words(normaliser(h)))
        }
        return total
    }

    /// Whitespace-separated words (jiwer's default transform: collapse spaces, strip, split).
    public static func words(_ s: String) -> [Substring] {
        s.split(whereSeparator: { $0.isWhitespace })
    }

    /// Counts of one minimum-edit alignment of `hyp` to `ref`.
    public static func align<W: Equatable>(_ ref: [W], _ hyp: [W]) -> WordErrorRate {
        let n = ref.count, m = hyp.count
        // cost[i][j]: edits to turn ref[..<i] into hyp[..<j], flattened row-major.
        var cost = [Int](repeating: 0, count: (n + 1) * (m + 1))
        for i in 0...n { cost[i * (m + 1)] = i }
        for j in 0...m { cost[j] = j }
        if n > 0 && m > 0 {
            for i in 1...n {
                for j in 1...m {
                    let diagonal = cost[(i - 1) * (m + 1) + j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1)
                    let deletion = cost[(i - 1) * (m + 1) + j] + 1
                    let insertion = cost[i * (m + 1) + j - 1] + 1
                    cost[i * (m + 1) + j] = min(diagonal, deletion, insertion)
                }
            }
        }
        // Walk back from the end, taking the diagonal whenever it is on a shortest path.
        var out = WordErrorRate()
        var i = n, j = m
        while i > 0 || j > 0 {
            let here = cost[i * (m + 1) + j]
            if i > 0 && j > 0 {
                let same = ref[i - 1] == hyp[j - 1]
                if cost[(i - 1) * (m + 1) + j - 1] + (same ? 0 : 1) == here {
                    if same { out.hits += 1 } else { out.substitutions += 1 }
                    i -= 1; j -= 1
                    continue
                }
            }
            if i > 0 && cost[(i - 1) * (m + 1) + j] + 1 == here {
                out.deletions += 1; i -= 1
            } else {
                out.insertions += 1; j -= 1
            }
        }
        return out
    }
}

/// How transcripts are normalised before scoring.
public struct TranscriptNormaliser: Sendable, Equatable {
    /// Lower-case (Unicode).
    public var lowercase: Bool
    /// Delete every ASCII punctuation character (Python's `string.punctuation`, apostrophes included,
    /// so "don't" → "dont").
    public var removePunctuation: Bool
    /// Write digit runs as English words ("42" → "forty two"); off by default.
    public var numbersAsWords: Bool

    public init(lowercase: Bool, removePunctuation: Bool, numbersAsWords: Bool = false) {
        self.lowercase = lowercase; self.removePunctuation = removePunctuation; self.numbersAsWords = numbersAsWords
    }

    /// jiwer's default only: whitespace is collapsed when splitting, nothing else changes.
    public static let none = TranscriptNormaliser(lowercase: false, removePunctuation: false)
    /// Lower-case, no ASCII punctuation, whitespace collapsed (fixtures/metrics/wer_cases.json's normaliser).
    public static let standard = TranscriptNormaliser(lowercase: true, removePunctuation: true)

    static let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

    /// The normalised text, words separated by single spaces.
    public func callAsFunction(_ text: String) -> String {
        var s = lowercase ? text.lowercased() : text
        if numbersAsWords { s = Self.spellNumbers(s) }
        if removePunctuation { s.removeAll { Self.punctuation.contains($0) } }
        return s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// Every run of ASCII digits replaced by its English words, surrounded by spaces ("a1b" → "a one b").
    /// Runs longer than 12 digits are spelled digit by digit.
    static func spellNumbers(_ s: String) -> String {
        var out = "", digits = ""
        func flush() {
            guard !digits.isEmpty else { return }
            let words = digits.count <= 12 ? numberWords(Int(digits)!) : digits.map { numberWords(Int(String($0))!) }.joined(separator: " ")
            out += " " + words + " "
            digits = ""
        }
        for c in s {
            if c.isASCII && c.isNumber { digits.append(c) } else { flush(); out.append(c) }
        }
        flush()
        return out
    }

    static let ones = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                       "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
    static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

    /// English words of 0 ≤ n < 10¹² ("one hundred twenty three").
    static func numberWords(_ n: Int) -> String {
        if n < 20 { return ones[n] }
        if n < 100 { return tens[n / 10] + (n % 10 == 0 ? "" : " " + ones[n % 10]) }
        if n < 1000 { return ones[n / 100] + " hundred" + (n % 100 == 0 ? "" : " " + numberWords(n % 100)) }
        for (size, name) in [(1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand")] where n >= size {
            return numberWords(n / size) + " " + name + (n % size == 0 ? "" : " " + numberWords(n % size))
        }
        return String(n)
    }
}

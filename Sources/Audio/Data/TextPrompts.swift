import Core
import Foundation

/// Extra training sentences for the synthetic audio-visual set, read from a plain-text file (one
/// sentence a line, e.g. the WordNet gloss sentences of `data/text/dapt.txt`): the Asterisk prompts
/// offer only a few hundred distinct sentences, too few to learn reading new text from mouths.
///
/// A line is kept when it has `minWords…maxWords` words and only letters, spaces, apostrophes,
/// hyphens and commas (what eSpeak NG reads as written and the WER normaliser compares as words);
/// then `count` of them are drawn by a seeded shuffle. Ids are `text/<line number>` (1-based).
public enum TextPrompts {
    public static func pick(contentsOf url: URL, count: Int, maxWords: Int = 12, minWords: Int = 3, seed: UInt64) throws -> [(id: String, text: String)] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SpeechManifestError("\(url.path): cannot read the sentence file (--text); pass a UTF-8 text file, one sentence a line")
        }
        return try pick(text: String(decoding: data, as: UTF8.self), count: count, maxWords: maxWords, minWords: minWords, seed: seed, name: url.path)
    }

    public static func pick(text: String, count: Int, maxWords: Int = 12, minWords: Int = 3, seed: UInt64, name: String = "text") throws -> [(id: String, text: String)] {
        guard count >= 0, minWords >= 1, maxWords >= minWords else {
            throw SpeechManifestError("\(name): need count ≥ 0 and 1 ≤ min words ≤ max words, got \(count), \(minWords), \(maxWords)")
        }
        let allowed = CharacterSet.letters.union(CharacterSet(charactersIn: " '-,"))
        var kept: [(id: String, text: String)] = []
        var seen = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let words = line.split(separator: " ").count
            guard words >= minWords, words <= maxWords, line.unicodeScalars.allSatisfy({ allowed.contains($0) && $0.isASCII }),
                  seen.insert(line.lowercased()).inserted else { continue }
            kept.append(("text/\(i + 1)", line))
        }
        guard count > 0 else { return [] }
        guard !kept.isEmpty else { throw SpeechManifestError("\(name): no line of \(minWords)–\(maxWords) plain words to speak") }
        var rng = SplitMix64(seed: seed)
        return Array(kept.shuffledSeeded(&rng).prefix(count))
    }
}

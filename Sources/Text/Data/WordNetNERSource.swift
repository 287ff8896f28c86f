import Core
import Foundation

/// One synset line of a WordNet 3.0 `data.*` file, reduced to what the NER data builder needs.
///
/// The line format (wndb(5WN)): `offset lex_filenum ss_type w_cnt word lex_id … p_cnt
/// [symbol offset pos source/target]… [frames] | gloss`, with `w_cnt` in hexadecimal and
/// `p_cnt` in decimal; words use `_` for spaces.
public struct WordNetSynset: Sendable, Equatable {
    /// Byte offset of the line in its file (WordNet's synset id within a part of speech).
    public var offset: Int
    /// Lexicographer file number (`noun.person` is 18, `noun.location` 15, `noun.group` 14).
    public var lexFile: Int
    /// `n`, `v`, `a`, `s` or `r`.
    public var partOfSpeech: Character
    /// The synset's words with `_` turned into spaces, adjective markers such as `(p)` removed.
    public var words: [String]
    /// True when the synset has an instance-hypernym pointer (`@i`): it names one individual
    /// thing (a person, a city, a war), which is what the builder treats as a named entity.
    public var isInstance: Bool
    /// The text after `|`: a definition, then quoted example sentences.
    public var gloss: String

    public init(offset: Int, lexFile: Int, partOfSpeech: Character, words: [String], isInstance: Bool, gloss: String) {
        self.offset = offset
        self.lexFile = lexFile
        self.partOfSpeech = partOfSpeech
        self.words = words
        self.isInstance = isInstance
        self.gloss = gloss
    }

    /// The entity type the builder gives an instance synset: `noun.person` → PER,
    /// `noun.location` → LOC, `noun.group` → ORG, any other lexicographer file → MISC.
    public var entityType: String {
        switch lexFile {
        case 18: return "PER"
        case 15: return "LOC"
        case 14: return "ORG"
        default: return "MISC"
        }
    }

    /// The definition and the example sentences of the gloss, in order. Examples are the
    /// double-quoted parts; the definition is the text before the first quote, without the
    /// separating `;`. Text after an example that is not itself quoted (an attribution such as
    /// `- Shakespeare`) is not a sentence and is left out.
    public var glossSentences: [String] {
        var out: [String] = []
        let parts = gloss.split(separator: "\"", omittingEmptySubsequences: false)
        let definition = parts.first.map { String($0) } ?? ""
        let trimmed = definition.trimmingCharacters(in: CharacterSet(charactersIn: " ;").union(.whitespaces))
        if !trimmed.isEmpty { out.append(trimmed) }
        // Quoted parts are the odd-numbered pieces; an unbalanced last quote is ignored.
        var i = 1
        while i + 1 < parts.count {
            let example = parts[i].trimmingCharacters(in: .whitespaces)
            if !example.isEmpty { out.append(example) }
            i += 2
        }
        return out
    }
}

/// A malformed WordNet file or a missing WordNet installation.
public struct WordNetError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    /// Quoted fields come from the file, so control characters are escaped (one-line rule).
    public var description: String { oneLineMessage(message) }
}

/// Reads WordNet 3.0 database files (`data.noun`, `data.verb`, `data.adj`, `data.adv`) as
/// installed by Debian's `wordnet-base` in `/usr/share/wordnet`.
///
/// ```swift
/// let synsets = try WordNetReader.read(file: "/usr/share/wordnet/data.noun")
/// let people = synsets.filter { $0.isInstance && $0.entityType == "PER" }
/// ```
public enum WordNetReader {
    /// Where Debian's `wordnet-base` puts the database.
    public static let defaultDirectory = "/usr/share/wordnet"
    /// The four data files, in the order the builder reads them.
    public static let dataFiles = ["data.noun", "data.verb", "data.adj", "data.adv"]

    /// Reads every synset of one data file. License header lines (starting with spaces) are
    /// skipped; any other line that does not parse is an error naming `file:line`.
    public static func read(file path: String) throws -> [WordNetSynset] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WordNetError("\(path): cannot read the WordNet data file; install it with `apt-get install wordnet-base` or pass --wordnet DIR")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WordNetError("\(path): not UTF-8 text; is this a WordNet 3.0 data file?")
        }
        return try parse(text, path: path)
    }

    /// Parses data-file content; `path` is used in messages.
    public static func parse(_ text: String, path: String) throws -> [WordNetSynset] {
        var out: [WordNetSynset] = []
        var lineNumber = 0
        for raw in text.textLines() {
            lineNumber += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty || line.hasPrefix(" ") { continue }
            out.append(try parseLine(line, path: path, lineNumber: lineNumber))
        }
        return out
    }

    /// Parses one synset line.
    static func parseLine(_ line: Substring, path: String, lineNumber: Int) throws -> WordNetSynset {
        func bad(_ what: String) -> WordNetError {
            WordNetError("\(path):\(lineNumber): \(what); expected a WordNet 3.0 synset line (offset lex_filenum ss_type w_cnt words… p_cnt pointers… | gloss)")
        }
        let bar = line.firstIndex(of: "|")
        let head = bar.map { line[..<$0] } ?? line
        let gloss = bar.map { String(line[line.index(after: $0)...]).trimmingCharacters(in: .whitespaces) } ?? ""
        let fields = head.split(separator: " ")
        guard fields.count >= 6 else { throw bad("too few fields") }
        guard let offset = Int(fields[0]) else { throw bad("offset '\(fields[0])' is not a number") }
        guard let lexFile = Int(fields[1]), (0...44).contains(lexFile) else { throw bad("lex_filenum '\(fields[1])' is not 00…44") }
        guard fields[2].count == 1, let pos = fields[2].first, "nvasr".contains(pos) else { throw bad("ss_type '\(fields[2])' is not n, v, a, s or r") }
        guard let wordCount = Int(fields[3], radix: 16), wordCount >= 1 else { throw bad("w_cnt '\(fields[3])' is not a positive hexadecimal count") }
        var i = 4
        var words: [String] = []
        for _ in 0..<wordCount {
            guard i + 1 < fields.count else { throw bad("the line ends inside its \(wordCount) words") }
            words.append(cleanWord(fields[i]))
            i += 2
        }
        guard i < fields.count, let pointerCount = Int(fields[i]), pointerCount >= 0 else { throw bad("missing or bad p_cnt") }
        i += 1
        // Compared by division: 4 × a p_cnt near Int.max would overflow (and trap).
        guard pointerCount <= (fields.count - i) / 4 else { throw bad("the line ends inside its \(pointerCount) pointers") }
        var isInstance = false
        for p in 0..<pointerCount where fields[i + 4 * p] == "@i" { isInstance = true }
        return WordNetSynset(offset: offset, lexFile: lexFile, partOfSpeech: pos, words: words, isInstance: isInstance, gloss: gloss)
    }

    /// Reads an index file (`index.noun`): each lemma (lower case, `_` for spaces) with its
    /// synset offsets in WordNet's sense order, most frequent sense first.
    public static func readIndex(file path: String) throws -> [String: [Int]] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw WordNetError("\(path): cannot read the WordNet index file; install it with `apt-get install wordnet-base` or pass --wordnet DIR")
        }
        return try parseIndex(text, path: path)
    }

    /// Parses index-file content (`lemma pos synset_cnt p_cnt [ptr_symbol…] sense_cnt
    /// tagsense_cnt offset…`); `path` is used in messages.
    public static func parseIndex(_ text: String, path: String) throws -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        var lineNumber = 0
        for raw in text.textLines() {
            lineNumber += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty || line.hasPrefix(" ") { continue }
            let f = line.split(separator: " ")
            func bad(_ what: String) -> WordNetError {
                WordNetError("\(path):\(lineNumber): \(what); expected a WordNet 3.0 index line (lemma pos synset_cnt p_cnt pointers… sense_cnt tagsense_cnt offsets…)")
            }
            // Counts larger than the line are refused before the sum below could overflow.
            guard f.count >= 4, let synsets = Int(f[2]), let pointers = Int(f[3]), synsets >= 1, pointers >= 0,
                  synsets <= f.count, pointers <= f.count else { throw bad("bad counts") }
            let first = 4 + pointers + 2
            guard f.count == first + synsets else { throw bad("\(f.count) fields where the counts say \(first + synsets)") }
            var offsets: [Int] = []
            for o in f[first...] {
                guard let v = Int(o) else { throw bad("offset '\(o)' is not a number") }
                offsets.append(v)
            }
            out[String(f[0])] = offsets
        }
        return out
    }

    /// `Albert_Einstein` → `Albert Einstein`; adjective markers (`(p)`, `(a)`, `(ip)`) dropped.
    static func cleanWord(_ field: Substring) -> String {
        var w = String(field)
        for marker in ["(p)", "(a)", "(ip)"] where w.hasSuffix(marker) { w.removeLast(marker.count) }
        return w.replacingOccurrences(of: "_", with: " ")
    }
}

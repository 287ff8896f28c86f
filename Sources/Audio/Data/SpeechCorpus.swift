import Core
import Foundation

/// The real speech with transcripts that Debian ships, as one corpus of utterances:
///
/// - **Asterisk prompts** (`asterisk-core-sounds-en-wav` + `asterisk-core-sounds-en`): ~560 telephone
///   prompts (8 kHz, one female speaker) and the index `core-sounds-en.txt` of lines
///   `name: transcript` (`name` may hold a folder, `digits/1`). Entries whose transcript holds a
///   bracketed description (`[ascending tones]`, `[this is a simple beep tone]`) are not speech, or
///   not only speech, and are dropped; so are index entries without a sound file.
/// - **pocketsphinx test data** (`pocketsphinx-testdata`): LibriVox and `cards` utterances with a
///   Sphinx `transcription` file of lines `<s> words </s> (id)`.
///
/// A seeded split by prompt gives train / validation / test manifests in `SpeechManifest`'s format
/// (`path<TAB>transcript`).
public struct SpeechCorpus: Sendable {
    public struct Utterance: Sendable, Equatable {
        /// A stable name: `asterisk/<prompt name>` or `pocketsphinx/<set>/<id>`.
        public var id: String
        public var audio: URL
        public var transcript: String
    }

    public var utterances: [Utterance] = []
    /// Index entries dropped, with the reason (for the build report).
    public var dropped: [(id: String, reason: String)] = []

    public init() {}

    /// Where Debian installs the pieces.
    public static let asteriskIndex = URL(fileURLWithPath: "/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
    public static let asteriskSounds = URL(fileURLWithPath: "/usr/share/asterisk/sounds/en_US_f_Allison")
    public static let pocketsphinxData = URL(fileURLWithPath: "/usr/share/pocketsphinx/test/data")

    /// Adds the prompts of an Asterisk index text (already decompressed) whose sound files are `sounds/<name>.wav`.
    public mutating func addAsteriskPrompts(index text: String, sounds: URL) {
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix(";") { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let transcript = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            let id = "asterisk/" + name
            if transcript.isEmpty { dropped.append((id, "empty transcript")); continue }
            // Asterisk marks non-speech both ways: "[tone]" and "<beep decending>".
            if transcript.contains(where: { "[]<>".contains($0) }) { dropped.append((id, "bracketed non-speech")); continue }
            let audio = sounds.appendingPathComponent(name + ".wav")
            guard FileManager.default.fileExists(atPath: audio.path) else { dropped.append((id, "no sound file")); continue }
            utterances.append(Utterance(id: id, audio: audio, transcript: transcript))
        }
    }

    /// Adds a Sphinx test set: `folder/transcription` lines `<s> words </s> (id)` (or `words (id)`)
    /// with audio `folder/<id>.wav`.
    public mutating func addSphinxSet(folder: URL, transcription: String, name: String) {
        for raw in transcription.split(whereSeparator: \.isNewline) {
            guard let parsed = Self.parseSphinxLine(String(raw)) else { continue }
            let id = "pocketsphinx/\(name)/\(parsed.id)"
            let audio = folder.appendingPathComponent(parsed.id + ".wav")
            guard FileManager.default.fileExists(atPath: audio.path) else { dropped.append((id, "no sound file")); continue }
            guard !parsed.words.isEmpty else { dropped.append((id, "empty transcript")); continue }
            utterances.append(Utterance(id: id, audio: audio, transcript: parsed.words))
        }
    }

    /// `<s> ten of clubs  </s> (001)` → ("ten of clubs", "001"); nil for a line without `(id)`.
    public static func parseSphinxLine(_ line: String) -> (words: String, id: String)? {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard t.hasSuffix(")"), let open = t.lastIndex(of: "(") else { return nil }
        let id = String(t[t.index(after: open)..<t.index(before: t.endIndex)]).trimmingCharacters(in: .whitespaces)
        guard !id.isEmpty else { return nil }
        let words = t[..<open].split(separator: " ").filter { $0 != "<s>" && $0 != "</s>" && $0 != "<sil>" }
        return (words.joined(separator: " "), id)
    }

    /// The corpus from Debian's installed packages; `gunzip` decompresses the Asterisk index (the
    /// caller passes Text's gzip reader, which Audio does not depend on).
    public static func debian(gunzip: (URL) throws -> String) throws -> SpeechCorpus {
        var corpus = SpeechCorpus()
        guard FileManager.default.fileExists(atPath: asteriskIndex.path) else {
            throw SpeechManifestError("\(asteriskIndex.path): not found; install the Debian packages asterisk-core-sounds-en and asterisk-core-sounds-en-wav (make deps)")
        }
        corpus.addAsteriskPrompts(index: try gunzip(asteriskIndex), sounds: asteriskSounds)
        for set in ["librivox", "cards"] {
            let folder = pocketsphinxData.appendingPathComponent(set)
            let file = folder.appendingPathComponent(set == "cards" ? "cards.transcription" : "transcription")
            if let text = try? String(contentsOf: file, encoding: .utf8) {
                corpus.addSphinxSet(folder: folder, transcription: text, name: set)
            }
        }
        return corpus
    }

    /// A seeded split by utterance id: each id lands in exactly one part; `valFraction` and
    /// `testFraction` of the utterances (rounded) go to validation and test, the rest to training.
    /// The order inside each part is the corpus order, so the manifests read like the index.
    public func split(valFraction: Double, testFraction: Double, seed: UInt64) -> (train: [Utterance], val: [Utterance], test: [Utterance]) {
        let ids = utterances.map(\.id).sorted()
        var rng = SplitMix64(seed: seed)
        let order = ids.shuffledSeeded(&rng)
        let nTest = Int((Double(ids.count) * testFraction).rounded()), nVal = Int((Double(ids.count) * valFraction).rounded())
        let testIDs = Set(order.prefix(nTest)), valIDs = Set(order.dropFirst(nTest).prefix(nVal))
        return (utterances.filter { !testIDs.contains($0.id) && !valIDs.contains($0.id) },
                utterances.filter { valIDs.contains($0.id) }, utterances.filter { testIDs.contains($0.id) })
    }

    /// Writes `path<TAB>transcript` lines (absolute paths; tabs and newlines in transcripts become
    /// spaces) atomically.
    public static func writeManifest(_ items: [Utterance], to url: URL) throws {
        var text = "# PEFTKit speech manifest: path<TAB>transcript (\(items.count) utterances)\n"
        for u in items {
            let clean = u.transcript.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
            text += "\(u.audio.path)\t\(clean)\n"
        }
        try AtomicFile.write(Array(text.utf8), to: url, createDirectories: true)
    }
}

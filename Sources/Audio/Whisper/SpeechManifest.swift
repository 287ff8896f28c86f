import Core
import Foundation

/// Utterances with reference transcripts for evaluation, from either
/// - a manifest file: one `path<TAB>transcript` per line (paths relative to the manifest's folder;
///   blank lines and lines starting with `#` are skipped), the format `bench/peer/whisper_peer.py` reads; or
/// - a folder (searched recursively) where each audio file `x.wav|flac|ogg` has a transcript `x.txt`
///   beside it (LRS3's layout: a first line `Text:  WORDS` is understood too). Audio without a
///   transcript is skipped with a warning.
public struct SpeechManifest: Sendable {
    public struct Item: Sendable, Equatable {
        public var audio: URL
        public var transcript: String
    }

    public var items: [Item]
    /// Audio files skipped for lack of a transcript (folder mode).
    public var skipped: [URL] = []

    public static let audioExtensions: Set<String> = ["wav", "flac", "ogg", "oga"]

    /// Reads a manifest file or a folder. Throws naming the file and line for a malformed line, a
    /// listed audio file that does not exist, or an empty result.
    public init(contentsOf url: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw SpeechManifestError("\(url.path): no such file or folder; pass a manifest (path<TAB>transcript lines) or a folder of audio + .txt files")
        }
        items = []
        if isDirectory.boolValue { try readFolder(url) } else { try readManifest(url) }
        guard !items.isEmpty else {
            throw SpeechManifestError("\(url.path): no utterances with transcripts found\(skipped.isEmpty ? "" : " (\(skipped.count) audio files had no .txt beside them)")")
        }
    }

    /// Parses a manifest file's bytes (path<TAB>transcript lines); `url` names it in messages and
    /// is where relative audio paths start.
    public init(manifestData data: Data, url: URL) throws {
        items = []
        guard let text = String(data: data, encoding: .utf8) else {
            throw SpeechManifestError("\(url.path): cannot read as UTF-8 text (not valid UTF-8)")
        }
        try parseManifest(text, url: url)
        guard !items.isEmpty else { throw SpeechManifestError("\(url.path): no utterances with transcripts found") }
    }

    mutating func readManifest(_ url: URL) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw SpeechManifestError("\(url.path): cannot read as UTF-8 text (\(error.localizedDescription))")
        }
        try parseManifest(text, url: url)
    }

    mutating func parseManifest(_ text: String, url: URL) throws {
        let base = url.deletingLastPathComponent()
        // "\r\n" is one Character in Swift, so splitting at newlines also handles Windows files.
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            guard let tab = line.firstIndex(of: "\t") else {
                throw SpeechManifestError("\(url.path): line \(n + 1): expected path<TAB>transcript, found no tab")
            }
            let path = String(line[..<tab])
            let audio = path.utf8.first == UInt8(ascii: "/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path)
            guard FileManager.default.fileExists(atPath: audio.path) else {
                throw SpeechManifestError("\(url.path): line \(n + 1): audio file \(audio.path) does not exist")
            }
            items.append(Item(audio: audio, transcript: String(line[line.index(after: tab)...])))
        }
    }

    mutating func readFolder(_ url: URL) throws {
        let fm = FileManager.default
        guard let walker = fm.enumerator(at: url, includingPropertiesForKeys: nil) else {
            throw SpeechManifestError("\(url.path): cannot list the folder")
        }
        var audio: [URL] = []
        for case let f as URL in walker where Self.audioExtensions.contains(f.pathExtension.lowercased()) { audio.append(f) }
        for a in audio.sorted(by: { $0.path < $1.path }) {
            let txt = a.deletingPathExtension().appendingPathExtension("txt")
            guard let text = try? String(contentsOf: txt, encoding: .utf8) else { skipped.append(a); continue }
            items.append(Item(audio: a, transcript: Self.transcript(fromText: text)))
        }
    }

    /// The transcript in a `.txt` file: LRS3's `Text:` line when present, else the whole text.
    static func transcript(fromText text: String) -> String {
        for line in text.textLines(omittingEmpty: true) where line.hasPrefix("Text:") {
            return line.dropFirst(5).trimmingCharacters(in: .whitespaces)
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

public struct SpeechManifestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

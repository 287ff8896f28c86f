import Core
import Foundation

// Loading CLIP's tokenizer from OpenAI's merges file (`bpe_simple_vocab_16e6.txt.gz`, gzip or
// plain) or from a Hugging Face CLIP folder (`vocab.json` + `merges.txt`).

extension CLIPTokenizer {
    /// Name of OpenAI's merges file.
    public static let openAIMergesFileName = "bpe_simple_vocab_16e6.txt.gz"

    /// Loads OpenAI's merges file (`.gz` or already decompressed). The vocabulary is built from it:
    /// byte characters, the same with `</w>`, the first 48,894 merges, then the two special tokens.
    public convenience init(mergesFile url: URL, cleaner: CLIPTextCleaner = CLIPTextCleaner()) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        try self.init(mergesData: [UInt8](data), source: url.path, gzipped: url.pathExtension == "gz", cleaner: cleaner)
    }

    /// Loads the merges file's bytes (gzip-compressed when `gzipped`); `path` names it in messages.
    public convenience init(mergesData raw: [UInt8], source path: String, gzipped: Bool, cleaner: CLIPTextCleaner = CLIPTextCleaner()) throws {
        let url = URL(fileURLWithPath: path)
        let bytes = gzipped ? try Gzip.decompress(raw, source: path) : raw
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError.invalid(path: url.path, problem: "the merges file is not valid UTF-8")
        }
        // Line 0 is the "#version" header; exactly the next 48,894 lines are merges (the file has more).
        let lines = text.split(separator: "\n", maxSplits: Self.mergeCount + 1, omittingEmptySubsequences: false)
        guard lines.count > Self.mergeCount else {
            throw TokenizerError.invalid(path: url.path, problem: "has \(max(lines.count - 1, 0)) merge lines, CLIP needs \(Self.mergeCount)")
        }
        let merges = lines[1...Self.mergeCount].map(String.init)
        let symbols = ByteLevelAlphabet.symbols
        var vocabulary = symbols + symbols.map { $0 + "</w>" }
        vocabulary += merges.map { $0.replacingOccurrences(of: " ", with: "") }
        vocabulary += ["<|startoftext|>", "<|endoftext|>"]
        try self.init(vocabulary: vocabulary, merges: merges, cleaner: cleaner, source: url.path)
    }

    /// Loads a Hugging Face CLIP tokenizer: `vocab.json` (token → id) and `merges.txt`.
    public convenience init(vocabularyFile: URL, mergesFile: URL, cleaner: CLIPTextCleaner = CLIPTextCleaner()) throws {
        let map = try JSONConfig(contentsOf: vocabularyFile).object
        var vocabulary = [String?](repeating: nil, count: map.count)
        for (token, value) in map.entries {
            guard case .int(let n) = value, n >= 0, Int(n) < map.count, vocabulary[Int(n)] == nil else {
                throw TokenizerError.invalid(path: vocabularyFile.path, problem: "entry '\(token)' has id \(value), expected distinct ids 0..<\(map.count)")
            }
            vocabulary[Int(n)] = token
        }
        let text: String
        do { text = try String(contentsOf: mergesFile, encoding: .utf8) } catch {
            throw TokenizerError.unreadable(path: mergesFile.path, reason: error.localizedDescription)
        }
        let merges = text.split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
            .filter { !$0.hasPrefix("#version") }
        try self.init(vocabulary: vocabulary.map { $0 ?? "" }, merges: merges, cleaner: cleaner, source: mergesFile.path)
    }

    /// A tokenizer from a model folder: Hugging Face's `vocab.json` + `merges.txt`, or OpenAI's
    /// merges file (`bpe_simple_vocab_16e6.txt.gz` or `.txt`).
    public convenience init(folder: URL) throws {
        let fm = FileManager.default
        let vocab = folder.appendingPathComponent("vocab.json"), merges = folder.appendingPathComponent("merges.txt")
        if fm.fileExists(atPath: vocab.path) && fm.fileExists(atPath: merges.path) {
            try self.init(vocabularyFile: vocab, mergesFile: merges)
            return
        }
        for name in [Self.openAIMergesFileName, "bpe_simple_vocab_16e6.txt"] {
            let url = folder.appendingPathComponent(name)
            if fm.fileExists(atPath: url.path) { try self.init(mergesFile: url); return }
        }
        throw TokenizerError.invalid(path: folder.path, problem: "no vocab.json + merges.txt and no \(Self.openAIMergesFileName); point at a Hugging Face CLIP folder")
    }
}

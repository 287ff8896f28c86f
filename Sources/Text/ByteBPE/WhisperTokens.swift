import Foundation

/// Whisper's special tokens, found by name in a loaded tokenizer. tiny.en: `<|endoftext|>` 50256,
/// `<|startoftranscript|>` 50257, languages 50258…50356, `<|translate|>` 50357, `<|transcribe|>` 50358,
/// `<|startoflm|>` 50359, `<|startofprev|>` 50360, `<|nocaptions|>` 50361, `<|notimestamps|>` 50362,
/// timestamps `<|0.00|>`…`<|30.00|>` from 50363 in 0.02 s steps.
public struct WhisperTokens: Sendable, Equatable {
    public var endOfText: Int
    public var startOfTranscript: Int
    public var translate: Int?
    public var transcribe: Int?
    public var noSpeech: Int?
    public var noTimestamps: Int
    /// First timestamp id (`<|0.00|>`): the id after `<|notimestamps|>`.
    public var timestampBegin: Int { noTimestamps + 1 }
    /// Language code → id (`en` → 50258).
    public var languages: [String: Int]

    /// Number of timestamp tokens (0.00 … 30.00 s).
    public static let timestampCount = 1501

    /// Reads the ids from `tokenizer`; throws naming the first missing one.
    public init(_ tokenizer: ByteBPETokenizer, source: String = "tokenizer") throws {
        func need(_ name: String) throws -> Int {
            guard let id = tokenizer.addedTokens[name] else { throw TokenizerError.missingSpecialToken(path: source, token: name) }
            return id
        }
        endOfText = try need("<|endoftext|>")
        startOfTranscript = try need("<|startoftranscript|>")
        noTimestamps = try need("<|notimestamps|>")
        translate = tokenizer.addedTokens["<|translate|>"]
        transcribe = tokenizer.addedTokens["<|transcribe|>"]
        noSpeech = tokenizer.addedTokens["<|nocaptions|>"] ?? tokenizer.addedTokens["<|nospeech|>"]
        var langs: [String: Int] = [:]
        for (content, id) in tokenizer.addedTokens where id > startOfTranscript && id < (translate ?? noTimestamps) {
            if content.hasPrefix("<|") && content.hasSuffix("|>") { langs[String(content.dropFirst(2).dropLast(2))] = id }
        }
        languages = langs
    }

    /// Text of timestamp token `i` (0-based): `<|0.00|>`, `<|0.02|>`, …
    public static func timestampText(_ i: Int) -> String {
        let hundredths = i * 2
        return "<|\(hundredths / 100).\(String(format: "%02d", hundredths % 100))|>"
    }
}

extension ByteBPETokenizer {
    /// Whisper's tokenizer from a model folder's `tokenizer.json`, with the timestamp tokens the
    /// file lacks added as special tokens (so every id the model can output decodes).
    public static func whisper(folder: URL) throws -> (tokenizer: ByteBPETokenizer, tokens: WhisperTokens) {
        let url = folder.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TokenizerError.unreadable(path: url.path, reason: "no tokenizer.json in the Whisper model folder")
        }
        let tok = try ByteBPETokenizer(tokenizerJSON: url)
        let ids = try WhisperTokens(tok, source: url.path)
        var extra: [Int: String] = [:]
        for i in 0..<WhisperTokens.timestampCount { extra[ids.timestampBegin + i] = WhisperTokens.timestampText(i) }
        tok.addExtraTokens(extra)
        return (tok, ids)
    }
}

import Foundation

/// OpenAI CLIP's byte-level BPE tokenizer (`clip.tokenize`): clean the text (`CLIPTextCleaner`),
/// split it into pieces (`CLIPPreTokenizer`), write each piece's UTF-8 bytes in the byte alphabet
/// with `</w>` on its last character, merge adjacent pairs by rank, and wrap the ids in
/// `<|startoftext|>` … `<|endoftext|>` in a 77-token context padded with 0.
///
/// Vocabulary (ids by position): the 256 byte characters, the same with `</w>`, one entry per merge
/// (the two symbols joined) in merge order, then `<|startoftext|>` (49406) and `<|endoftext|>`
/// (49407). Only the first 48,894 merges of OpenAI's file take part.
///
/// Padding is 0, as OpenAI's `clip.tokenize` pads; CLIP's text tower pools at the highest id
/// (the end token), so the padding never matters (Hugging Face's tokenizer pads with 49407).
///
/// ```swift
/// let tok = try CLIPTokenizer(mergesFile: url)       // bpe_simple_vocab_16e6.txt.gz
/// tok.encode("a photo of a cat")                      // [320, 1125, 539, 320, 2368]
/// try tok.tokenize("a photo of a cat")                // 77 ids: 49406, 320, …, 49407, 0, 0, …
/// ```
public final class CLIPTokenizer: Sendable {
    /// OpenAI CLIP's text context.
    public static let contextLength = 77
    /// Merges of OpenAI's file that belong to the vocabulary (49408 − 256 − 256 − 2).
    public static let mergeCount = 49152 - 256 - 2

    /// Token strings by id.
    public let vocabulary: [String]
    /// Id of each token string.
    public let ids: [String: Int]
    public let startID: Int
    public let endID: Int
    public let padID = 0
    public let cleaner: CLIPTextCleaner
    /// (left id, right id) → (rank, merged id).
    let merges: [UInt64: (rank: Int, merged: Int)]
    /// Id of each byte's character, plain and with `</w>`.
    let byteIDs: [Int], finalByteIDs: [Int]

    /// Builds the tokenizer from a vocabulary and an ordered merge list (`"a b"` pairs).
    /// `source` names the files in errors.
    public init(vocabulary: [String], merges mergeLines: [String], cleaner: CLIPTextCleaner = CLIPTextCleaner(), source: String) throws {
        var ids: [String: Int] = [:]
        for (i, token) in vocabulary.enumerated() { ids[token] = i }  // a repeated string keeps its last id, as Python's dict does
        func id(_ token: String, _ place: String) throws -> Int {
            guard let i = ids[token] else { throw TokenizerError.invalid(path: source, problem: "\(place): '\(token)' is not in the vocabulary") }
            return i
        }
        let alphabet = ByteLevelAlphabet.character.map { String(Character($0)) }
        byteIDs = try alphabet.map { try id($0, "byte alphabet") }
        finalByteIDs = try alphabet.map { try id($0 + "</w>", "byte alphabet") }
        var table: [UInt64: (rank: Int, merged: Int)] = [:]
        for (rank, line) in mergeLines.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError.invalid(path: source, problem: "merge \(rank + 1) \"\(line)\" is not two symbols separated by one space")
            }
            let (a, b) = (String(parts[0]), String(parts[1]))
            let key = UInt64(try id(a, "merge \(rank + 1)")) << 32 | UInt64(try id(b, "merge \(rank + 1)"))
            if table[key] == nil { table[key] = (rank, try id(a + b, "merge \(rank + 1)")) }
        }
        self.vocabulary = vocabulary
        self.ids = ids
        self.merges = table
        self.startID = try id("<|startoftext|>", "special tokens")
        self.endID = try id("<|endoftext|>", "special tokens")
        self.cleaner = cleaner
    }

    /// The byte-level BPE symbols of one pre-token (vocabulary strings).
    public func bpe(_ piece: String) -> [String] { bpeIDs(piece).map { vocabulary[$0] } }

    /// The ids of one pre-token.
    func bpeIDs(_ piece: String) -> [Int] {
        if piece == "<|startoftext|>" { return [startID] }
        if piece == "<|endoftext|>" { return [endID] }
        let bytes = Array(piece.utf8)
        guard !bytes.isEmpty else { return [] }
        var word = bytes.indices.map { $0 == bytes.count - 1 ? finalByteIDs[Int(bytes[$0])] : byteIDs[Int(bytes[$0])] }
        while word.count > 1 {
            // The adjacent pair with the lowest rank…
            var best: (rank: Int, left: Int, right: Int, merged: Int)?
            for k in 0..<(word.count - 1) {
                if let m = merges[UInt64(word[k]) << 32 | UInt64(word[k + 1])], best.map({ m.rank < $0.rank }) ?? true {
                    best = (m.rank, word[k], word[k + 1], m.merged)
                }
            }
            guard let b = best else { break }
            // …merged at every occurrence, left to right.
            var merged: [Int] = []
            merged.reserveCapacity(word.count)
            var k = 0
            while k < word.count {
                if k + 1 < word.count && word[k] == b.left && word[k + 1] == b.right {
                    merged.append(b.merged)
                    k += 2
                } else {
                    merged.append(word[k])
                    k += 1
                }
            }
            word = merged
        }
        return word
    }

    /// Token ids of `text` without start/end tokens (cleaned, pre-tokenised, merged).
    public func encode(_ text: String) -> [Int] {
        CLIPPreTokenizer.split(cleaner.clean(text)).flatMap { bpeIDs($0) }
    }

    /// `clip.tokenize` for one text: `[start] + ids + [end]`, padded with 0 to `contextLength`. Longer
    /// inputs are cut to `contextLength` with the end token kept last when `truncate`, otherwise an
    /// error says how long the text is.
    public func tokenize(_ text: String, contextLength: Int = CLIPTokenizer.contextLength, truncate: Bool = true) throws -> [Int] {
        precondition(contextLength >= 2, "CLIPTokenizer: context length \(contextLength) cannot hold the start and end tokens")
        var out = [startID] + encode(text) + [endID]
        if out.count > contextLength {
            guard truncate else {
                throw TokenizerError.invalid(path: "(text)", problem: "the text is \(out.count) tokens long, more than the context of \(contextLength); shorten it or pass truncate: true")
            }
            out.removeLast(out.count - contextLength)
            out[contextLength - 1] = endID
        }
        return out + [Int](repeating: padID, count: contextLength - out.count)
    }

    /// `tokenize` for a batch, with attention masks (1 up to and including the end token).
    public func batch(_ texts: [String], contextLength: Int = CLIPTokenizer.contextLength,
                      truncate: Bool = true) throws -> (ids: [[Int]], attentionMask: [[Int]]) {
        let ids = try texts.map { try tokenize($0, contextLength: contextLength, truncate: truncate) }
        let masks = ids.map { row -> [Int] in
            let end = row.firstIndex(of: endID) ?? row.count - 1
            return row.indices.map { $0 <= end ? 1 : 0 }
        }
        return (ids, masks)
    }

    /// Text of `ids` as OpenAI's `decode` gives it: tokens joined, bytes decoded as UTF-8 (invalid
    /// sequences become U+FFFD), each `</w>` a space. Padding (0 after the end token) is not removed.
    public func decode(_ ids: [Int]) -> String {
        let text = ids.compactMap { $0 >= 0 && $0 < vocabulary.count ? vocabulary[$0] : nil }.joined()
        return Self.replacingWordEnds(String(decoding: ByteLevelAlphabet.decode(text), as: UTF8.self))
    }

    /// Every `</w>` → a space, matched on scalars: `String.replacingOccurrences` works on grapheme
    /// clusters and misses a `</w>` whose `>` carries a following combining mark.
    static func replacingWordEnds(_ text: String) -> String {
        let marker = Array("</w>".unicodeScalars)
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if i + marker.count <= s.count && Array(s[i..<(i + marker.count)]) == marker {
                out.append(" ")
                i += marker.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(out)
    }
}

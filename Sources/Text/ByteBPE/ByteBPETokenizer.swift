import Core
import Foundation

/// A byte-level BPE tokenizer as Hugging Face `tokenizers` runs GPT-2-style `tokenizer.json` files
/// (GPT-2, Whisper, RoBERTa without a prefix space): added tokens are matched in the raw text
/// first; the rest is split by `GPT2PreTokenizer`, each piece's UTF-8 bytes are written in
/// `ByteLevelAlphabet` (shared with the CLIP tokenizer) and merged by BPE ranks. Every byte has a base token, so any string can be
/// encoded (there is no unknown token). Decoding joins the tokens and maps the alphabet back to
/// bytes; invalid UTF-8 (a cut multi-byte character) becomes U+FFFD, never an error.
///
/// ```swift
/// let tok = try ByteBPETokenizer(tokenizerJSON: URL(fileURLWithPath: ".../tokenizer.json"))
/// tok.encode(" one")          // [530]
/// tok.decode([352, 13])       // " 1."
/// ```
public final class ByteBPETokenizer: @unchecked Sendable {
    /// Token string (in the byte alphabet) → id, base vocabulary only.
    public let vocabulary: [String: Int]
    /// Added (special) tokens: content → id, matched in raw text before pre-tokenization.
    public let addedTokens: [String: Int]
    /// Ids of added tokens marked special (dropped by `decode(skipSpecialTokens: true)`).
    public let specialIDs: Set<Int>
    /// Extra id → text entries that are not in tokenizer.json (Whisper's timestamp tokens); special.
    public private(set) var extraTokens: [Int: String] = [:]
    /// `encode(addSpecialTokens: true)` wraps the ids as `prefix + ids + suffix` (the template).
    public let templatePrefix: [Int], templateSuffix: [Int]
    let ranks: [Pair: Int]
    let idToToken: [Int: String]
    /// Added tokens grouped by first character, longest first (leftmost-longest matching).
    let addedByFirst: [Character: [(String, Int)]]
    private var cache: [Substring: [Int]] = [:]
    private let lock = NSLock()

    struct Pair: Hashable { let a: String, b: String }

    /// Builds a tokenizer from its parts. `merges` are in rank order.
    public init(vocabulary: [String: Int], merges: [(String, String)], addedTokens: [(content: String, id: Int, special: Bool)],
                templatePrefix: [Int] = [], templateSuffix: [Int] = [], source: String = "tokenizer") throws {
        self.vocabulary = vocabulary
        var r: [Pair: Int] = [:]
        for (i, m) in merges.enumerated() where r[Pair(a: m.0, b: m.1)] == nil { r[Pair(a: m.0, b: m.1)] = i }
        ranks = r
        for b in 0..<256 where vocabulary[String(Character(ByteLevelAlphabet.character[b]))] == nil {
            throw TokenizerError.invalid(path: source, problem: "the vocabulary lacks the base token for byte \(b) ('\(ByteLevelAlphabet.character[b])'); it is not a byte-level BPE vocabulary")
        }
        var inverse: [Int: String] = [:]
        for (t, id) in vocabulary { inverse[id] = t }
        var added: [String: Int] = [:], special = Set<Int>()
        var byFirst: [Character: [(String, Int)]] = [:]
        for t in addedTokens where !t.content.isEmpty {
            added[t.content] = t.id
            if t.special { special.insert(t.id) }
            inverse[t.id] = t.content
            byFirst[t.content.first!, default: []].append((t.content, t.id))
        }
        for k in byFirst.keys { byFirst[k]!.sort { $0.0.count > $1.0.count } }
        self.addedTokens = added
        specialIDs = special
        addedByFirst = byFirst
        idToToken = inverse
        self.templatePrefix = templatePrefix
        self.templateSuffix = templateSuffix
    }

    /// Number of ids with a text (base + added + extra).
    public var count: Int { idToToken.count + extraTokens.count }

    /// Adds special tokens that the file does not list (e.g. Whisper's timestamps); existing ids win.
    public func addExtraTokens(_ tokens: [Int: String]) {
        for (id, text) in tokens where idToToken[id] == nil { extraTokens[id] = text }
    }

    /// The id of a token string (base, added or extra), if any.
    public func id(of token: String) -> Int? {
        addedTokens[token] ?? vocabulary[token] ?? extraTokens.first { $0.value == token }?.key
    }

    /// The token string of `id` (alphabet form for base tokens), if any.
    public func token(of id: Int) -> String? { idToToken[id] ?? extraTokens[id] }

    // MARK: - Encoding

    /// Token ids of `text`; with `addSpecialTokens` wrapped by the file's template.
    public func encode(_ text: String, addSpecialTokens: Bool = false) -> [Int] {
        var ids: [Int] = []
        for segment in splitAddedTokens(text) {
            switch segment {
            case let .added(id): ids.append(id)
            case let .text(t): for piece in GPT2PreTokenizer.split(t) { ids += bpe(piece) }
            }
        }
        return addSpecialTokens ? templatePrefix + ids + templateSuffix : ids
    }

    /// Token strings of `text` (alphabet form), without the template.
    public func tokenize(_ text: String) -> [String] { encode(text).map { token(of: $0) ?? "" } }

    enum Segment { case text(Substring), added(Int) }

    /// Raw text cut at every added-token occurrence (leftmost, then longest).
    func splitAddedTokens(_ text: String) -> [Segment] {
        guard !addedByFirst.isEmpty else { return [.text(text[...])] }
        var out: [Segment] = []
        var segmentStart = text.startIndex, i = text.startIndex
        while i < text.endIndex {
            if let candidates = addedByFirst[text[i]],
               let hit = candidates.first(where: { text[i...].hasPrefix($0.0) }) {
                if segmentStart < i { out.append(.text(text[segmentStart..<i])) }
                out.append(.added(hit.1))
                i = text.index(i, offsetBy: hit.0.count)
                segmentStart = i
            } else {
                i = text.index(after: i)
            }
        }
        if segmentStart < text.endIndex { out.append(.text(text[segmentStart...])) }
        return out
    }

    /// BPE of one pre-token: start from its byte symbols and repeatedly merge the adjacent pair
    /// of lowest rank (leftmost first among equal ranks) until no ranked pair remains.
    func bpe(_ piece: Substring) -> [Int] {
        lock.lock()
        if let hit = cache[piece] { lock.unlock(); return hit }
        lock.unlock()
        // One symbol per byte (each alphabet character is a single scalar).
        var symbols = ByteLevelAlphabet.encode(piece.utf8).unicodeScalars.map { String(Character($0)) }
        while symbols.count > 1 {
            var best = Int.max, at = -1
            for j in 0..<(symbols.count - 1) {
                if let r = ranks[Pair(a: symbols[j], b: symbols[j + 1])], r < best { best = r; at = j }
            }
            if at < 0 { break }
            let merged = symbols[at] + symbols[at + 1]
            // Merge every occurrence of this pair, left to right (as GPT-2's reference `bpe`).
            let (a, b) = (symbols[at], symbols[at + 1])
            var next: [String] = []
            next.reserveCapacity(symbols.count)
            var j = 0
            while j < symbols.count {
                if j + 1 < symbols.count && symbols[j] == a && symbols[j + 1] == b {
                    next.append(merged); j += 2
                } else {
                    next.append(symbols[j]); j += 1
                }
            }
            symbols = next
        }
        // Every merge result is in the vocabulary of a consistent file; a symbol that is not
        // (a hand-edited file) falls back to its bytes, which always are.
        var ids: [Int] = []
        for s in symbols {
            if let id = vocabulary[s] { ids.append(id) } else {
                for u in s.unicodeScalars { ids.append(vocabulary[String(Character(u))]!) }
            }
        }
        lock.lock()
        if cache.count < 100_000 { cache[piece] = ids }
        lock.unlock()
        return ids
    }

    // MARK: - Decoding

    /// Text of `ids`. Special tokens are written as their content unless `skipSpecialTokens`; ids
    /// with no entry are skipped (they cannot come from this tokenizer).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if let extra = extraTokens[id] {
                if !skipSpecialTokens { bytes += Array(extra.utf8) }
                continue
            }
            guard let t = idToToken[id] else { continue }
            if specialIDs.contains(id) && skipSpecialTokens { continue }
            if addedTokens[t] == id { bytes += Array(t.utf8) } else { bytes += ByteLevelAlphabet.decode(t) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The model inputs for one sequence (or sequence pair), as Hugging Face's `Encoding`.
public struct Encoding: Sendable, Equatable {
    /// Token ids, with `[CLS]`/`[SEP]` when special tokens were added, then padding.
    public var ids: [Int]
    /// Token strings (vocabulary entries) of `ids`.
    public var tokens: [String]
    /// Segment ids: 0 for the first sequence (and its `[CLS]`/`[SEP]`), 1 for the pair's second.
    public var typeIDs: [Int]
    /// 1 for real tokens (including specials), 0 for padding.
    public var attentionMask: [Int]
    /// 1 for `[CLS]`/`[SEP]`/padding, 0 for tokens that come from the text.
    public var specialTokensMask: [Int]
    /// For each token the index of the word it came from (nil for specials and padding). For
    /// pre-split input the word is the caller's word; for raw text it is the pre-token
    /// (whitespace/punctuation split) index.
    public var wordIDs: [Int?]
    /// For each token which input sequence it came from: 0, 1, or nil for specials and padding.
    public var sequenceIDs: [Int?]

    /// Number of positions (tokens + padding).
    public var count: Int { ids.count }

    public init(
        ids: [Int], tokens: [String], typeIDs: [Int], attentionMask: [Int], specialTokensMask: [Int],
        wordIDs: [Int?], sequenceIDs: [Int?]
    ) {
        self.ids = ids
        self.tokens = tokens
        self.typeIDs = typeIDs
        self.attentionMask = attentionMask
        self.specialTokensMask = specialTokensMask
        self.wordIDs = wordIDs
        self.sequenceIDs = sequenceIDs
    }

    /// Appends padding on the right up to `length` positions (no-op when already as long).
    public mutating func pad(to length: Int, padID: Int, padToken: String, padTypeID: Int = 0) {
        let n = length - count
        guard n > 0 else { return }
        ids += Array(repeating: padID, count: n)
        tokens += Array(repeating: padToken, count: n)
        typeIDs += Array(repeating: padTypeID, count: n)
        attentionMask += Array(repeating: 0, count: n)
        specialTokensMask += Array(repeating: 1, count: n)
        wordIDs += Array(repeating: nil, count: n)
        sequenceIDs += Array(repeating: nil, count: n)
    }
}

/// How to shorten inputs longer than the model accepts. `maxLength` counts the special tokens.
public struct Truncation: Sendable, Equatable {
    /// Which sequence of a pair loses tokens.
    public enum Strategy: Sendable, Equatable {
        /// Take from the longer sequence until both are equal, then from both (HF default).
        case longestFirst
        /// Only the first sequence is shortened.
        case onlyFirst
        /// Only the second sequence is shortened.
        case onlySecond
    }

    public var maxLength: Int
    public var strategy: Strategy

    public init(maxLength: Int, strategy: Strategy = .longestFirst) {
        self.maxLength = maxLength
        self.strategy = strategy
    }

    /// Lengths to keep for sequences of lengths `a` and `b` (b = 0 for a single sequence) when
    /// `budget` content tokens fit. Mirrors `tokenizers`' LongestFirst rule: when both are long,
    /// the budget is halved and the originally longer sequence gets the odd token.
    func keptLengths(_ a: Int, _ b: Int, budget: Int) -> (Int, Int) {
        let budget = max(budget, 0)
        guard a + b > budget else { return (a, b) }
        switch strategy {
        case .onlyFirst: return (max(budget - b, 0), b)
        case .onlySecond: return (a, max(budget - a, 0))
        case .longestFirst:
            let swap = a > b
            let short = swap ? b : a
            var keepShort = short
            var keepLong = short > budget ? short : max(short, budget - short)
            if keepShort + keepLong > budget {
                keepShort = budget / 2
                keepLong = keepShort + budget % 2
            }
            let long = swap ? a : b
            keepShort = min(keepShort, short)
            keepLong = min(keepLong, long)
            return swap ? (keepLong, keepShort) : (keepShort, keepLong)
        }
    }
}

/// How to pad a batch to a rectangle (always on the right, as BERT expects).
public struct Padding: Sendable, Equatable {
    /// Target length rule.
    public enum Length: Sendable, Equatable {
        /// The longest encoding of the batch.
        case longest
        /// A fixed length; an encoding already longer is left as is and the batch pads to it.
        case fixed(Int)
    }

    public var length: Length
    /// Round the padded length up to a multiple of this (e.g. 8), when set.
    public var multipleOf: Int?

    public init(_ length: Length = .longest, multipleOf: Int? = nil) {
        self.length = length
        self.multipleOf = multipleOf
    }

    /// Padded length for a batch whose longest encoding has `longest` positions.
    public func target(longest: Int) -> Int {
        var n = longest
        if case let .fixed(f) = length { n = max(n, f) }
        if let m = multipleOf, m > 1, n % m != 0 { n += m - n % m }
        return n
    }
}

/// A padded batch in row-major `[batchSize, sequenceLength]` layout, ready to become tensors.
public struct EncodedBatch: Sendable, Equatable {
    public let batchSize: Int
    public let sequenceLength: Int
    /// `[batchSize * sequenceLength]` token ids.
    public let inputIDs: [Int]
    /// `[batchSize * sequenceLength]` 1/0 attention mask.
    public let attentionMask: [Int]
    /// `[batchSize * sequenceLength]` segment ids.
    public let tokenTypeIDs: [Int]
    /// The padded per-row encodings (word ids, tokens, …).
    public let encodings: [Encoding]

    /// Pads `encodings` with `padding` and flattens them.
    public init(_ encodings: [Encoding], padding: Padding = Padding(), padID: Int, padToken: String) {
        let target = padding.target(longest: encodings.map(\.count).max() ?? 0)
        let padded = encodings.map { e -> Encoding in
            var e = e
            e.pad(to: target, padID: padID, padToken: padToken)
            return e
        }
        self.batchSize = padded.count
        self.sequenceLength = target
        self.inputIDs = padded.flatMap(\.ids)
        self.attentionMask = padded.flatMap(\.attentionMask)
        self.tokenTypeIDs = padded.flatMap(\.typeIDs)
        self.encodings = padded
    }
}

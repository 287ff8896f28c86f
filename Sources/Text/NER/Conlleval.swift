import Foundation

/// The CoNLL shared-task scorer `conlleval.pl` (version 2004-01-26, default options), restated:
/// the same chunk boundaries, counts and report text, byte for byte.
///
/// Differences from seqeval worth knowing: conlleval knows no `S-` prefix (so `S-PER S-PER` is
/// one continuing chunk) and does not end a chunk at a `B-` right after an `E-`; on IOB1/IOB2
/// input it agrees with seqeval's default mode. Sentences are given directly, so `-DOCSTART-`
/// lines (which conlleval.pl counts as tokens) do not enter the token count.
public struct Conlleval: Sendable, Equatable {
    /// Counts for one chunk type.
    public struct TypeCounts: Sendable, Equatable {
        public var gold = 0, predicted = 0, correct = 0
    }

    /// Tokens processed (sentence breaks excluded).
    public private(set) var tokens = 0
    /// Tokens whose predicted tag equals the gold tag.
    public private(set) var correctTags = 0
    /// Chunks in the gold tags.
    public private(set) var goldChunks = 0
    /// Chunks in the predicted tags.
    public private(set) var predictedChunks = 0
    /// Predicted chunks that match a gold chunk.
    public var correctChunks: Int { closedCorrect + (inCorrect ? 1 : 0) }
    /// Counts per chunk type.
    public var perType: [String: TypeCounts] {
        var t = counts
        if inCorrect { t[String(lastGold.type), default: TypeCounts()].correct += 1 }
        return t
    }

    // Scanner state, carried across sentences as conlleval.pl carries it across lines. A chunk
    // still open at the end counts as correct if it matched so far (conlleval's final check).
    private var closedCorrect = 0
    private var counts: [String: TypeCounts] = [:]
    private var lastGold: (tag: Substring, type: Substring) = ("O", "")
    private var lastPred: (tag: Substring, type: Substring) = ("O", "")
    private var inCorrect = false

    public static func == (a: Conlleval, b: Conlleval) -> Bool {
        a.tokens == b.tokens && a.correctTags == b.correctTags && a.goldChunks == b.goldChunks
            && a.predictedChunks == b.predictedChunks && a.correctChunks == b.correctChunks && a.perType == b.perType
    }

    public init() {}

    /// Scores sentences of (gold, predicted) tags; throws when a pair's lengths differ.
    public init(gold: [[String]], predicted: [[String]]) throws {
        guard gold.count == predicted.count else {
            throw EntityMetricsError.sentenceCountMismatch(gold: gold.count, predicted: predicted.count)
        }
        for (s, (g, p)) in zip(gold, predicted).enumerated() {
            guard g.count == p.count else { throw EntityMetricsError.lengthMismatch(sentence: s, gold: g.count, predicted: p.count) }
            add(gold: g, predicted: p)
        }
    }

    /// conlleval's reading of a tag: the part before the first hyphen, and the rest.
    private static func split(_ tag: String) -> (tag: Substring, type: Substring) {
        guard let dash = tag.firstIndex(of: "-") else { return (Substring(tag), "") }
        return (tag[..<dash], tag[tag.index(after: dash)...])
    }

    private static func endOfChunk(_ prev: (tag: Substring, type: Substring), _ cur: (tag: Substring, type: Substring)) -> Bool {
        switch (prev.tag, cur.tag) {
        case ("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O"): return true
        case ("]", _), ("[", _): return true
        default: return prev.tag != "O" && prev.tag != "." && prev.type != cur.type
        }
    }

    private static func startOfChunk(_ prev: (tag: Substring, type: Substring), _ cur: (tag: Substring, type: Substring)) -> Bool {
        switch (prev.tag, cur.tag) {
        case ("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E"): return true
        case (_, "["), (_, "]"): return true
        default: return cur.tag != "O" && cur.tag != "." && prev.type != cur.type
        }
    }

    /// Adds one sentence. As in conlleval.pl the sentence is followed by a boundary line that
    /// reads as `O O`, which closes any open chunk.
    public mutating func add(gold: [String], predicted: [String]) {
        let n = min(gold.count, predicted.count)
        for i in 0...n {
            let isBoundary = i == n
            let g: (tag: Substring, type: Substring) = isBoundary ? ("O", "") : Self.split(gold[i])
            let p: (tag: Substring, type: Substring) = isBoundary ? ("O", "") : Self.split(predicted[i])
            let goldEnds = Self.endOfChunk(lastGold, g), predEnds = Self.endOfChunk(lastPred, p)
            let goldStarts = Self.startOfChunk(lastGold, g), predStarts = Self.startOfChunk(lastPred, p)
            if inCorrect {
                if goldEnds && predEnds && lastGold.type == lastPred.type {
                    inCorrect = false
                    closedCorrect += 1
                    counts[String(lastGold.type), default: TypeCounts()].correct += 1
                } else if goldEnds != predEnds || g.type != p.type {
                    inCorrect = false
                }
            }
            if goldStarts && predStarts && g.type == p.type { inCorrect = true }
            if goldStarts {
                goldChunks += 1
                counts[String(g.type), default: TypeCounts()].gold += 1
            }
            if predStarts {
                predictedChunks += 1
                counts[String(p.type), default: TypeCounts()].predicted += 1
            }
            if !isBoundary {
                if g == p { correctTags += 1 }
                tokens += 1
            }
            lastGold = g
            lastPred = p
        }
    }

    /// Overall precision, recall and FB1 in percent (0 when undefined), as conlleval prints them.
    public var precision: Double { predictedChunks > 0 ? 100 * Double(correctChunks) / Double(predictedChunks) : 0 }
    public var recall: Double { goldChunks > 0 ? 100 * Double(correctChunks) / Double(goldChunks) : 0 }
    public var fb1: Double { precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0 }
    /// Token accuracy in percent.
    public var accuracy: Double { tokens > 0 ? 100 * Double(correctTags) / Double(tokens) : 0 }

    /// The report text conlleval.pl prints (types in byte order; the last number on a type line is
    /// the count of predicted chunks of that type).
    public func report() -> String {
        var out = "processed \(tokens) tokens with \(goldChunks) phrases; found: \(predictedChunks) phrases; correct: \(correctChunks).\n"
        if tokens > 0 {
            out += "accuracy: \(f(accuracy))%; precision: \(f(precision))%; recall: \(f(recall))%; FB1: \(f(fb1))\n"
        }
        let table = perType
        for type in table.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let c = table[type] ?? TypeCounts()
            let p = c.predicted > 0 ? 100 * Double(c.correct) / Double(c.predicted) : 0
            let r = c.gold > 0 ? 100 * Double(c.correct) / Double(c.gold) : 0
            let fb = p + r > 0 ? 2 * p * r / (p + r) : 0
            let name = String(repeating: " ", count: max(17 - type.count, 0)) + type
            out += "\(name): precision: \(f(p))%; recall: \(f(r))%; FB1: \(f(fb))  \(c.predicted)\n"
        }
        return out
    }

    /// Perl's `%6.2f`.
    private func f(_ x: Double) -> String { String(format: "%6.2f", x) }
}

import Foundation

/// True positives, false positives and false negatives over edits, with ERRANT's P, R and F.
public struct EditCounts: Sendable, Equatable, Codable {
    public var tp: Int, fp: Int, fn: Int
    public init(tp: Int = 0, fp: Int = 0, fn: Int = 0) { self.tp = tp; self.fp = fp; self.fn = fn }

    public static func + (a: EditCounts, b: EditCounts) -> EditCounts { .init(tp: a.tp + b.tp, fp: a.fp + b.fp, fn: a.fn + b.fn) }

    /// `errant_compare`'s conventions: P = 1 when FP = 0 (even with TP = 0), R = 1 when FN = 0,
    /// F = 0 when P + R = 0. So a sentence with nothing to do and nothing done scores 1.
    public var precision: Double { fp == 0 ? 1.0 : Double(tp) / Double(tp + fp) }
    public var recall: Double { fn == 0 ? 1.0 : Double(tp) / Double(tp + fn) }
    public func f(beta: Double = 0.5) -> Double {
        let p = precision, r = recall
        guard p + r != 0 else { return 0 }
        let b2 = beta * beta
        return (1 + b2) * p * r / (b2 * p + r)
    }
    public var f05: Double { f(beta: 0.5) }
}

/// How `errant_compare` turns edits into comparable keys.
public enum ERRANTMode: String, Sendable, CaseIterable, Codable {
    /// Span-based correction (the default): (start, end, correction).
    case cs
    /// Span-based detection (`-ds`): (start, end).
    case ds
    /// Token-based detection (`-dt`): one (k, k+1) per source token an edit covers; an
    /// insertion at k counts as (k, k+1).
    case dt
}

/// `errant_compare` (ERRANT 3.0.2) re-implemented: per-sentence best reference choice with its
/// 4-decimal rounding, and corpus totals.
///
/// Each sentence is scored in order against the running totals: every (hypothesis coder,
/// reference coder) pair is tried, its F is that of totals + local counts **rounded to 4
/// decimals** (Python `round`), and a pair replaces the best when F is higher, or equal with
/// more TP, or equal TP with fewer FP, or equal FP with fewer FN. The first pair wins a full tie.
///
/// ```swift
/// let scorer = ERRANTScorer(mode: .cs)
/// let result = try scorer.score(hypotheses: hypM2, references: refM2)
/// print(result.counts.f05)
/// ```
public struct ERRANTScorer: Sendable {
    public var mode: ERRANTMode
    public var beta: Double

    public init(mode: ERRANTMode = .cs, beta: Double = 0.5) { self.mode = mode; self.beta = beta }

    struct Key: Hashable {
        var start: Int, end: Int
        var correction: ScalarString?
    }

    /// One coder's edits as keys with their categories, in first-seen order.
    struct CoderEdits {
        var categories: [Key: [String]] = [:]
    }

    /// One tried (hypothesis coder, reference coder) pair of a sentence.
    public struct Pair: Sendable, Equatable {
        public var hypothesisCoder: Int, referenceCoder: Int
        public var counts: EditCounts
    }

    /// The result for one sentence.
    public struct SentenceResult: Sendable, Equatable {
        /// Every pair tried, in order, with its local counts.
        public var pairs: [Pair]
        public var chosenHypothesis: Int, chosenReference: Int
        /// The chosen pair's local counts.
        public var counts: EditCounts
    }

    /// Corpus totals and the per-sentence choices.
    public struct CorpusResult: Sendable, Equatable {
        public var counts: EditCounts
        public var sentences: [SentenceResult]
        public var chosenReferences: [Int] { sentences.map(\.chosenReference) }
    }

    /// Keys per coder as `process_edits` builds them. A block without annotations gets an
    /// implicit noop for coder 0; `UNK` edits are dropped in `cs` mode (the coder still exists).
    func coderEdits(_ sentence: M2Sentence) -> [(coder: Int, edits: CoderEdits)] {
        var annotations = sentence.annotations
        if annotations.isEmpty { annotations = [.noop(coder: 0)] }
        var order: [Int] = []
        var dicts: [Int: CoderEdits] = [:]
        func add(_ key: Key, _ category: String, _ coder: Int) { dicts[coder]!.categories[key, default: []].append(category) }
        for a in annotations {
            if dicts[a.coder] == nil { dicts[a.coder] = CoderEdits(); order.append(a.coder) }
            switch mode {
            case .cs:
                if a.type == "UNK" { continue }
                add(Key(start: a.start, end: a.end, correction: ScalarString(a.correction)), a.type, a.coder)
            case .ds:
                add(Key(start: a.start, end: a.end, correction: nil), a.type, a.coder)
            case .dt:
                if a.start == -1 {
                    add(Key(start: -1, end: -1, correction: nil), a.type, a.coder)
                } else if a.start == a.end {
                    add(Key(start: a.start, end: a.start + 1, correction: nil), a.type, a.coder)
                } else {
                    for k in a.start..<a.end { add(Key(start: k, end: k + 1, correction: nil), a.type, a.coder) }
                }
            }
        }
        return order.map { ($0, dicts[$0]!) }
    }

    /// `compareEdits`: TP counts the reference's category list per matched key, FP the
    /// hypothesis's, FN the reference's; noop keys never count.
    static func compare(_ hyp: CoderEdits, _ ref: CoderEdits) -> EditCounts {
        var c = EditCounts()
        for (key, cats) in hyp.categories {
            if cats.first == "noop" { continue }
            if let r = ref.categories[key] { c.tp += r.count } else { c.fp += cats.count }
        }
        for (key, cats) in ref.categories {
            if cats.first == "noop" { continue }
            if hyp.categories[key] == nil { c.fn += cats.count }
        }
        return c
    }

    /// Python's `round(x, 4)`: the double nearest the correctly rounded 4-decimal value (glibc
    /// `printf` rounds the exact binary value, ties to even, as CPython does).
    static func round4(_ x: Double) -> Double { Double(String(format: "%.4f", x)) ?? x }

    /// Scores one sentence against running `totals`.
    public func score(hypothesis: M2Sentence, reference: M2Sentence, totals: EditCounts = EditCounts()) -> SentenceResult {
        let hyps = coderEdits(hypothesis), refs = coderEdits(reference)
        var result = SentenceResult(pairs: [], chosenHypothesis: hyps.first?.coder ?? 0, chosenReference: refs.first?.coder ?? 0, counts: EditCounts())
        // A reference of a single "NA" edit marks a sentence that could not be annotated.
        if refs.count == 1, refs[0].edits.categories.count == 1, refs[0].edits.categories.values.first?.first == "NA" {
            return result
        }
        var best = EditCounts(), bestF = -1.0
        for (h, he) in hyps {
            for (r, re) in refs {
                let local = Self.compare(he, re)
                result.pairs.append(Pair(hypothesisCoder: h, referenceCoder: r, counts: local))
                let f = Self.round4((totals + local).f(beta: beta))
                if f > bestF || (f == bestF && local.tp > best.tp) || (f == bestF && local.tp == best.tp && local.fp < best.fp)
                    || (f == bestF && local.tp == best.tp && local.fp == best.fp && local.fn < best.fn) {
                    best = local; bestF = f
                    result.chosenHypothesis = h; result.chosenReference = r
                }
            }
        }
        result.counts = best
        return result
    }

    /// Scores a corpus: hypotheses and references sentence by sentence, in order.
    public func score(hypotheses: [M2Sentence], references: [M2Sentence]) throws -> CorpusResult {
        guard hypotheses.count == references.count else {
            throw GECError.mismatch("the hypothesis M2 has \(hypotheses.count) sentences and the reference M2 \(references.count); they must be the same sentences in the same order")
        }
        var totals = EditCounts()
        var sentences: [SentenceResult] = []
        sentences.reserveCapacity(hypotheses.count)
        for (h, r) in zip(hypotheses, references) {
            let s = score(hypothesis: h, reference: r, totals: totals)
            totals = totals + s.counts
            sentences.append(s)
        }
        return CorpusResult(counts: totals, sentences: sentences)
    }
}

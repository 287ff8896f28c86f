/// Counts of the M² scorer: hypothesis edits that match a gold edit, hypothesis edits, gold edits.
public struct MaxMatchCounts: Sendable, Equatable, Codable {
    public var correct: Int, proposed: Int, gold: Int
    public init(correct: Int = 0, proposed: Int = 0, gold: Int = 0) { self.correct = correct; self.proposed = proposed; self.gold = gold }

    public static func + (a: MaxMatchCounts, b: MaxMatchCounts) -> MaxMatchCounts {
        .init(correct: a.correct + b.correct, proposed: a.proposed + b.proposed, gold: a.gold + b.gold)
    }

    /// P = correct / proposed, 1 when nothing is proposed.
    public var precision: Double { proposed == 0 ? 1.0 : Double(correct) / Double(proposed) }
    /// R = correct / gold, 1 when there is no gold edit.
    public var recall: Double { gold == 0 ? 1.0 : Double(correct) / Double(gold) }
    /// F_β from P and R as the scorer prints it (0 when P + R = 0).
    public func f(beta: Double = 0.5) -> Double {
        let p = precision, r = recall, b2 = beta * beta
        let d = b2 * p + r
        return d == 0 ? 0 : (1.0 + b2) * p * r / d
    }
    public var f05: Double { f(beta: 0.5) }

    /// F_β straight from the counts, as the scorer compares annotators (1 when the denominator is
    /// 0, which needs correct = 0).
    func countF(beta: Double) -> Double {
        let b2 = beta * beta
        let d = b2 * Double(gold) + Double(proposed)
        return d == 0 ? 1.0 : (1 + b2) * Double(correct) / d
    }
}

/// The NUS M² scorer (MaxMatch; Dahlmeier & Ng, NAACL 2012) re-implemented: the hypothesis edits
/// are not extracted on their own but chosen, per annotator, as the path through the edit
/// lattice (`MaxMatchLattice`) that matches that annotator's gold edits best; the annotator that
/// gives the highest cumulative F is kept for the sentence.
///
/// Path choice: every lattice edge costs its length in steps; an edge whose edit equals a gold
/// edit (same start, end and original text, correction among the gold's `||` alternatives)
/// costs −|E| instead, and other non-noop edges cost an extra 0.001, so the shortest path takes
/// as many gold edits as it can and otherwise the fewest, smallest edits. Shortest path by
/// Bellman–Ford over the edge list in order (ties keep the first relaxation), then edits are
/// matched left to right against the gold list. Defaults are the tool's: `max_unchanged_words`
/// 2, β 0.5, case and whitespace edits counted.
///
/// ```swift
/// let gold = try M2File.read(path: "test.m2")
/// let r = try MaxMatchScorer().score(references: gold, hypotheses: lines)
/// print(r.counts.f05)
/// ```
public struct MaxMatchScorer: Sendable {
    public var beta: Double
    public var maxUnchangedWords: Int

    public init(beta: Double = 0.5, maxUnchangedWords: Int = 2) { self.beta = beta; self.maxUnchangedWords = maxUnchangedWords }

    /// One edit: source token span (end exclusive), original tokens and corrections, joined by one space.
    public struct Edit: Sendable, Equatable, CustomStringConvertible {
        public var start: Int, end: Int
        public var original: String
        /// A hypothesis edit has one correction; a gold edit lists its acceptable ones.
        public var corrections: [String]
        public init(start: Int, end: Int, original: String, corrections: [String]) {
            self.start = start; self.end = end; self.original = original; self.corrections = corrections
        }
        public var description: String { "\(start) \(end) \(original) → \(corrections.joined(separator: "||"))" }

        /// The edit without the unchanged tokens at its two ends (a lattice edit may carry up to
        /// `maxUnchangedWords` of them): how the scorer's verbose output shows an edit. Counting
        /// uses the edit as chosen, not this.
        public var shrunk: Edit {
            let o = GECTokens.split(original), c = GECTokens.split(corrections.first ?? "")
            var head = 0
            while head < min(o.count, c.count), GECTokens.same(o[head], c[head]) { head += 1 }
            var tail = 0
            while tail < min(o.count, c.count) - head, GECTokens.same(o[o.count - 1 - tail], c[c.count - 1 - tail]) { tail += 1 }
            return Edit(start: start + head, end: end - tail, original: o[head..<(o.count - tail)].joined(separator: " "),
                        corrections: [c[head..<(c.count - tail)].joined(separator: " ")])
        }

        func matches(_ gold: Edit) -> Bool {
            start == gold.start && end == gold.end && GECTokens.same(original, gold.original)
                && gold.corrections.contains { GECTokens.same($0, corrections.first ?? "") }
        }
    }

    public struct AnnotatorResult: Sendable, Equatable {
        public var annotator: Int
        public var counts: MaxMatchCounts
        /// The chosen hypothesis edits, left to right.
        public var edits: [Edit]
    }

    public struct SentenceResult: Sendable, Equatable {
        public var annotators: [AnnotatorResult]
        public var chosenAnnotator: Int
        public var counts: MaxMatchCounts
    }

    public struct CorpusResult: Sendable, Equatable {
        public var counts: MaxMatchCounts
        public var sentences: [SentenceResult]
    }

    /// Gold edits per annotator as the scorer loads an M2 block: ascending annotator ids (the
    /// order Python 2 iterates a dict of small integer keys); noop lines (`-1 -1` or type
    /// `noop`) give their annotator an empty set; `-NONE-` is the empty correction; a block
    /// without `A` lines is annotator 0 with no edits.
    public static func goldEdits(_ sentence: M2Sentence) -> [(annotator: Int, edits: [Edit])] {
        var byCoder: [Int: [Edit]] = [:]
        let n = sentence.tokens.count
        for a in sentence.annotations {
            var list = byCoder[a.coder] ?? []
            let start = a.type == "noop" ? -1 : a.start, end = a.type == "noop" ? -1 : a.end
            if start >= 0, end >= 0, start <= n, end <= n {
                let original = start < end ? sentence.tokens[start..<end].joined(separator: " ") : ""
                let corrections = a.correction.components(separatedBy: "||").map { $0 == "-NONE-" ? "" : GECTokens.strip($0) }
                list.append(Edit(start: start, end: end, original: original, corrections: corrections))
            }
            byCoder[a.coder] = list
        }
        if byCoder.isEmpty { byCoder[0] = [] }
        return byCoder.keys.sorted().map { ($0, byCoder[$0]!) }
    }

    /// Edge weights for one annotator (the reference's `set_weights`): gold-matching edges −|E|,
    /// other non-noop edges +0.001 (once per listing of the edge). Insertions at one position are
    /// walked from both ends so that a run of several gold insertions can be matched in order.
    static func weights(_ lattice: MaxMatchLattice, gold: [Edit]) -> [Int: Double] {
        let epsilon = 0.001
        var w = lattice.dist
        let negative = -Double(lattice.edges.count)
        struct Span: Hashable, Comparable {
            var s: Int, e: Int
            static func < (a: Span, b: Span) -> Bool { (a.s, a.e) < (b.s, b.e) }
        }
        var groups: [Span: [(from: Int, to: Int)]] = [:]
        for edge in lattice.edges {
            guard let e = lattice.edits[lattice.key(edge.from, edge.to)] else { continue }
            groups[Span(s: e.start, e: e.end), default: []].append(edge)
        }
        var goldBySpan: [Span: [Edit]] = [:]
        for g in gold { goldBySpan[Span(s: g.start, e: g.end), default: []].append(g) }
        func edit(_ edge: (from: Int, to: Int)) -> MaxMatchLattice.Edit { lattice.edits[lattice.key(edge.from, edge.to)]! }
        func asEdit(_ e: MaxMatchLattice.Edit) -> Edit { Edit(start: e.start, end: e.end, original: e.original, corrections: [e.correction]) }
        for span in groups.keys.sorted() {
            let list = groups[span]!.sorted { ($0.from, $0.to) < ($1.from, $1.to) }
            let golds = goldBySpan[span] ?? []
            if span.s != span.e {
                for edge in list {
                    let e = edit(edge), k = lattice.key(edge.from, edge.to)
                    if golds.contains(where: { asEdit(e).matches($0) }) { w[k] = negative }
                    else if e.kind != .noop { w[k]! += epsilon }
                }
                continue
            }
            // Insertions: two pointers over the sorted edges and over the gold list.
            var lptr = 0, rptr = list.count - 1, cur = 0
            var gl = 0, gr = golds.count - 1
            while lptr <= rptr {
                let edge = list[cur], e = edit(edge), k = lattice.key(edge.from, edge.to)
                let fromLeft = cur == lptr
                var matched = false
                if gl <= gr {
                    for i in (fromLeft ? Array(gl...gr) : Array((gl...gr).reversed())) where asEdit(e).matches(golds[i]) {
                        matched = true
                        w[k] = negative
                        if fromLeft { gl = i + 1 } else { gr = i - 1 }
                        break
                    }
                }
                if !matched && e.kind != .noop { w[k]! += epsilon }
                if matched {
                    if fromLeft {
                        lptr += 1
                        // Skip to the next insertion that continues the matched one's chain.
                        while lptr < list.count && list[lptr].from != list[cur].to {
                            w[lattice.key(list[lptr].from, list[lptr].to)]! += epsilon
                            lptr += 1
                        }
                        cur = lptr
                    } else {
                        rptr -= 1
                        while rptr >= 0 && list[rptr].to != list[cur].from {
                            w[lattice.key(list[rptr].from, list[rptr].to)]! += epsilon
                            rptr -= 1
                        }
                        cur = rptr
                    }
                } else if fromLeft {
                    lptr += 1; cur = rptr
                } else {
                    rptr -= 1; cur = lptr
                }
            }
        }
        return w
    }

    /// The shortest path from (0, 0) to the last cell by Bellman–Ford (passes over the edge list in
    /// order until nothing changes; strict improvement only), as its non-noop edits left to right.
    static func bestEdits(_ lattice: MaxMatchLattice, weights: [Int: Double]) -> [Edit] {
        var best: [Int: Double] = [:]
        var parent: [Int: Int] = [:]
        for v in lattice.vertices { best[v] = .infinity }
        best[0] = 0
        let edges = lattice.edges.map { ($0.from, $0.to, weights[lattice.key($0.from, $0.to)] ?? .infinity) }
        for _ in 0..<max(lattice.vertices.count - 1, 0) {
            var changed = false
            for (f, t, c) in edges {
                let candidate = (best[f] ?? .infinity) + c
                if candidate < (best[t] ?? .infinity) { best[t] = candidate; parent[t] = f; changed = true }
            }
            if !changed { break }
        }
        var out: [Edit] = []
        var v = lattice.end
        while let u = parent[v] {
            if let e = lattice.edits[lattice.key(u, v)], e.kind != .noop {
                out.append(Edit(start: e.start, end: e.end, original: e.original, corrections: [e.correction]))
            }
            v = u
        }
        return out.reversed()
    }

    /// Hypothesis edits (left to right) that match gold edits, the gold list scanned forward from
    /// after the last match; an edit counts once for every gold edit it matches in that scan.
    static func matchCount(_ edits: [Edit], gold: [Edit]) -> Int {
        var count = 0, last = 0
        for e in edits {
            let from = last
            for i in from..<gold.count where e.matches(gold[i]) {
                count += 1
                last = i + 1
            }
        }
        return count
    }

    /// One sentence against running `totals`: each annotator's best path, then the annotator with
    /// the highest cumulative F (unrounded), more cumulative correct, or smaller proposed + β²·gold.
    public func score(reference: M2Sentence, hypothesis: [String], totals: MaxMatchCounts = MaxMatchCounts()) -> SentenceResult {
        let lattice = MaxMatchLattice(source: reference.tokens, hypothesis: hypothesis, maxUnchangedWords: maxUnchangedWords)
        let b2 = beta * beta
        var result = SentenceResult(annotators: [], chosenAnnotator: -1, counts: MaxMatchCounts())
        var bestF = -1.0, bestCorrect = -1.0, bestCost = Double.infinity
        for (annotator, gold) in Self.goldEdits(reference) {
            let edits = Self.bestEdits(lattice, weights: Self.weights(lattice, gold: gold))
            let local = MaxMatchCounts(correct: Self.matchCount(edits, gold: gold), proposed: edits.count, gold: gold.count)
            result.annotators.append(AnnotatorResult(annotator: annotator, counts: local, edits: edits))
            let cum = totals + local
            let f = cum.countF(beta: beta), correct = Double(cum.correct), cost = Double(cum.proposed) + b2 * Double(cum.gold)
            if bestF < f || (bestF == f && bestCorrect < correct) || (bestF == f && bestCorrect == correct && bestCost > cost) {
                bestF = f; bestCorrect = correct; bestCost = cost
                result.chosenAnnotator = annotator
                result.counts = local
            }
        }
        return result
    }

    /// Scores hypothesis lines (whitespace-tokenised) against gold M2 blocks, in order.
    public func score(references: [M2Sentence], hypotheses: [[String]]) throws -> CorpusResult {
        guard references.count == hypotheses.count else {
            throw GECError.mismatch("the gold M2 has \(references.count) sentences and the hypothesis \(hypotheses.count) lines; give one corrected line per M2 block, in order")
        }
        var totals = MaxMatchCounts()
        var sentences: [SentenceResult] = []
        sentences.reserveCapacity(references.count)
        for (r, h) in zip(references, hypotheses) {
            let s = score(reference: r, hypothesis: h, totals: totals)
            totals = totals + s.counts
            sentences.append(s)
        }
        return CorpusResult(counts: totals, sentences: sentences)
    }
}

/// Recall (and precision) per error type, in `ErrorInjector`'s taxonomy, so a user sees what
/// the tagger can and cannot fix.
///
/// The embedded benchmark stores only (source, clean reference) pairs, so the type of each gold
/// edit is recovered from the edit itself (`classify`); every injected error type leaves a
/// distinct surface change, with one overlap: a verb that lost its third-person `-s` (the
/// injector's `SVA`) looks exactly like a noun that lost its plural `-s`, and both count as
/// `NOUN:NUM`. Auxiliary agreement (`is`/`are`…) is `SVA`. Edits that merge several errors, or
/// that no injected type makes, are `OTHER`.
///
/// A gold edit counts as recalled when the hypothesis makes the same edit (same source span, same
/// correction: ERRANT's `cs` match); a hypothesis edit is attributed to a type by the same rules,
/// so `proposed` / `correct` give the precision per type.
///
/// ```swift
/// let r = GECErrorTypes.recall(sources: src, hypotheses: hyp, references: refs)
/// print(r.table)
/// ```
public enum GECErrorTypes {
    /// The types in report order (`ErrorInjector.types` and `OTHER`).
    public static let order = ErrorInjector.types + ["OTHER"]

    static let articles: Set<String> = ["a", "an", "the"]

    /// The injector type of the edit turning source tokens `o` (at `start` in `source`) into `c`.
    public static func classify(_ o: [String], _ c: [String], source: [String], start: Int) -> String {
        let ol = o.map { $0.lowercased() }, cl = c.map { $0.lowercased() }
        if ol.isEmpty, cl.count == 1 {
            let w = cl[0]
            if w == "." || w == "," { return "PUNCT" }
            if articles.contains(w) { return "DET" }
            if ErrorInjector.functionWords.contains(w) { return "MISSING" }
            return "OTHER"
        }
        if cl.isEmpty, ol.count == 1 {
            // A doubled word: the deleted token repeats a neighbour.
            let before = start > 0 && start - 1 < source.count ? source[start - 1].lowercased() : nil
            let after = start + 1 < source.count ? source[start + 1].lowercased() : nil
            return before == ol[0] || after == ol[0] ? "DOUBLED" : "OTHER"
        }
        guard ol.count == 1, cl.count == 1 else { return "OTHER" }
        let a = ol[0], b = cl[0]
        if articles.contains(a), articles.contains(b) { return "DET" }
        if ErrorInjector.prepositions.contains(a), ErrorInjector.prepositions.contains(b) { return "PREP" }
        if ErrorInjector.agreement[a] == b { return "SVA" }
        if a + "s" == b || b + "s" == a { return "NOUN:NUM" }
        if a == b + "ing" { return "VERB:FORM" }
        return a == b ? "OTHER" : "SPELL"
    }

    /// Counts of one type.
    public struct Counts: Sendable, Equatable, Codable {
        /// Gold edits of the type, and how many of them the hypotheses made.
        public var gold = 0, recalled = 0
        /// Hypothesis edits of the type, and how many of them are gold edits.
        public var proposed = 0, correct = 0
        public init() {}
        public var recall: Double { gold == 0 ? 0 : Double(recalled) / Double(gold) }
        public var precision: Double { proposed == 0 ? 0 : Double(correct) / Double(proposed) }
    }

    /// Per-type counts over a corpus; a hypothesis sentence is compared with each sentence's first
    /// reference (the embedded benchmark has one).
    public struct Report: Sendable, Equatable, Codable {
        public var types: [String: Counts] = [:]
        public init() {}

        /// One line per type that occurs: `TYPE recalled/gold (R%)  correct/proposed (P%)`.
        public var table: String {
            var lines = ["type       recall            precision"]
            for t in GECErrorTypes.order {
                guard let c = types[t], c.gold + c.proposed > 0 else { continue }
                let r = c.gold > 0 ? "\(c.recalled)/\(c.gold) (\(Int((c.recall * 100).rounded()))%)" : "-"
                let p = c.proposed > 0 ? "\(c.correct)/\(c.proposed) (\(Int((c.precision * 100).rounded()))%)" : "-"
                lines.append(t.padding(toLength: 10, withPad: " ", startingAt: 0) + " " + r.padding(toLength: 17, withPad: " ", startingAt: 0) + " " + p)
            }
            return lines.joined(separator: "\n") + "\n"
        }

        /// A compact one-line form: `TYPE R%` for the types with gold edits.
        public var line: String {
            GECErrorTypes.order.compactMap { t in
                guard let c = types[t], c.gold > 0 else { return nil }
                return "\(t) \(c.recalled)/\(c.gold)"
            }.joined(separator: ", ")
        }

        public mutating func add(_ other: Report) {
            for (t, c) in other.types {
                var m = types[t] ?? Counts()
                m.gold += c.gold; m.recalled += c.recalled; m.proposed += c.proposed; m.correct += c.correct
                types[t] = m
            }
        }
    }

    /// Per-type recall and precision of `hypotheses` against `references` (whitespace tokens,
    /// edits as `errant_parallel -lev -merge all-merge` extracts them).
    public static func recall(sources: [String], hypotheses: [String], references: [[String]]) -> Report {
        var report = Report()
        for (i, s) in sources.enumerated() where i < hypotheses.count && i < references.count {
            guard let ref = references[i].first else { continue }
            let src = GECTokens.split(s)
            let gold = EditExtraction.edits(src, GECTokens.split(ref))
            let hyp = EditExtraction.edits(src, GECTokens.split(hypotheses[i]))
            func key(_ e: GECEdit) -> String { "\(e.oStart) \(e.oEnd) \(e.cStr)" }
            func type(_ e: GECEdit) -> String {
                classify(Array(src[e.oStart..<e.oEnd]), GECTokens.split(e.cStr), source: src, start: e.oStart)
            }
            let goldKeys = Set(gold.map(key)), hypKeys = Set(hyp.map(key))
            for e in gold {
                var c = report.types[type(e)] ?? Counts()
                c.gold += 1
                if hypKeys.contains(key(e)) { c.recalled += 1 }
                report.types[type(e)] = c
            }
            for e in hyp {
                var c = report.types[type(e)] ?? Counts()
                c.proposed += 1
                if goldKeys.contains(key(e)) { c.correct += 1 }
                report.types[type(e)] = c
            }
        }
        return report
    }
}

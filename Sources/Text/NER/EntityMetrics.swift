import Foundation

/// Precision, recall and F1 for one entity type or an average. Zero denominators give 0
/// (seqeval's default `zero_division`), so a type never predicted has precision 0.
public struct EntityScore: Sendable, Equatable {
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// Gold entities (seqeval's `support`).
    public var support: Int
    /// Predicted entities.
    public var predicted: Int
    /// Predicted entities that match a gold one exactly (type, start, end).
    public var correct: Int

    /// Scores from counts.
    public init(correct: Int, predicted: Int, support: Int) {
        self.correct = correct
        self.predicted = predicted
        self.support = support
        precision = predicted > 0 ? Double(correct) / Double(predicted) : 0
        recall = support > 0 ? Double(correct) / Double(support) : 0
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    /// An average (macro or weighted): the values are given, the counts are totals.
    public init(precision: Double, recall: Double, f1: Double, support: Int, predicted: Int, correct: Int) {
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
        self.predicted = predicted
        self.correct = correct
    }
}

/// Entity-level evaluation of a corpus, equal to seqeval 1.2.2's `classification_report` numbers.
public struct EntityReport: Sendable, Equatable {
    /// Per entity type, in code-point order; types that occur in gold or predictions.
    public var perType: [(type: String, score: EntityScore)]
    /// Micro average: entities counted over the whole corpus, all types together.
    public var micro: EntityScore
    /// Unweighted mean of the per-type precision, recall and F1.
    public var macro: EntityScore
    /// Per-type values weighted by support.
    public var weighted: EntityScore

    public static func == (a: EntityReport, b: EntityReport) -> Bool {
        a.perType.map(\.type) == b.perType.map(\.type) && a.perType.map(\.score) == b.perType.map(\.score)
            && a.micro == b.micro && a.macro == b.macro && a.weighted == b.weighted
    }

    /// Score of one type, if it occurs.
    public func score(of type: String) -> EntityScore? { perType.first { $0.type == type }?.score }

    /// Evaluates predicted against gold tag sequences (one array per sentence). Entities never
    /// cross sentences; an entity is correct only when type, start and end all match.
    public init(gold: [[String]], predicted: [[String]], mode: EntityMode = .lenient) throws {
        guard gold.count == predicted.count else {
            throw EntityMetricsError.sentenceCountMismatch(gold: gold.count, predicted: predicted.count)
        }
        var goldSet = Set<Key>(), predSet = Set<Key>()
        for (s, (g, p)) in zip(gold, predicted).enumerated() {
            guard g.count == p.count else { throw EntityMetricsError.lengthMismatch(sentence: s, gold: g.count, predicted: p.count) }
            for e in try EntityChunker.entities(g, mode: mode) { goldSet.insert(Key(sentence: s, span: e)) }
            for e in try EntityChunker.entities(p, mode: mode) { predSet.insert(Key(sentence: s, span: e)) }
        }
        let types = Set(goldSet.map(\.span.type)).union(predSet.map(\.span.type))
            .sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        var perType: [(type: String, score: EntityScore)] = []
        for t in types {
            let g = goldSet.filter { $0.span.type == t }, p = predSet.filter { $0.span.type == t }
            perType.append((t, EntityScore(correct: g.intersection(p).count, predicted: p.count, support: g.count)))
        }
        let micro = EntityScore(correct: goldSet.intersection(predSet).count, predicted: predSet.count, support: goldSet.count)
        let n = Double(max(perType.count, 1))
        let macro = EntityScore(
            precision: perType.reduce(0) { $0 + $1.score.precision } / n, recall: perType.reduce(0) { $0 + $1.score.recall } / n,
            f1: perType.reduce(0) { $0 + $1.score.f1 } / n, support: micro.support, predicted: micro.predicted, correct: micro.correct)
        let total = Double(micro.support)
        func weightedMean(_ value: (EntityScore) -> Double) -> Double {
            total > 0 ? perType.reduce(0) { $0 + value($1.score) * Double($1.score.support) } / total : 0
        }
        let weighted = EntityScore(
            precision: weightedMean(\.precision), recall: weightedMean(\.recall), f1: weightedMean(\.f1),
            support: micro.support, predicted: micro.predicted, correct: micro.correct)
        self.perType = perType
        self.micro = micro
        self.macro = macro
        self.weighted = weighted
    }

    private struct Key: Hashable {
        let sentence: Int
        let span: EntitySpan
    }

    /// A seqeval-style table: one row per type, then micro / macro / weighted averages.
    public func text(digits: Int = 4) -> String {
        let width = max(perType.map { $0.type.count }.max() ?? 0, "weighted avg".count)
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(w - s.count, 0)) + s }
        func row(_ name: String, _ s: EntityScore) -> String {
            let values = [s.precision, s.recall, s.f1].map { pad(String(format: "%.\(digits)f", $0), 9) }
            return pad(name, width) + " " + values.map { " " + $0 }.joined() + " " + pad(String(s.support), 9) + "\n"
        }
        var out = pad("", width) + " " + ["precision", "recall", "f1-score", "support"].map { " " + pad($0, 9) }.joined() + "\n\n"
        for (t, s) in perType { out += row(t, s) }
        out += "\n" + row("micro avg", micro) + row("macro avg", macro) + row("weighted avg", weighted)
        return out
    }
}

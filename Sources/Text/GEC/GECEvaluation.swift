/// Scores corrected sentences against references the way `errant_parallel -lev -merge all-merge`
/// then `errant_compare` would: edits extracted for the hypothesis and every reference, then
/// corpus P, R and F0.5 in the chosen mode.
///
/// ```swift
/// let s = try GECEvaluation.score(sources: src, hypotheses: hyp, references: refs)
/// print(s.counts.f05)
/// ```
public enum GECEvaluation {
    /// Hypothesis and reference M2 blocks for sentence lists (all token text whitespace-split).
    public static func m2(sources: [String], hypotheses: [String], references: [[String]]) throws -> (hyp: [M2Sentence], ref: [M2Sentence]) {
        guard sources.count == hypotheses.count, sources.count == references.count else {
            throw GECError.mismatch("\(sources.count) sources, \(hypotheses.count) hypotheses and \(references.count) reference lists; they must line up one to one")
        }
        if let i = references.firstIndex(where: \.isEmpty) {
            throw GECError.mismatch("sentence \(i + 1) has no reference; give at least one (the source itself when it is correct)")
        }
        let hyp = zip(sources, hypotheses).map { M2Sentence(source: $0, corrections: [$1]) }
        let ref = zip(sources, references).map { M2Sentence(source: $0, corrections: $1) }
        return (hyp, ref)
    }

    /// Corpus scoring (`cs` mode by default).
    public static func score(sources: [String], hypotheses: [String], references: [[String]],
                             mode: ERRANTMode = .cs, beta: Double = 0.5) throws -> ERRANTScorer.CorpusResult {
        let (h, r) = try m2(sources: sources, hypotheses: hypotheses, references: references)
        return try ERRANTScorer(mode: mode, beta: beta).score(hypotheses: h, references: r)
    }

    /// The M² scorer (MaxMatch) on the same sentences: gold edits from each reference as
    /// `errant_parallel -lev -merge all-merge` writes them (one annotator per reference).
    public static func maxMatch(sources: [String], hypotheses: [String], references: [[String]],
                                beta: Double = 0.5) throws -> MaxMatchScorer.CorpusResult {
        let (_, r) = try m2(sources: sources, hypotheses: hypotheses, references: references)
        return try MaxMatchScorer(beta: beta).score(references: r, hypotheses: hypotheses.map(GECTokens.split))
    }
}

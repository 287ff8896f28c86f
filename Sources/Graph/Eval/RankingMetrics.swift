/// How a rank treats candidates whose score equals the answer's.
public enum TieRule: String, CaseIterable, Sendable {
    /// `1 + #{score > answer}`: ties resolved in the answer's favour (the papers' `rank`).
    case optimistic
    /// `1 + #{score ≥ answer}` over the other candidates: ties count against the answer.
    case pessimistic
    /// Mean of the two: the expected rank under random tie-breaking (PyKEEN's default).
    case realistic
}

/// The rank of one true answer among the compared candidates, kept as counts so every tie
/// rule can be read off the same evaluation.
public struct AnswerRank: Sendable, Equatable {
    /// Compared candidates (answer excluded) scoring strictly higher than the answer.
    public var strictlyHigher: Int
    /// Compared candidates (answer excluded) scoring exactly the answer's score.
    public var tied: Int

    public init(strictlyHigher: Int, tied: Int) {
        self.strictlyHigher = strictlyHigher
        self.tied = tied
    }

    public var optimistic: Int { 1 + strictlyHigher }
    public var pessimistic: Int { 1 + strictlyHigher + tied }
    public var realistic: Double { Double(optimistic + pessimistic) / 2 }

    /// The rank under `rule` (fractional only for `.realistic`).
    public func value(_ rule: TieRule) -> Double {
        switch rule {
        case .optimistic: Double(optimistic)
        case .pessimistic: Double(pessimistic)
        case .realistic: realistic
        }
    }
}

/// Ranks `answer` among `scores` (higher = more plausible). Every candidate except the answer
/// is compared, minus the ids in `filtered` (the other known true answers); the answer itself
/// is never filtered even when `filtered` lists it. `filtered` must hold distinct ids.
/// A NaN answer score ranks last; NaN candidates never outrank anything.
public func rankAnswer(scores: UnsafeBufferPointer<Float>, answer: Int, filtered: [Int] = []) -> AnswerRank {
    let target = scores[answer]
    if target.isNaN {
        let others = scores.count - 1 - filtered.lazy.filter { $0 != answer }.count
        return AnswerRank(strictlyHigher: others, tied: 0)
    }
    var higher = 0, equal = 0
    for s in scores {
        if s > target { higher += 1 } else if s == target { equal += 1 }
    }
    equal -= 1  // the answer itself
    // Filtering removes candidates after counting: O(|filter|) instead of a masked copy.
    for e in filtered where e != answer {
        let s = scores[e]
        if s > target { higher -= 1 } else if s == target { equal -= 1 }
    }
    return AnswerRank(strictlyHigher: higher, tied: equal)
}

/// Array convenience for `rankAnswer(scores:answer:filtered:)`.
public func rankAnswer(scores: [Float], answer: Int, filtered: [Int] = []) -> AnswerRank {
    scores.withUnsafeBufferPointer { rankAnswer(scores: $0, answer: answer, filtered: filtered) }
}

/// Mean rank, MRR and Hits@k of a set of ranks under one tie rule.
public struct RankingSummary: Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    public var meanRank: Double
    public var mrr: Double
    /// `hits[k]` = fraction of ranks ≤ k (a realistic rank of 3.5 is not a hit at 3).
    public var hits: [Int: Double]

    public var description: String {
        let h = hits.keys.sorted().map { "H@\($0) \(fmt($0))" }.joined(separator: " ")
        return "MRR \(round4(mrr)) \(h) MR \(round4(meanRank)) (n=\(count))"
    }

    private func fmt(_ k: Int) -> String { round4(hits[k] ?? 0) }
}

func round4(_ x: Double) -> String {
    let r = (x * 10_000).rounded() / 10_000
    return "\(r)"
}

/// Collects answer ranks and summarises them under any tie rule.
///
/// ```swift
/// var acc = RankAccumulator()
/// acc.add(rankAnswer(scores: row, answer: a, filtered: known))
/// print(acc.summary(.realistic).mrr)
/// ```
public struct RankAccumulator: Sendable {
    public private(set) var ranks: [AnswerRank] = []
    /// The k of the Hits@k reported by `summary`.
    public var hitsAt: [Int]

    public init(hitsAt: [Int] = [1, 3, 10]) { self.hitsAt = hitsAt }

    public mutating func add(_ r: AnswerRank) { ranks.append(r) }
    public mutating func add(contentsOf other: RankAccumulator) { ranks += other.ranks }

    public var count: Int { ranks.count }

    /// Mean rank, MRR and Hits@k under `rule`; all zero when nothing was added.
    public func summary(_ rule: TieRule) -> RankingSummary {
        guard !ranks.isEmpty else {
            return RankingSummary(count: 0, meanRank: 0, mrr: 0, hits: Dictionary(uniqueKeysWithValues: hitsAt.map { ($0, 0) }))
        }
        var sumRank = 0.0, sumRecip = 0.0
        var hits = [Double](repeating: 0, count: hitsAt.count)
        for r in ranks {
            let v = r.value(rule)
            sumRank += v
            sumRecip += 1 / v
            for (i, k) in hitsAt.enumerated() where v <= Double(k) { hits[i] += 1 }
        }
        let n = Double(ranks.count)
        return RankingSummary(
            count: ranks.count, meanRank: sumRank / n, mrr: sumRecip / n,
            hits: Dictionary(uniqueKeysWithValues: zip(hitsAt, hits.map { $0 / n })))
    }
}

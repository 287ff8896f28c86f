/// One edit between a source sentence and a corrected one, in token offsets (end exclusive),
/// as ERRANT writes it: `o_str` / `c_str` are the tokens joined by one space (`""` for none).
public struct GECEdit: Sendable, Equatable, CustomStringConvertible {
    public var oStart: Int, oEnd: Int
    public var cStart: Int, cEnd: Int
    public var oStr: String, cStr: String
    /// An ERRANT-style error type (`M:`/`U:`/`R:` + a coarse class); see `EditExtraction.classify`.
    public var type: String

    public init(oStart: Int, oEnd: Int, cStart: Int, cEnd: Int, oStr: String, cStr: String, type: String) {
        self.oStart = oStart; self.oEnd = oEnd; self.cStart = cStart; self.cEnd = cEnd
        self.oStr = oStr; self.cStr = cStr; self.type = type
    }

    public var description: String { "\(oStart) \(oEnd) \(oStr) → \(cStr)" }
}

/// How runs of non-matching alignment operations become edits.
public enum EditMerge: String, Sendable, CaseIterable {
    /// Each maximal run of consecutive non-match operations is one edit (`-merge all-merge`).
    case allMerge = "all-merge"
    /// Every non-match operation is its own edit (`-merge all-split`).
    case allSplit = "all-split"
}

/// The result of extracting the edits of one source/correction pair.
public struct ExtractedEdits: Sendable, Equatable {
    /// The correction equals the source: ERRANT writes an explicit `noop` line for it.
    public var noop: Bool
    public var edits: [GECEdit]
}

/// Edit extraction as `errant_parallel -lev -merge all-merge` (or `all-split`) does it, without
/// any parser: a unit-cost Levenshtein alignment of whitespace tokens, then merging.
///
/// The alignment is ERRANT's `-lev` dynamic programme, tie-breaking included: equal tokens always
/// match; otherwise the costs are tried in the order substitute, insert, delete and the first
/// minimum wins. The backtrace follows the stored operation from the end, so
/// `the the dog → the dog` deletes token 0.
///
/// ```swift
/// let e = EditExtraction.extract(source: "He is good teacher .", correction: "He is a good teacher .")
/// // e.edits == [2 2 "" → "a"]
/// ```
public enum EditExtraction {
    /// One alignment operation: `M` match, `S` substitute, `I` insert, `D` delete, with the
    /// source range and correction range it covers.
    public struct Operation: Sendable, Equatable {
        public var op: Character
        public var oStart: Int, oEnd: Int, cStart: Int, cEnd: Int
    }

    /// The alignment of `source` to `correction` tokens and its unit-cost edit distance.
    public static func align(_ source: [String], _ correction: [String]) -> (ops: [Operation], distance: Int) {
        let n = source.count, m = correction.count
        let width = m + 1
        var cost = [Int](repeating: 0, count: (n + 1) * width)
        // 0 = M, 1 = S, 2 = I, 3 = D.
        var ops = [UInt8](repeating: 0, count: (n + 1) * width)
        for i in stride(from: 1, through: n, by: 1) { cost[i * width] = i; ops[i * width] = 3 }
        for j in stride(from: 1, through: m, by: 1) { cost[j] = j; ops[j] = 2 }
        let src = source.map { Array($0.unicodeScalars) }, cor = correction.map { Array($0.unicodeScalars) }
        for i in 0..<n {
            for j in 0..<m {
                let cell = (i + 1) * width + j + 1
                if src[i] == cor[j] {
                    cost[cell] = cost[i * width + j]
                    ops[cell] = 0
                } else {
                    // Order S, I, D; the first minimum wins.
                    let s = cost[i * width + j] + 1, ins = cost[(i + 1) * width + j] + 1, del = cost[i * width + j + 1] + 1
                    var best = s, op: UInt8 = 1
                    if ins < best { best = ins; op = 2 }
                    if del < best { best = del; op = 3 }
                    cost[cell] = best
                    ops[cell] = op
                }
            }
        }
        var out: [Operation] = []
        var i = n, j = m
        while i > 0 || j > 0 {
            switch ops[i * width + j] {
            case 0: out.append(Operation(op: "M", oStart: i - 1, oEnd: i, cStart: j - 1, cEnd: j)); i -= 1; j -= 1
            case 1: out.append(Operation(op: "S", oStart: i - 1, oEnd: i, cStart: j - 1, cEnd: j)); i -= 1; j -= 1
            case 2: out.append(Operation(op: "I", oStart: i, oEnd: i, cStart: j - 1, cEnd: j)); j -= 1
            default: out.append(Operation(op: "D", oStart: i - 1, oEnd: i, cStart: j, cEnd: j)); i -= 1
            }
        }
        return (out.reversed(), cost[n * width + m])
    }

    /// The edits between token lists (no noop test; see `extract(source:correction:)`).
    public static func edits(_ source: [String], _ correction: [String], merge: EditMerge = .allMerge) -> [GECEdit] {
        let ops = align(source, correction).ops
        var groups: [[Operation]] = []
        var run: [Operation] = []
        for o in ops {
            if o.op == "M" {
                if !run.isEmpty { groups.append(run); run = [] }
            } else if merge == .allSplit {
                groups.append([o])
            } else {
                run.append(o)
            }
        }
        if !run.isEmpty { groups.append(run) }
        return groups.map { g in
            let os = g[0].oStart, oe = g[g.count - 1].oEnd, cs = g[0].cStart, ce = g[g.count - 1].cEnd
            let o = Array(source[os..<oe]), c = Array(correction[cs..<ce])
            return GECEdit(oStart: os, oEnd: oe, cStart: cs, cEnd: ce, oStr: o.joined(separator: " "),
                           cStr: c.joined(separator: " "), type: classify(o, c))
        }
    }

    /// `errant_parallel`'s treatment of one pair of lines: the source is split on whitespace;
    /// when the stripped correction equals the tokens joined by single spaces the pair is a
    /// noop (no edits); otherwise the correction is split and aligned.
    public static func extract(source: String, correction: String, merge: EditMerge = .allMerge) -> ExtractedEdits {
        let src = GECTokens.split(source)
        let cor = GECTokens.strip(correction)
        if GECTokens.same(src.joined(separator: " "), cor) { return ExtractedEdits(noop: true, edits: []) }
        return ExtractedEdits(noop: false, edits: edits(src, GECTokens.split(cor), merge: merge))
    }

    /// A coarse ERRANT-style type without a parser: `M:` (missing), `U:` (unnecessary) or `R:`
    /// (replacement), then `PUNCT` when every token involved is punctuation, `ORTH` when the two
    /// sides differ only in case or spacing, `WO` when they hold the same tokens in another
    /// order, else `OTHER`. ERRANT's finer classes (`VERB:SVA`, `DET`, …) need a POS tagger;
    /// scoring never uses the type.
    public static func classify(_ o: [String], _ c: [String]) -> String {
        let prefix = o.isEmpty ? "M:" : (c.isEmpty ? "U:" : "R:")
        let all = o + c
        if !all.isEmpty, all.allSatisfy(isPunctuation) { return prefix + "PUNCT" }
        if !o.isEmpty, !c.isEmpty {
            if GECTokens.same(o.joined().lowercased(), c.joined().lowercased()) { return prefix + "ORTH" }
            if o.count > 1, o.sorted() == c.sorted() { return prefix + "WO" }
        }
        return prefix + "OTHER"
    }

    static func isPunctuation(_ token: String) -> Bool {
        !token.isEmpty && token.unicodeScalars.allSatisfy { $0.properties.generalCategory.isPunctuationOrSymbol }
    }
}

extension Unicode.GeneralCategory {
    var isPunctuationOrSymbol: Bool {
        switch self {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default: return false
        }
    }
}

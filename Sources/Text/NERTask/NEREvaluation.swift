import Foundation

/// Entity-level scores of predicted against gold tags, in seqeval's default mode and in its
/// strict IOB2 mode (`mode='strict', scheme=IOB2`), as `EntityReport` computes them.
///
/// ```swift
/// let e = try NEREvaluation(gold: file.sentences.map(\.tags), predicted: predicted)
/// print(e.lenient.micro.f1, e.strict.micro.f1)
/// ```
public struct NEREvaluation: Sendable, Equatable {
    /// seqeval default (conlleval-like chunking).
    public var lenient: EntityReport
    /// seqeval strict IOB2: only well-formed `B-X I-X…` spans count.
    public var strict: EntityReport
    public var sentences: Int
    public var tokens: Int
    /// Share of tokens whose predicted tag equals the gold tag.
    public var tokenAccuracy: Double

    public init(gold: [[String]], predicted: [[String]]) throws {
        lenient = try EntityReport(gold: gold, predicted: predicted, mode: .lenient)
        strict = try EntityReport(gold: gold, predicted: predicted, mode: .strict(.iob2))
        sentences = gold.count
        tokens = gold.reduce(0) { $0 + $1.count }
        var same = 0
        for (g, p) in zip(gold, predicted) { same += zip(g, p).filter { $0 == $1 }.count }
        tokenAccuracy = tokens > 0 ? Double(same) / Double(tokens) : 0
    }

    /// The headline number: micro F1 in seqeval's default mode.
    public var f1: Double { lenient.micro.f1 }

    /// A short human summary (`F1 0.8123 (P 0.80 R 0.82), strict 0.8011`).
    public var summary: String {
        String(format: "F1 %.4f (P %.4f R %.4f), strict IOB2 F1 %.4f, token accuracy %.4f",
               lenient.micro.f1, lenient.micro.precision, lenient.micro.recall, strict.micro.f1, tokenAccuracy)
    }

    /// The JSON form used in `results.json` and by `ner-tune eval --json`.
    public var json: NEREvaluationJSON {
        NEREvaluationJSON(
            sentences: sentences, tokens: tokens, tokenAccuracy: tokenAccuracy,
            seqevalDefault: .init(lenient), seqevalStrictIOB2: .init(strict))
    }
}

/// `NEREvaluation` as written to JSON (snake_case keys).
public struct NEREvaluationJSON: Codable, Sendable, Equatable {
    public var sentences: Int
    public var tokens: Int
    public var tokenAccuracy: Double
    public var seqevalDefault: Report
    public var seqevalStrictIOB2: Report

    enum CodingKeys: String, CodingKey {
        case sentences, tokens
        case tokenAccuracy = "token_accuracy"
        case seqevalDefault = "seqeval_default"
        case seqevalStrictIOB2 = "seqeval_strict_iob2"
    }

    /// Micro, macro and per-type scores of one mode.
    public struct Report: Codable, Sendable, Equatable {
        public var micro: Score
        public var macro: Score
        public var perType: [String: Score]

        enum CodingKeys: String, CodingKey {
            case micro, macro
            case perType = "per_type"
        }

        public init(_ r: EntityReport) {
            micro = Score(r.micro)
            macro = Score(r.macro)
            var types: [String: Score] = [:]
            for (t, s) in r.perType { types[t] = Score(s) }
            perType = types
        }
    }

    /// One precision/recall/F1 triple with its counts.
    public struct Score: Codable, Sendable, Equatable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// Gold entities.
        public var support: Int
        public var predicted: Int
        public var correct: Int

        public init(_ s: EntityScore) {
            precision = s.precision
            recall = s.recall
            f1 = s.f1
            support = s.support
            predicted = s.predicted
            correct = s.correct
        }
    }
}

/// JSON text with sorted keys and indentation, so results files diff cleanly.
public enum NERJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try e.encode(value)
        data.append(0x0A)
        return data
    }
}

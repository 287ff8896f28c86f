import Core
import Foundation

/// A sentence with predicted tags (and gold tags when known), for writing.
public struct PredictedSentence: Sendable, Equatable {
    public var tokens: [String]
    /// Gold tags, or nil for unlabelled input.
    public var gold: [String]?
    public var predicted: [String]

    public init(tokens: [String], gold: [String]? = nil, predicted: [String]) {
        self.tokens = tokens
        self.gold = gold
        self.predicted = predicted
    }
}

/// Writes predictions as CoNLL: `token gold pred` (or `token pred` without gold) per line, a
/// blank line after each sentence — the format conlleval reads. Columns are separated by a space,
/// or by a tab throughout the file when some token contains a space (the reader splits tab lines
/// on tabs, so such tokens survive a round trip). The file is written to a temporary file and
/// renamed, so a crash never leaves a half-written output.
public enum CoNLLWriter {
    /// The file content; throws when a sentence's columns differ in length or a field cannot be
    /// represented (empty, or containing a tab or line break).
    public static func format(_ sentences: [PredictedSentence], path: String = "output") throws -> String {
        let useTabs = sentences.contains { $0.tokens.contains { $0.contains(" ") } }
        let separator = useTabs ? "\t" : " "
        var out = ""
        for (n, s) in sentences.enumerated() {
            guard s.predicted.count == s.tokens.count, s.gold.map({ $0.count == s.tokens.count }) ?? true else {
                throw CoNLLError.writeFailed(path: path, reason: "sentence \(n + 1) has \(s.tokens.count) tokens but \(s.predicted.count) predictions\(s.gold.map { " and \($0.count) gold tags" } ?? "")")
            }
            for i in s.tokens.indices {
                var fields = [s.tokens[i]]
                if let g = s.gold { fields.append(g[i]) }
                fields.append(s.predicted[i])
                for f in fields where f.isEmpty || f.contains(where: { $0 == "\t" || $0.isNewline }) || (f != s.tokens[i] && f.contains(" ")) {
                    throw CoNLLError.writeFailed(path: path, reason: "sentence \(n + 1), token \(i + 1): field '\(f)' is empty or contains a tab, line break or (in a tag) a space")
                }
                out += fields.joined(separator: separator)
                out += "\n"
            }
            out += "\n"
        }
        return out
    }

    /// Writes `sentences` to `path` atomically (temporary file in the same folder, then rename).
    public static func write(_ sentences: [PredictedSentence], to path: String) throws {
        let text = try format(sentences, path: path)
        do {
            try AtomicFile.write(text, to: URL(fileURLWithPath: path))
        } catch {
            throw CoNLLError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}

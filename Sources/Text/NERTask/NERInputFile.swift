import Foundation

/// Reads the input of `ner-tune predict`: a CoNLL file with tags (kept as gold, scored when
/// present), or a tokens-only file (one token per line, blank lines between sentences).
///
/// Both go through `CoNLLReader`, so BOMs, Windows line endings, `-DOCSTART-` lines and
/// malformed lines are handled the same way as for training files.
public enum NERInputFile {
    /// The sentences and whether the file carried tags.
    public static func read(path: String) throws -> (file: CoNLLFile, hasGold: Bool) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CoNLLError.unreadable(path: path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CoNLLError.notUTF8(path: path) }
        return try parse(text, path: path)
    }

    /// Parses file content; `path` is used in messages.
    public static func parse(_ text: String, path: String) throws -> (file: CoNLLFile, hasGold: Bool) {
        guard firstTokenLineHasOneColumn(text) else { return (try CoNLLReader().parse(text, path: path), true) }
        // Tokens only: give every token line a placeholder `O` column and read it as CoNLL,
        // so line numbers and error messages stay those of the original file.
        var lines: [String] = []
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            var s = String(decoding: line, as: UTF8.self)
            if s.hasSuffix("\r") { s.removeLast() }
            let blank = s.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\u{FEFF}" }
            lines.append(blank ? s : s + "\tO")
        }
        var file = try CoNLLReader().parse(lines.joined(separator: "\n"), path: path)
        if file.columnCount != 2 {
            throw CoNLLError.malformed(path: path, line: file.sentences.first?.lines.first ?? 1, problem: "the first token line has one column but others have more; use one layout for the whole file")
        }
        file.columnCount = 1
        return (file, false)
    }

    /// Whether the first line that is not blank or `-DOCSTART-` has a single column.
    static func firstTokenLineHasOneColumn(_ text: String) -> Bool {
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = String(raw)
            if line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.hasSuffix("\r") { line.removeLast() }
            let fields = CoNLLReader.columns(of: line)
            if fields.isEmpty || fields.allSatisfy(\.isEmpty) { continue }
            if fields.first == "-DOCSTART-" { continue }
            return fields.count == 1
        }
        return false
    }
}

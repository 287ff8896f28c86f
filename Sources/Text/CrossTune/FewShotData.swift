import Core
import Foundation

/// One labelled text.
public struct LabelledText: Sendable, Equatable {
    public var text: String
    public var label: String
    public init(text: String, label: String) {
        self.text = text
        self.label = label
    }
}

/// Reads labelled texts from CSV, TSV or JSON lines (by extension: `.csv`, `.tsv`/`.txt`,
/// `.jsonl`/`.ndjson`), taking the text and label from named columns. CSV follows RFC 4180
/// (double-quoted fields may hold commas, quotes as `""` and newlines); TSV fields are split on
/// tabs. The first CSV/TSV row is the header. Errors name the file, the line and what to fix.
public enum LabelledTextReader {
    public static func read(path: String, textColumn: String = "text", labelColumn: String = "label",
                            encoding: String.Encoding = .utf8) throws -> [LabelledText] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IOError(.fileNotFound, file: path, "cannot read the file", advice: "check the path (--train / --test)")
        }
        return try read(data: data, path: path, textColumn: textColumn, labelColumn: labelColumn, encoding: encoding)
    }

    /// Parses a file's bytes; `path` names it in messages and its extension selects the layout.
    public static func read(data: Data, path: String, textColumn: String = "text", labelColumn: String = "label",
                            encoding: String.Encoding = .utf8) throws -> [LabelledText] {
        guard let text = String(data: data, encoding: encoding) else {
            let bad = [UInt8](data).withUnsafeBytes { JSONParser.firstInvalidUTF8($0) } ?? 0
            let line = data.prefix(bad).filter { $0 == 10 }.count + 1
            throw IOError(.invalidUTF8, file: path, place: "line \(line)", "not valid UTF-8 (first bad byte at offset \(bad))",
                          advice: "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)")
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") {
            return try jsonLines(text, path: path, textColumn: textColumn, labelColumn: labelColumn)
        }
        let rows = lower.hasSuffix(".csv") ? try csvRows(text, path: path) : tsvRows(text)
        guard let header = rows.first else { throw IOError(.invalidEntry, file: path, "the file is empty", advice: "give a header row and data rows") }
        guard let ti = header.fields.firstIndex(of: textColumn), let li = header.fields.firstIndex(of: labelColumn) else {
            throw IOError(.missingKey, file: path, place: "line 1",
                          "header \(header.fields) lacks the text column '\(textColumn)' or the label column '\(labelColumn)'",
                          advice: "pass --text-column and --label-column")
        }
        var out: [LabelledText] = []
        for row in rows.dropFirst() {
            if row.fields.count == 1 && row.fields[0].isEmpty { continue }
            guard row.fields.count > max(ti, li) else {
                throw IOError(.invalidEntry, file: path, place: "line \(row.line)", "\(row.fields.count) fields, the header has \(header.fields.count)",
                              advice: "fix the row (a TSV text must not contain tabs)")
            }
            let label = row.fields[li].trimmingCharacters(in: .whitespaces)
            guard !label.isEmpty else { throw IOError(.invalidEntry, file: path, place: "line \(row.line)", "empty label") }
            out.append(LabelledText(text: row.fields[ti], label: label))
        }
        guard !out.isEmpty else { throw IOError(.invalidEntry, file: path, "no data rows after the header") }
        return out
    }

    struct Row { var line: Int; var fields: [String] }

    static func tsvRows(_ text: String) -> [Row] {
        var rows: [Row] = []
        for (i, raw) in text.textLines().enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty { continue }
            rows.append(Row(line: i + 1, fields: line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)))
        }
        return rows
    }

    static func csvRows(_ text: String, path: String) throws -> [Row] {
        var rows: [Row] = []
        var field = "", fields: [String] = [], inQuotes = false, line = 1, rowLine = 1
        var it = Array(text.unicodeScalars)[...]
        while let c = it.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if it.first == "\"" { field.unicodeScalars.append("\""); it = it.dropFirst() } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                inQuotes = true
            } else if c == "," {
                fields.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r", it.first == "\n" { it = it.dropFirst() }
                fields.append(field); field = ""
                if !(fields.count == 1 && fields[0].isEmpty) { rows.append(Row(line: rowLine, fields: fields)) }
                fields = []
                line += 1
                rowLine = line
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes { throw IOError(.invalidEntry, file: path, place: "line \(rowLine)", "a quoted field is never closed", advice: "close the \" quote") }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); rows.append(Row(line: rowLine, fields: fields)) }
        return rows
    }

    static func jsonLines(_ text: String, path: String, textColumn: String, labelColumn: String) throws -> [LabelledText] {
        var out: [LabelledText] = []
        for (i, line) in text.textLines().enumerated() {
            let t = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if t.isEmpty { continue }
            let cfg: JSONConfig
            do { cfg = try JSONConfig(parsing: t, file: "\(path):\(i + 1)") }
            catch { throw IOError(.invalidJSON, file: path, place: "line \(i + 1)", "\(error)", advice: "one JSON object per line") }
            let label: String
            switch cfg.value(labelColumn) {
            case .string(let s)?: label = s
            case .int(let n)?: label = String(n)
            default: throw IOError(.missingKey, file: path, place: "line \(i + 1)", "no string or integer '\(labelColumn)'", advice: "pass --label-column")
            }
            guard case .string(let s)? = cfg.value(textColumn) else {
                throw IOError(.missingKey, file: path, place: "line \(i + 1)", "no string '\(textColumn)'", advice: "pass --text-column")
            }
            out.append(LabelledText(text: s, label: label))
        }
        guard !out.isEmpty else { throw IOError(.invalidEntry, file: path, "no records") }
        return out
    }

    /// `label<TAB>description` lines (blank lines and `#` comments skipped). Every label of the
    /// file must be one of `labels`; labels it does not mention are described by their own name.
    public static func descriptions(path: String, labels: [String]) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw IOError(.readFailed, file: path, "cannot read the label descriptions as UTF-8 text", advice: "give a label<TAB>description file")
        }
        var map: [String: String] = [:]
        for (i, raw) in text.textLines().enumerated() {
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].trimmingCharacters(in: .whitespaces).isEmpty else {
                throw IOError(.invalidEntry, file: path, place: "line \(i + 1)", "expected 'label<TAB>description'")
            }
            guard labels.contains(parts[0]) else {
                throw IOError(.invalidEntry, file: path, place: "line \(i + 1)",
                              "label '\(parts[0])' never occurs in the data (labels: \(labels.joined(separator: ", ")))",
                              advice: "fix the label name or remove the line")
            }
            map[parts[0]] = parts[1]
        }
        return labels.map { map[$0] ?? $0 }
    }
}

/// A seeded K-shot split: K training and K development examples per class drawn from a pool
/// (the training file), with the full test file held out.
public struct FewShotSplit: Sendable {
    public let labels: [String]
    public let train: [LabelledText]
    public let dev: [LabelledText]

    /// Samples K + K per class; classes are `labels` (sorted label names of the pool unless
    /// given). A class with fewer than 2K examples is an error naming it.
    public init(pool: [LabelledText], shots: Int, seed: UInt64, labels given: [String]? = nil, source: String = "training data") throws {
        guard shots >= 1 else { throw CrossTuneError("--shots must be at least 1") }
        let labels = given ?? Array(Set(pool.map(\.label))).sorted()
        guard labels.count >= 2 else { throw CrossTuneError("\(source): \(labels.count) class(es); classification needs at least 2") }
        var train: [LabelledText] = [], dev: [LabelledText] = []
        var rng = SplitMix64(seed: seed)
        for label in labels {
            var members = pool.filter { $0.label == label }
            guard members.count >= 2 * shots else {
                throw CrossTuneError("\(source): class '\(label)' has \(members.count) examples, fewer than the \(2 * shots) needed for \(shots) training and \(shots) dev shots; lower --shots")
            }
            // Fisher–Yates with the seeded generator.
            for i in stride(from: members.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                members.swapAt(i, j)
            }
            train += members[0..<shots]
            dev += members[shots..<(2 * shots)]
        }
        self.labels = labels
        self.train = train
        self.dev = dev
    }
}

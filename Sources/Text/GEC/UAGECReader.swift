import Core
import Foundation

/// Reads the Ukrainian UA-GEC corpus (Syvokon et al., UNLP 2023; github grammarly/ua-gec, PyPI
/// `ua-gec`, CC-BY-4.0) from its annotated files.
///
/// Layout: a corpus version folder (`data/gec-only` or `data/gec-fluency`) holding
/// `train/annotated/*.ann` and `test/annotated/*.ann`, one document per file named
/// `<doc id>.a<annotator>.ann`, one paragraph per line, corrections written inline as
/// `{error=>correction:::error_type=Tag}`: several corrections are separated by `|` (the first
/// is used), `NO_SUGGESTIONS` keeps the error text, a newline inside an annotation is written
/// `\n`. Per-document metadata (`metadata.csv`, in the folder or its parent) supplies the domain:
/// by default the `submission_type` column (essay / translation / text_donation); without
/// it every paragraph is in domain `ua-gec`.
///
/// Each paragraph becomes one example; the text is tokenised with `tokenize` (punctuation split
/// off words) so that edits are word-level as ERRANT's are. When several annotators corrected
/// the same document and a paragraph's source text agrees, their corrections become the
/// references of one example. The dev split is a seeded share of the training paragraphs.
///
/// ```swift
/// let data = try UAGECReader.read(folder: "ua-gec/data/gec-only")
/// ```
public enum UAGECReader {
    /// One paragraph: its error text and corrected text (untokenised).
    public struct Paragraph: Sendable, Equatable {
        public var line: Int
        public var source: String, target: String
    }

    /// Parses one annotated document. `{` without a matching `=>…}` is kept as text.
    public static func parse(_ text: String) -> [Paragraph] {
        var out: [Paragraph] = []
        for (i, raw) in text.textLines().enumerated() {
            let line = raw.hasSuffix("\r") ? Array(raw.dropLast()) : Array(raw)
            var source = "", target = ""
            var k = 0
            while k < line.count {
                if line[k] == "{", let (err, fix, next) = annotation(line, from: k) {
                    source += err; target += fix; k = next
                } else {
                    source.append(line[k]); target.append(line[k]); k += 1
                }
            }
            if !GECTokens.strip(source).isEmpty { out.append(Paragraph(line: i + 1, source: source, target: target)) }
        }
        return out
    }

    /// The annotation starting at `start` (a `{`): error text, first correction, index after `}`.
    static func annotation(_ s: [Character], from start: Int) -> (String, String, Int)? {
        var arrow: Int?
        var k = start + 1
        while k + 1 < s.count {
            if s[k] == "{" { return nil }
            if s[k] == "=" && s[k + 1] == ">" { arrow = k; break }
            if s[k] == "}" { return nil }
            k += 1
        }
        guard let a = arrow, let close = s[(a + 2)...].firstIndex(of: "}") else { return nil }
        var body = String(s[(a + 2)..<close])
        if let meta = body.range(of: ":::") { body = String(body[..<meta.lowerBound]) }
        func unescape(_ x: String) -> String { x.replacingOccurrences(of: "\\n", with: " ") }
        let err = unescape(String(s[(start + 1)..<a]))
        let first = body.components(separatedBy: "|")[0]
        return (err, first == "NO_SUGGESTIONS" ? err : unescape(first), close + 1)
    }

    /// Word-level tokens: runs of letters, digits and marks (with apostrophes and hyphens inside a
    /// word kept, as in "з’явилося" or "Instagram-блог"); every other visible character alone.
    public static func tokenize(_ s: String) -> [String] {
        let chars = Array(s)
        func isWord(_ c: Character) -> Bool { c.isLetter || c.isNumber || c.unicodeScalars.allSatisfy { $0.properties.generalCategory == .nonspacingMark } }
        let joiners: Set<Character> = ["'", "’", "ʼ", "-"]
        var out: [String] = []
        var word = ""
        for (i, c) in chars.enumerated() {
            if isWord(c) || (joiners.contains(c) && !word.isEmpty && i + 1 < chars.count && isWord(chars[i + 1])) {
                word.append(c)
                continue
            }
            if !word.isEmpty { out.append(word); word = "" }
            if !c.isWhitespace { out.append(String(c)) }
        }
        if !word.isEmpty { out.append(word) }
        return out
    }

    /// `metadata.csv` as document id → column value (quoted fields allowed).
    static func metadata(folder: String, column: String) throws -> [String: String] {
        let candidates = [(folder as NSString).appendingPathComponent("metadata.csv"),
                          ((folder as NSString).deletingLastPathComponent as NSString).appendingPathComponent("metadata.csv")]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { return [:] }
        let rows = try GECDataReader.readText(path).split(whereSeparator: \.isNewline).map { csvFields(String($0)) }
        guard let header = rows.first, let idColumn = header.firstIndex(of: "id") else {
            throw GECError.malformed(path: path, line: 1, problem: "no 'id' column in the header; expected UA-GEC's metadata.csv")
        }
        guard let valueColumn = header.firstIndex(of: column) else {
            throw GECError.badOption("\(path) has no column '\(column)'; its columns are \(header.joined(separator: ", "))")
        }
        var out: [String: String] = [:]
        for r in rows.dropFirst() where r.count > max(idColumn, valueColumn) { out[r[idColumn]] = r[valueColumn] }
        return out
    }

    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = [], cur = "", quoted = false
        var it = Array(line).makeIterator()
        var pending: Character? = nil
        while let c = pending ?? it.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let n = it.next() { if n == "\"" { cur.append("\"") } else { quoted = false; pending = n } } else { quoted = false }
                } else { cur.append(c) }
            } else if c == "\"" { quoted = true }
            else if c == "," { fields.append(cur); cur = "" }
            else { cur.append(c) }
        }
        fields.append(cur)
        return fields
    }

    /// The examples of one split folder (`train` or `test`): paragraphs of all documents in file
    /// name order, annotators of one document merged into references.
    static func readSplit(_ dir: String, domains: [String: String]) throws -> [GECExample] {
        let annotated = (dir as NSString).appendingPathComponent("annotated")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: annotated)) ?? []).filter { $0.hasSuffix(".ann") || $0.hasSuffix(".txt") }.sorted()
        var byDoc: [(doc: String, paragraphs: [[Paragraph]])] = []
        for f in files {
            let doc = String(f.prefix { $0 != "." })
            let paragraphs = parse(try GECDataReader.readText((annotated as NSString).appendingPathComponent(f)))
            if let last = byDoc.last, last.doc == doc { byDoc[byDoc.count - 1].paragraphs.append(paragraphs) }
            else { byDoc.append((doc, [paragraphs])) }
        }
        var out: [GECExample] = []
        for (doc, versions) in byDoc {
            let category = domains[doc] ?? "ua-gec"
            for (k, p) in versions[0].enumerated() {
                let src = tokenize(p.source).joined(separator: " ")
                var refs = [tokenize(p.target).joined(separator: " ")]
                for other in versions.dropFirst() where k < other.count && other[k].source == p.source {
                    refs.append(tokenize(other[k].target).joined(separator: " "))
                }
                refs = refs.filter { !$0.isEmpty }
                if !src.isEmpty, !refs.isEmpty { out.append(GECExample(source: src, references: refs, category: category)) }
            }
        }
        return out
    }

    /// Reads a corpus version folder. `domainColumn` names the metadata column used as the
    /// domain; `devShare` of each domain's training paragraphs (seeded) become its dev split.
    public static func read(folder: String, domainColumn: String = "submission_type", devShare: Double = 0.1, seed: UInt64 = 2025) throws -> GECDomainData {
        let train = (folder as NSString).appendingPathComponent("train")
        guard FileManager.default.fileExists(atPath: (train as NSString).appendingPathComponent("annotated")) else {
            throw GECError.unusable("\(folder): no train/annotated folder; give UA-GEC's data/gec-only or data/gec-fluency folder")
        }
        let domains = try metadata(folder: folder, column: domainColumn)
        let trainAll = try readSplit(train, domains: domains)
        let test = try readSplit((folder as NSString).appendingPathComponent("test"), domains: domains)
        var names: [String] = []
        for e in trainAll + test { if let c = e.category, !names.contains(c) { names.append(c) } }
        return GECDomainData(domains: names.sorted().map { name in
            var xs = trainAll.filter { $0.category == name }
            var rng = SplitMix64(seed: seed).fork(UInt64(truncatingIfNeeded: name.unicodeScalars.reduce(0) { $0 &* 31 &+ Int($1.value) }))
            for i in stride(from: xs.count - 1, to: 0, by: -1) { xs.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let nDev = Int((Double(xs.count) * devShare).rounded())
            return GECDomainData.Domain(name: name, train: Array(xs.dropFirst(nDev)), dev: Array(xs.prefix(nDev)), test: test.filter { $0.category == name })
        })
    }
}

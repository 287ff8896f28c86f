import Core
import Foundation

/// One sentence of a GEC data set: the (possibly erroneous) source, one or more corrected
/// references (the source itself when it is correct) and its domain.
public struct GECExample: Sendable, Equatable, Codable {
    public var source: String
    public var references: [String]
    /// The domain (CL²GEC's `category`); nil when the file gives none.
    public var category: String?

    public init(source: String, references: [String], category: String? = nil) {
        self.source = source; self.references = references; self.category = category
    }

    public var sourceTokens: [String] { GECTokens.split(source) }
}

/// Reads GEC data: TSV (`source<TAB>target[<TAB>target…]`), JSON lines with CL²GEC's field
/// names (`source`, `references` — or a single `target` — and `category`), M2 (each coder's
/// corrected sentence becomes a reference), and a pair of line-aligned source/target files.
/// Empty sentences and missing references are errors naming the file and line.
///
/// ```swift
/// let train = try GECDataReader.read(path: "train.jsonl")
/// ```
public enum GECDataReader {
    /// Reads by extension: `.tsv`/`.txt` TSV, `.jsonl`/`.json` JSON lines, `.m2` M2.
    public static func read(path: String) throws -> [GECExample] {
        let lower = path.lowercased()
        if lower.hasSuffix(".m2") { return fromM2(try M2File.read(path: path)) }
        let text = try readText(path)
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") { return try parseJSONLines(text, path: path) }
        return try parseTSV(text, path: path)
    }

    /// A UTF-8 text file; unreadable or non-UTF-8 files are errors naming the path.
    public static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GECError.unusable("\(path): cannot read the file; check the path")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw GECError.malformed(path: path, line: 1, problem: "not UTF-8 text; convert the file to UTF-8")
        }
        return text
    }

    static func lines(_ text: String) -> [(Int, String)] {
        text.textLines().enumerated().compactMap { i, raw in
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
            return GECTokens.strip(line).isEmpty ? nil : (i + 1, line)
        }
    }

    public static func parseTSV(_ text: String, path: String) throws -> [GECExample] {
        try lines(text).map { n, line in
            let fields = line.components(separatedBy: "\t")
            guard fields.count >= 2 else {
                throw GECError.malformed(path: path, line: n, problem: "no tab: a TSV line is 'source<TAB>target' (the source again when it needs no correction)")
            }
            return try example(source: fields[0], references: Array(fields[1...]), category: nil, path: path, line: n)
        }
    }

    struct JSONLine: Decodable {
        var source: String?
        var references: [String]?
        var target: String?
        var category: String?
    }

    public static func parseJSONLines(_ text: String, path: String) throws -> [GECExample] {
        let decoder = JSONDecoder()
        return try lines(text).map { n, line in
            let row: JSONLine
            do { row = try decoder.decode(JSONLine.self, from: Data(line.utf8)) } catch {
                throw GECError.malformed(path: path, line: n, problem: "not a JSON object with string fields source, references (list) and category")
            }
            guard let source = row.source else { throw GECError.malformed(path: path, line: n, problem: "no \"source\" field") }
            let refs = row.references ?? row.target.map { [$0] } ?? []
            return try example(source: source, references: refs, category: row.category, path: path, line: n)
        }
    }

    static func example(source: String, references: [String], category: String?, path: String, line: Int) throws -> GECExample {
        guard !GECTokens.split(source).isEmpty else {
            throw GECError.malformed(path: path, line: line, problem: "empty source sentence; remove the line")
        }
        guard !references.isEmpty else {
            throw GECError.malformed(path: path, line: line, problem: "no reference; give at least one (the source itself when it is correct)")
        }
        if references.contains(where: { GECTokens.split($0).isEmpty }) {
            throw GECError.malformed(path: path, line: line, problem: "empty reference sentence; a reference deleting everything is not supported")
        }
        return GECExample(source: source, references: references, category: category)
    }

    /// Examples from M2 blocks: the source tokens and each coder's corrected sentence.
    public static func fromM2(_ sentences: [M2Sentence]) -> [GECExample] {
        sentences.map { s in
            let coders = s.coders
            let refs = coders.isEmpty ? [s.tokens.joined(separator: " ")] : coders.map { s.corrected(coder: $0).joined(separator: " ") }
            return GECExample(source: s.tokens.joined(separator: " "), references: refs)
        }
    }

    /// Line-aligned source and target files (one sentence per line).
    public static func readParallel(sourcePath: String, targetPath: String) throws -> [GECExample] {
        let src = try readText(sourcePath).textLines().map(String.init)
        let tgt = try readText(targetPath).textLines().map(String.init)
        func trimmed(_ a: [String]) -> [String] { var a = a; while a.last.map({ GECTokens.strip($0).isEmpty }) == true { a.removeLast() }; return a }
        let s = trimmed(src), t = trimmed(tgt)
        guard s.count == t.count else {
            throw GECError.mismatch("\(sourcePath) has \(s.count) lines and \(targetPath) \(t.count); source and target files must have one line per sentence each")
        }
        return try zip(s, t).enumerated().map { i, p in try example(source: p.0, references: [p.1], category: nil, path: sourcePath, line: i + 1) }
    }

    /// Writes JSON lines (CL²GEC field names) atomically.
    public static func writeJSONLines(_ examples: [GECExample], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var text = ""
        for e in examples { text += String(decoding: try encoder.encode(e), as: UTF8.self) + "\n" }
        try AtomicFile.write(text, to: URL(fileURLWithPath: path), createDirectories: true)
    }
}

/// A benchmark of domains with train / dev / test splits, as `gec-cl` uses it.
public struct GECDomainData: Sendable {
    public struct Domain: Sendable {
        public var name: String
        public var train: [GECExample], dev: [GECExample], test: [GECExample]
    }
    public var domains: [Domain]

    /// Reads a folder: `train.jsonl`, `dev.jsonl` (or `valid.jsonl`), `test.jsonl` whose lines carry
    /// a `category` (CL²GEC's layout), or one sub-folder per domain holding `train`/`dev`/`test`
    /// files in any supported format, or a UA-GEC corpus folder (`train/annotated/*.ann`, see
    /// `UAGECReader`).
    public static func read(folder: String) throws -> GECDomainData {
        let fm = FileManager.default
        if fm.fileExists(atPath: (folder as NSString).appendingPathComponent("train/annotated")) {
            return try UAGECReader.read(folder: folder)
        }
        func find(_ dir: String, _ stems: [String]) -> String? {
            for stem in stems { for ext in ["jsonl", "tsv", "m2", "json"] {
                let p = (dir as NSString).appendingPathComponent("\(stem).\(ext)")
                if fm.fileExists(atPath: p) { return p }
            } }
            return nil
        }
        if let trainPath = find(folder, ["train"]) {
            let train = try GECDataReader.read(path: trainPath)
            let dev = try find(folder, ["dev", "valid", "validation"]).map(GECDataReader.read) ?? []
            let test = try find(folder, ["test"]).map(GECDataReader.read) ?? []
            var names: [String] = []
            for e in train + dev + test { if let c = e.category, !names.contains(c) { names.append(c) } }
            if names.isEmpty { names = ["all"] }
            func pick(_ xs: [GECExample], _ n: String) -> [GECExample] { xs.filter { ($0.category ?? "all") == n } }
            return GECDomainData(domains: names.map { Domain(name: $0, train: pick(train, $0), dev: pick(dev, $0), test: pick(test, $0)) })
        }
        let subs = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted().filter { name in
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: (folder as NSString).appendingPathComponent(name), isDirectory: &isDir) && isDir.boolValue
        }
        let domains = try subs.compactMap { name -> Domain? in
            let dir = (folder as NSString).appendingPathComponent(name)
            guard let t = find(dir, ["train"]) else { return nil }
            return Domain(name: name, train: try GECDataReader.read(path: t),
                          dev: try find(dir, ["dev", "valid", "validation"]).map(GECDataReader.read) ?? [],
                          test: try find(dir, ["test"]).map(GECDataReader.read) ?? [])
        }
        guard !domains.isEmpty else {
            throw GECError.unusable("\(folder): no train.jsonl/train.tsv/train.m2 and no domain sub-folders holding one; see gec-cl --help for the layout")
        }
        return GECDomainData(domains: domains)
    }

    /// The domains in `order` (all, in file order, when nil). An unknown name or a domain without
    /// training or test sentences is an error.
    public func ordered(_ order: [String]?) throws -> [Domain] {
        let names = order ?? domains.map(\.name)
        return try names.map { n in
            guard let d = domains.first(where: { $0.name == n }) else {
                throw GECError.badOption("unknown domain '\(n)' in --order; the data has \(domains.map(\.name).joined(separator: ", "))")
            }
            guard !d.train.isEmpty else { throw GECError.unusable("domain '\(n)' has no training sentences; add some or leave it out of --order") }
            guard !d.test.isEmpty else { throw GECError.unusable("domain '\(n)' has no test sentences; add some or leave it out of --order") }
            return d
        }
    }
}

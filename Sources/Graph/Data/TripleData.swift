import Foundation

/// One fact `relation(head, tail)` as vocabulary ids.
public struct Triple: Hashable, Sendable, CustomStringConvertible {
    public var head: Int
    public var relation: Int
    public var tail: Int

    public init(_ head: Int, _ relation: Int, _ tail: Int) {
        self.head = head
        self.relation = relation
        self.tail = tail
    }

    public var description: String { "(\(head), \(relation), \(tail))" }
}

/// A bad triple file or a bad name. The message names the file, the line and what to do.
public struct GraphDataError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Names ↔ dense ids, in the order the names were first seen.
public struct Vocabulary: Sendable, Equatable {
    public private(set) var names: [String] = []
    private var ids: [String: Int] = [:]

    public init() {}

    /// Builds a vocabulary holding `names` in order (duplicates keep their first id).
    public init(_ names: [String]) { for n in names { _ = add(n) } }

    /// Number of names.
    public var count: Int { names.count }

    /// The id of `name`, or nil when it is not in the vocabulary.
    public func id(_ name: String) -> Int? { ids[name] }

    /// The name with id `id`.
    public func name(_ id: Int) -> String { names[id] }

    /// The id of `name`, adding it when new.
    @discardableResult
    public mutating func add(_ name: String) -> Int {
        if let i = ids[name] { return i }
        ids[name] = names.count
        names.append(name)
        return names.count - 1
    }
}

/// A knowledge graph split into train / valid / test, with entity and relation vocabularies
/// taken from the training split only (an id the model never trained on has no embedding).
///
/// ```swift
/// let kg = try KGDataset.load(folder: "data/graph/umls")   // train.txt, valid.txt, test.txt
/// print(kg.entities.count, kg.train.count)
/// ```
public struct KGDataset: Sendable {
    public let entities: Vocabulary
    public let relations: Vocabulary
    public let train: [Triple]
    public let valid: [Triple]
    public let test: [Triple]
    /// Exact duplicate lines dropped per split (train, valid, test), for reporting.
    public let duplicatesDropped: [String: Int]

    public init(entities: Vocabulary, relations: Vocabulary, train: [Triple], valid: [Triple], test: [Triple],
                duplicatesDropped: [String: Int] = [:]) {
        self.entities = entities
        self.relations = relations
        self.train = train
        self.valid = valid
        self.test = test
        self.duplicatesDropped = duplicatesDropped
    }

    /// Every triple of every split (the "known true" facts of the filtered protocol).
    public var allTriples: [Triple] { train + valid + test }

    /// Loads `train.txt` (required), `valid.txt` and `test.txt` (optional) from a folder.
    public static func load(folder: String) throws -> KGDataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw GraphDataError("\(folder): not a folder; pass a folder holding train.txt, valid.txt, test.txt")
        }
        let path = { (name: String) in (folder as NSString).appendingPathComponent(name) }
        guard FileManager.default.fileExists(atPath: path("train.txt")) else {
            throw GraphDataError("\(folder): no train.txt; a graph folder needs train.txt (and optionally valid.txt, test.txt)")
        }
        let optional = { (name: String) -> String? in
            FileManager.default.fileExists(atPath: path(name)) ? path(name) : nil
        }
        return try load(train: path("train.txt"), valid: optional("valid.txt"), test: optional("test.txt"))
    }

    /// Loads one file per split. `valid` and `test` may be absent.
    public static func load(train: String, valid: String?, test: String?) throws -> KGDataset {
        func read(_ path: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw GraphDataError("\(path): cannot read the file (missing or no permission)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw GraphDataError("\(path): not UTF-8 text; triple files are UTF-8 'head relation tail' lines")
            }
            return text
        }
        return try parse(
            train: (train, try read(train)),
            valid: try valid.map { ($0, try read($0)) },
            test: try test.map { ($0, try read($0)) })
    }

    /// Builds a dataset from in-memory texts; each split is `(name used in errors, contents)`.
    public static func parse(
        train: (String, String), valid: (String, String)? = nil, test: (String, String)? = nil
    ) throws -> KGDataset {
        let trainRows = try parseLines(train.1, file: train.0)
        guard !trainRows.isEmpty else {
            throw GraphDataError("\(train.0): no triples; the training split must hold at least one 'head relation tail' line")
        }
        // Vocabularies from training only, in order of first appearance (deterministic).
        var ents = Vocabulary(), rels = Vocabulary()
        for row in trainRows {
            ents.add(row.fields[0])
            rels.add(row.fields[1])
            ents.add(row.fields[2])
        }
        var dropped: [String: Int] = [:]
        func resolve(_ rows: [ParsedLine], file: String, split: String) throws -> [Triple] {
            var seen = Set<Triple>()
            var out: [Triple] = []
            out.reserveCapacity(rows.count)
            for row in rows {
                func lookup(_ vocab: Vocabulary, _ name: String, _ kind: String) throws -> Int {
                    guard let id = vocab.id(name) else {
                        throw GraphDataError(
                            "\(file):\(row.line): \(kind) '\(name)' does not occur in the training split (\(train.0)); "
                                + "vocabularies come from training, so add a training triple with it or drop this line")
                    }
                    return id
                }
                let t = Triple(
                    try lookup(ents, row.fields[0], "entity"), try lookup(rels, row.fields[1], "relation"),
                    try lookup(ents, row.fields[2], "entity"))
                // An exact repeat adds nothing to training and would double-count in evaluation.
                if seen.insert(t).inserted { out.append(t) } else { dropped[split, default: 0] += 1 }
            }
            return out
        }
        let tr = try resolve(trainRows, file: train.0, split: "train")
        let va = try valid.map { try resolve(try parseLines($0.1, file: $0.0), file: $0.0, split: "valid") } ?? []
        let te = try test.map { try resolve(try parseLines($0.1, file: $0.0), file: $0.0, split: "test") } ?? []
        return KGDataset(entities: ents, relations: rels, train: tr, valid: va, test: te, duplicatesDropped: dropped)
    }

    /// Resolves a `(head, relation, tail)` of names against the vocabularies (for queries typed by a user).
    public func triple(_ head: String, _ relation: String, _ tail: String) throws -> Triple {
        guard let h = entities.id(head) else { throw GraphDataError("unknown entity '\(head)'") }
        guard let r = relations.id(relation) else { throw GraphDataError("unknown relation '\(relation)'") }
        guard let t = entities.id(tail) else { throw GraphDataError("unknown entity '\(tail)'") }
        return Triple(h, r, t)
    }
}

/// One non-blank line split into its three names.
struct ParsedLine {
    let line: Int
    let fields: [String]
}

/// Splits a triple file into lines of three fields. A line holding a tab is split on tabs
/// (PyKEEN / LibKGE TSV, where names may contain spaces); otherwise on runs of spaces.
/// Blank lines and lines starting with `#` are skipped.
func parseLines(_ text: String, file: String) throws -> [ParsedLine] {
    var rows: [ParsedLine] = []
    var lineNo = 0
    // "\r\n" is one Character in Swift, so split on it explicitly (Windows line ends).
    for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
        lineNo += 1
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        let fields: [String]
        if line.contains("\t") {
            fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            fields = trimmed.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        guard fields.count == 3, fields.allSatisfy({ !$0.isEmpty }) else {
            let shown = trimmed.count > 80 ? String(trimmed.prefix(80)) + "…" : trimmed
            throw GraphDataError(
                "\(file):\(lineNo): expected 3 non-empty fields 'head relation tail' separated by tabs or spaces, "
                    + "found \(fields.filter { !$0.isEmpty }.count) in \"\(shown)\"")
        }
        rows.append(ParsedLine(line: lineNo, fields: fields))
    }
    return rows
}

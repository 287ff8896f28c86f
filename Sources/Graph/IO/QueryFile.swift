import Core
import Foundation

/// Labelled complex queries as JSON lines (schema in data/graph/README.md). The first line is
/// a header, every other line one query; names, not ids, so a file stays valid for any model
/// trained on the same graph:
///
///     {"format":"kg-queries","version":1,"vocab_hash":"…","seed":0,"source":"data/graph/umls","counts":{"train":…}}
///     {"split":"test","structure":"2in","query":"r1(a) & !r2(b)","fol":"?y : r1(a, y) and not r2(b, y)",
///      "easy":["e3"],"hard":["e7","e9"]}
///
/// `query` is read with `QueryParser.parseAny` (either syntax); `fol` is for people only.
public enum QueryFile {
    public static let format = "kg-queries"
    public static let version = 1

    /// Writes the three splits of `set` (names from `entities` / `relations`) atomically.
    public static func write(
        _ set: QuerySet, entities: Vocabulary, relations: Vocabulary, seed: UInt64, source: String, to url: URL
    ) throws {
        let functional = QueryParser(entities: entities, relations: relations)
        let fol = FirstOrderQueryParser(entities: entities, relations: relations)
        let header = JSONObject([
            ("format", .string(format)), ("version", .int(Int64(version))),
            ("vocab_hash", .string(vocabularyFingerprint(entities: entities, relations: relations))),
            ("seed", .int(Int64(bitPattern: seed))), ("source", .string(source)),
            ("counts", .object(JSONObject([("train", .int(Int64(set.train.count))), ("valid", .int(Int64(set.valid.count))),
                                           ("test", .int(Int64(set.test.count)))]))),
        ])
        try AtomicFile.write(to: url, createDirectories: true) { sink in
            try sink.write(JSONText.compact(.object(header)) + "\n")
            for (split, examples) in [("train", set.train), ("valid", set.valid), ("test", set.test)] {
                for e in examples {
                    let o = JSONObject([
                        ("split", .string(split)), ("structure", .string(e.structure)),
                        ("query", .string(functional.format(e.query))), ("fol", .string(fol.format(e.query))),
                        ("easy", .strings(e.easy.map(entities.name))), ("hard", .strings(e.hard.map(entities.name))),
                    ])
                    try sink.write(JSONText.compact(.object(o)) + "\n")
                }
            }
        }
    }

    /// Reads a query file against a model's vocabularies. Errors name the file, the line and
    /// the field (an unknown name, a structure that does not match the query, bad JSON).
    public static func read(_ url: URL, entities: Vocabulary, relations: Vocabulary) throws -> (header: JSONObject, set: QuerySet) {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw GraphDataError("\(url.path): cannot read the query file (missing or no permission); write one with `kg-query queries`")
        }
        return try read(data: data, url: url, entities: entities, relations: relations)
    }

    /// Parses a query file's bytes; `url` names it in messages.
    public static func read(data: Data, url: URL, entities: Vocabulary, relations: Vocabulary) throws -> (header: JSONObject, set: QuerySet) {
        let parser = QueryParser(entities: entities, relations: relations)
        var set = QuerySet()
        var header: JSONObject? = nil
        var lineNo = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            let bytes = Array(line)
            if bytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            let place = "\(url.path):\(lineNo)"
            let value: JSONValue
            do { value = try JSONParser.parse(bytes) } catch {
                throw GraphDataError("\(place): not valid JSON (\(error)); each line must be one JSON object")
            }
            guard case let .object(o) = value else { throw GraphDataError("\(place): expected a JSON object") }
            if header == nil {
                guard case .string(format)? = o["format"] else {
                    throw GraphDataError("\(place): the first line must be the header {\"format\":\"\(format)\",…}; "
                                         + "this is not a kg-query query file")
                }
                guard case let .int(v)? = o["version"], v == version else {
                    throw GraphDataError("\(place): unsupported query file version (this build reads version \(version))")
                }
                header = o
                continue
            }
            func string(_ k: String) throws -> String {
                guard case let .string(s)? = o[k] else { throw GraphDataError("\(place): field '\(k)' must be a string") }
                return s
            }
            func names(_ k: String) throws -> [Int] {
                guard case let .array(items)? = o[k] else { throw GraphDataError("\(place): field '\(k)' must be an array of entity names") }
                return try items.map { item in
                    guard case let .string(s) = item, let id = entities.id(s) else {
                        throw GraphDataError("\(place): field '\(k)': \(item) is not an entity of the model; "
                                             + "the queries were made for another graph")
                    }
                    return id
                }
            }
            let q: Query
            do { q = try parser.parseAny(try string("query")) } catch let e as GraphDataError {
                throw GraphDataError("\(place): field 'query': \(e.message)")
            }
            let ex = ComplexQueryExample(query: q, easy: try names("easy"), hard: try names("hard"))
            if case let .string(s)? = o["structure"], s != ex.structure {
                throw GraphDataError("\(place): structure '\(s)' does not match the query's shape ('\(ex.structure)')")
            }
            switch try string("split") {
            case "train": set.train.append(ex)
            case "valid": set.valid.append(ex)
            case "test": set.test.append(ex)
            case let s: throw GraphDataError("\(place): split '\(s)' is not train, valid or test")
            }
        }
        guard let h = header else { throw GraphDataError("\(url.path): empty query file; write one with `kg-query queries`") }
        return (h, set)
    }
}

import Core
import Foundation

/// A trained link predictor with the names of its rows: what `kg-query train` writes and every
/// other subcommand reads.
public struct SavedLinkPredictor {
    public let model: ComplExModel
    public let entities: Vocabulary
    public let relations: Vocabulary
    /// Free-form facts about the run (data folder, epochs, validation MRR), from `config.json`.
    public let info: JSONObject

    public init(model: ComplExModel, entities: Vocabulary, relations: Vocabulary, info: JSONObject = JSONObject()) {
        self.model = model
        self.entities = entities
        self.relations = relations
        self.info = info
    }

    /// Fingerprint of both vocabularies (names and order): an adapter or a query file made for
    /// another graph, or another id order, has a different one.
    public var vocabularyHash: String { vocabularyFingerprint(entities: entities, relations: relations) }

    /// A parser for queries in either syntax over this model's names.
    public var parser: QueryParser { QueryParser(entities: entities, relations: relations) }
}

/// FNV-1a (64-bit) over the entity names, a separator, then the relation names, as 16 hex
/// digits. Deterministic across runs and machines (Swift's `Hasher` is seeded per process).
public func vocabularyFingerprint(entities: Vocabulary, relations: Vocabulary) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    func eat(_ s: String) {
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h = (h ^ 0x0A) &* 0x100_0000_01b3  // name terminator, so ["ab","c"] ≠ ["a","bc"]
    }
    for n in entities.names { eat(n) }
    h = (h ^ 0x1E) &* 0x100_0000_01b3  // group separator between the two vocabularies
    for n in relations.names { eat(n) }
    return String(h, radix: 16).leftPadded(to: 16)
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// The model folder layout (every file written atomically; `config.json` last, so a folder with
/// a config always has the files it describes):
///
///     MODEL/config.json          {"model_type": "complex", "rank", "entity_count", "relation_count",
///                                 "reciprocal": true, "vocab_hash", "info": {…}}
///     MODEL/model.safetensors    entity [N, 2k], relation [2R, 2k] (rows R..<2R: inverses), F32
///     MODEL/entities.txt         one entity name per line, in id order
///     MODEL/relations.txt        one relation name per line, in id order
///
/// ```swift
/// try LinkPredictorFiles.save(SavedLinkPredictor(model: m, entities: kg.entities, relations: kg.relations), to: dir)
/// let saved = try LinkPredictorFiles.load(dir)
/// ```
public enum LinkPredictorFiles {
    public static let configName = "config.json"
    public static let weightsName = "model.safetensors"
    public static let entitiesName = "entities.txt"
    public static let relationsName = "relations.txt"

    public static func save(_ saved: SavedLinkPredictor, to folder: URL) throws {
        let m = saved.model
        guard saved.entities.count == m.entityCount, saved.relations.count == m.relationCount else {
            throw GraphDataError("save: \(saved.entities.count) entity / \(saved.relations.count) relation names for a model of "
                                 + "\(m.entityCount) / \(m.relationCount); save the vocabularies the model was trained with")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try AtomicFile.write(saved.entities.names.joined(separator: "\n") + "\n", to: folder.appendingPathComponent(entitiesName))
        try AtomicFile.write(saved.relations.names.joined(separator: "\n") + "\n", to: folder.appendingPathComponent(relationsName))
        try SafeTensors.write(
            ["entity": Tensor(m.entity, shape: [m.entityCount, m.width]),
             "relation": Tensor(m.relation, shape: [2 * m.relationCount, m.width])],
            metadata: ["format": "pt", "model_type": "complex"], to: folder.appendingPathComponent(weightsName))
        let config = JSONObject([
            ("model_type", .string("complex")),
            ("rank", .int(Int64(m.rank))),
            ("entity_count", .int(Int64(m.entityCount))),
            ("relation_count", .int(Int64(m.relationCount))),
            ("reciprocal", .bool(true)),
            ("vocab_hash", .string(saved.vocabularyHash)),
            ("info", .object(saved.info)),
        ])
        try AtomicFile.write(JSONText.pretty(.object(config)), to: folder.appendingPathComponent(configName))
    }

    public static func load(_ folder: URL) throws -> SavedLinkPredictor {
        let configURL = folder.appendingPathComponent(configName)
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw GraphDataError("\(folder.path): no \(configName); pass a model folder written by `kg-query train --out DIR`")
        }
        let c = try JSONConfig(contentsOf: configURL)
        let type = try c.string("model_type")
        guard type == "complex" else {
            throw GraphDataError("\(configURL.path): model_type '\(type)' is not 'complex'; this is not a kg-query model folder")
        }
        let rank = try c.int("rank"), n = try c.int("entity_count"), r = try c.int("relation_count")
        guard rank > 0, n > 0, r > 0 else {
            throw GraphDataError("\(configURL.path): rank, entity_count and relation_count must be positive")
        }
        let ents = try readNames(folder.appendingPathComponent(entitiesName), expected: n, what: "entity")
        let rels = try readNames(folder.appendingPathComponent(relationsName), expected: r, what: "relation")
        let hash = vocabularyFingerprint(entities: ents, relations: rels)
        let stored = try c.string("vocab_hash")
        guard hash == stored else {
            throw GraphDataError("\(folder.path): \(entitiesName)/\(relationsName) have fingerprint \(hash) but \(configName) "
                                 + "says \(stored); the files come from different runs, retrain or restore the folder")
        }
        let st = try SafeTensorsFile(folder.appendingPathComponent(weightsName))
        // Check shapes from the header before decoding, so a lying file allocates nothing big.
        for (key, rows) in [("entity", n), ("relation", 2 * r)] {
            let info = try st.info(key)
            guard info.shape == [rows, 2 * rank] else {
                throw GraphDataError("\(st.url.path): tensor '\(key)' has shape \(info.shape), config.json implies [\(rows), \(2 * rank)]; "
                                     + "the weights and config come from different runs")
            }
        }
        let model = try ComplExModel(entityCount: n, relationCount: r, rank: rank,
                                     entity: try st.floats("entity"), relation: try st.floats("relation"))
        let info: JSONObject
        if case let .object(o)? = c.value("info") { info = o } else { info = JSONObject() }
        return SavedLinkPredictor(model: model, entities: ents, relations: rels, info: info)
    }

    static func readNames(_ url: URL, expected: Int, what: String) throws -> Vocabulary {
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
            throw GraphDataError("\(url.path): cannot read the \(what) names (missing or not UTF-8); the model folder is incomplete")
        }
        var names = text.textLines().map(String.init)
        if names.last == "" { names.removeLast() }
        guard names.count == expected else {
            throw GraphDataError("\(url.path): \(names.count) \(what) names, config.json says \(expected)")
        }
        let v = Vocabulary(names)
        guard v.count == names.count else {
            throw GraphDataError("\(url.path): a \(what) name appears twice; names must be unique")
        }
        return v
    }
}

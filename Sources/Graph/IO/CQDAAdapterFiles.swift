import Core
import Foundation

/// A CQD-A adapter with the CQD settings it was trained under.
public struct SavedCQDAAdapter {
    public let adapter: CQDAAdapter
    /// Beam width, t-norm and normalisation used in training (the defaults for evaluation).
    public let cqd: CQDOptions
    public let info: JSONObject
}

/// The adapter folder, in the adapter library's convention (a PEFT-style config next to a
/// safetensors file holding only the adapter's tensors; the link predictor is the frozen base):
///
///     A/adapter_config.json        {"peft_type": "CQDA", "inputs": "sp", "rank", "entity_count",
///                                   "relation_count", "base_vocab_hash", "init_scale",
///                                   "beam_width", "t_norm", "normalization", "info": {…}}
///     A/adapter_model.safetensors  s.weight [2, 2k], s.bias [2], p.weight, p.bias, … (or phi.*)
///
/// Loading checks the adapter against the model it is applied to (rank, entity and relation
/// counts, vocabulary fingerprint) and names the mismatch.
///
/// ```swift
/// try CQDAAdapterFiles.save(adapter, cqd: options, base: saved, to: dir)
/// let a = try CQDAAdapterFiles.load(dir, base: saved)
/// ```
public enum CQDAAdapterFiles {
    public static let configName = "adapter_config.json"
    public static let weightsName = "adapter_model.safetensors"
    public static let peftType = "CQDA"

    public static func save(
        _ adapter: CQDAAdapter, cqd: CQDOptions, base: SavedLinkPredictor, info: JSONObject = JSONObject(), to folder: URL
    ) throws {
        guard adapter.rank == base.model.rank else {
            throw GraphDataError("save adapter: adapter rank \(adapter.rank) ≠ model rank \(base.model.rank)")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var tensors: [String: Tensor] = [:]
        for (k, t) in adapter.namedParameters() { tensors[k] = Tensor(t.storage, shape: t.shape) }
        try SafeTensors.write(tensors, metadata: ["format": "pt", "peft_type": peftType],
                              to: folder.appendingPathComponent(weightsName))
        let config = JSONObject([
            ("peft_type", .string(peftType)),
            ("inputs", .string(adapter.inputs)),
            ("rank", .int(Int64(adapter.rank))),
            ("entity_count", .int(Int64(base.model.entityCount))),
            ("relation_count", .int(Int64(base.model.relationCount))),
            ("base_vocab_hash", .string(base.vocabularyHash)),
            ("beam_width", .int(Int64(cqd.beamWidth))),
            ("t_norm", .string(cqd.tNorm.rawValue)),
            ("normalization", .string(cqd.normalization.rawValue)),
            ("info", .object(info)),
        ])
        try AtomicFile.write(JSONText.pretty(.object(config)), to: folder.appendingPathComponent(configName))
    }

    public static func load(_ folder: URL, base: SavedLinkPredictor) throws -> SavedCQDAAdapter {
        let configURL = folder.appendingPathComponent(configName)
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw GraphDataError("\(folder.path): no \(configName); pass an adapter folder written by `kg-query adapt --out DIR`")
        }
        let c = try JSONConfig(contentsOf: configURL)
        let type = try c.string("peft_type")
        guard type == peftType else {
            throw GraphDataError("\(configURL.path): peft_type '\(type)' is not '\(peftType)'; this adapter is not a CQD-A adapter")
        }
        let rank = try c.int("rank"), n = try c.int("entity_count"), r = try c.int("relation_count")
        let m = base.model
        let place = "\(configURL.path): adapter does not match the model"
        guard rank == m.rank else {
            throw GraphDataError("\(place): adapter rank \(rank), model rank \(m.rank); adapt again on this model")
        }
        guard n == m.entityCount, r == m.relationCount else {
            throw GraphDataError("\(place): adapter made for \(n) entities / \(r) relations, model has \(m.entityCount) / \(m.relationCount); "
                                 + "adapt again on this model")
        }
        let hash = try c.string("base_vocab_hash")
        guard hash == base.vocabularyHash else {
            throw GraphDataError("\(place): vocabulary fingerprint \(hash) ≠ model's \(base.vocabularyHash) "
                                 + "(same sizes, different names or order); adapt again on this model")
        }
        let inputs = try c.string("inputs")
        let adapter = try CQDAAdapter(rank: rank, inputs: inputs, seed: 0)
        let st = try SafeTensorsFile(folder.appendingPathComponent(weightsName))
        let expected = Set(adapter.namedParameters().map(\.0))
        let extra = Set(st.keys).subtracting(expected)
        guard extra.isEmpty else {
            throw GraphDataError("\(st.url.path): unexpected tensors \(extra.sorted()) for inputs \"\(inputs)\" "
                                 + "(expected \(expected.sorted())); the config and weights do not belong together")
        }
        for (key, t) in adapter.namedParameters() {
            let info = try st.info(key)
            guard info.shape == t.shape else {
                throw GraphDataError("\(st.url.path): tensor '\(key)' has shape \(info.shape), expected \(t.shape) for rank \(rank)")
            }
            t.storage = try st.floats(key)
        }
        let cqd = CQDOptions(
            beamWidth: try c.int("beam_width", default: 16),
            tNorm: try parseEnum(TNorm.self, try c.string("t_norm", default: "prod"), key: "t_norm", file: configURL.path),
            normalization: try parseEnum(AtomNormalization.self, try c.string("normalization", default: "sigmoid"),
                                         key: "normalization", file: configURL.path))
        let info: JSONObject
        if case let .object(o)? = c.value("info") { info = o } else { info = JSONObject() }
        return SavedCQDAAdapter(adapter: adapter, cqd: cqd, info: info)
    }
}

/// A `String`-backed enum case from text, with the accepted values in the error.
func parseEnum<E: RawRepresentable & CaseIterable>(_: E.Type, _ text: String, key: String, file: String) throws -> E
where E.RawValue == String {
    guard let v = E(rawValue: text) else {
        throw GraphDataError("\(file): \(key) '\(text)' is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return v
}

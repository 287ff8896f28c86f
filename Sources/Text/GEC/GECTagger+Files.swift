import Core
import Foundation

/// `gec_tags.json`: what a saved tagger needs besides its adapter tensors.
public struct GECTagMap: Codable, Sendable, Equatable {
    public var labels: [String]
    public var baseModel: String
    public var method: String
    public var maxLength: Int
    /// Sub-folders holding the encoder adapters, oldest first (the head is in `head/`).
    public var encoderAdapters: [String]
    /// Whether the training targets used suffix/case transforms (absent in older files: true).
    public var transforms: Bool?

    enum CodingKeys: String, CodingKey {
        case labels
        case baseModel = "base_model_name_or_path"
        case method
        case maxLength = "max_length"
        case encoderAdapters = "encoder_adapters"
        case transforms
    }
}

extension GECTagger {
    /// Writes `head/` and one folder per encoder adapter (PEFT layout each) and `gec_tags.json`,
    /// every file atomically.
    public func save(to directory: URL) throws {
        try peft.save(to: directory.appendingPathComponent(Self.headAdapter), adapter: Self.headAdapter)
        for name in encoderAdapters { try peft.save(to: directory.appendingPathComponent(name), adapter: name) }
        let map = GECTagMap(labels: vocabulary.labels, baseModel: modelFolder, method: options.method.rawValue,
                            maxLength: options.maxLength, encoderAdapters: encoderAdapters, transforms: vocabulary.transforms)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try enc.encode(map), to: directory.appendingPathComponent(Self.tagFile), createDirectories: true)
    }

    /// Reloads a tagger written by `save(to:)`; `model` overrides the recorded base folder.
    public static func load(adapter folder: String, model: String? = nil) throws -> GECTagger {
        let path = (folder as NSString).appendingPathComponent(tagFile)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GECError.unusable("\(folder): no \(tagFile); pass a folder written by `gec-cl run --out` (its adapter/ folder)")
        }
        let map: GECTagMap
        do { map = try JSONDecoder().decode(GECTagMap.self, from: data) } catch {
            throw GECError.unusable("\(path): not a GEC tag map (\(error.localizedDescription))")
        }
        guard let method = GECMethod(rawValue: map.method) else { throw GECError.unusable("\(path): unknown method '\(map.method)'") }
        var base = model ?? map.baseModel
        if model == nil, !FileManager.default.fileExists(atPath: (base as NSString).appendingPathComponent("config.json")) {
            guard base.hasSuffix(DefaultModels.miniLMRelativePath) else {
                throw GECError.unusable("\(path): the base model \(base) is not there; pass --model DIR")
            }
            base = try DefaultModels.miniLM()
        }
        var o = GECModelOptions()
        o.method = method
        o.maxLength = map.maxLength
        let tagger = try GECTagger(modelFolder: base, vocabulary: GECTagVocabulary(labels: map.labels, transforms: map.transforms ?? true), options: o, encoderAdapter: nil)
        try tagger.peft.deleteAdapter(headAdapter)
        _ = try tagger.peft.load(from: URL(fileURLWithPath: folder).appendingPathComponent(headAdapter), adapter: headAdapter)
        for name in map.encoderAdapters {
            _ = try tagger.peft.load(from: URL(fileURLWithPath: folder).appendingPathComponent(name), adapter: name)
        }
        tagger.restoreAdapters(map.encoderAdapters)
        try tagger.peft.setActiveAdapters([headAdapter] + map.encoderAdapters)
        tagger.model.eval()
        return tagger
    }
}

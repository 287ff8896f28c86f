import Core
import Foundation
import Testing
@testable import Graph
import TestSupport

/// Model and adapter folders: what is written is what is read back, and a mismatched or
/// damaged folder is refused with a message that says what is wrong.
@Suite struct KGFilesTests {
    static func savedModel(rank: Int = 4, names: [String]? = nil, seed: UInt64 = 1) -> SavedLinkPredictor {
        let ents = Vocabulary(names ?? (0..<6).map { "e\($0)" })
        let rels = Vocabulary(["r0", "r1"])
        let m = ComplExModel(entityCount: ents.count, relationCount: rels.count, rank: rank, initScale: 0.5, seed: seed)
        return SavedLinkPredictor(model: m, entities: ents, relations: rels, info: JSONObject([("note", .string("test"))]))
    }

    static func trainedAdapter(_ base: SavedLinkPredictor, inputs: String = "sp") throws -> CQDAAdapter {
        let a = try CQDAAdapter(rank: base.model.rank, inputs: inputs, seed: 5)
        // Move the weights away from the init so a load that silently re-initialises would show.
        for (_, t) in a.namedParameters() { t.storage = t.storage.enumerated().map { Float($0.offset % 7) * 0.01 - 0.03 + $0.element } }
        return a
    }

    @Test func modelRoundTripGivesIdenticalScores() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = Self.savedModel(names: ["e0", "New York", "e 2", "α", "e4", "e5"])
        try LinkPredictorFiles.save(saved, to: dir)
        let back = try LinkPredictorFiles.load(dir)
        #expect(back.entities == saved.entities && back.relations == saved.relations)
        #expect(back.model.rank == 4 && back.model.entityCount == 6 && back.model.relationCount == 2)
        // F32 safetensors keep every bit, so all scores (both directions) are identical.
        let anchors = Array(0..<6) + Array(0..<6), rels = [Int](repeating: 1, count: 6) + [Int](repeating: 3, count: 6)
        #expect(back.model.scoreAll(anchors: anchors, relations: rels) == saved.model.scoreAll(anchors: anchors, relations: rels))
        #expect(back.model.entity == saved.model.entity && back.model.relation == saved.model.relation)
        #expect(back.vocabularyHash == saved.vocabularyHash)
        #expect(back.info["note"] == .string("test"))
        // No temporary files are left next to the outputs.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
                == ["config.json", "entities.txt", "model.safetensors", "relations.txt"])
    }

    @Test func adapterRoundTripGivesIdenticalQueryScores() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = Self.savedModel()
        for inputs in ["sp", "spo", ""] {
            let a = try Self.trainedAdapter(base, inputs: inputs)
            let opts = CQDOptions(beamWidth: 3, tNorm: .godel, normalization: .sigmoid)
            try CQDAAdapterFiles.save(a, cqd: opts, base: base, to: dir)
            let back = try CQDAAdapterFiles.load(dir, base: base)
            #expect(back.adapter.inputs == inputs)
            #expect(back.cqd.beamWidth == 3 && back.cqd.tNorm == .godel && back.cqd.normalization == .sigmoid)
            // pni exercises the adapter on every atom, negation and the beam.
            let q: Query = .and([.not(.project(.project(.entity(0), 0), 1)), .project(.entity(2), 2)])
            let before = try withoutGrad { try CQDBeam(model: base.model, options: opts, adapter: a).truth(q) }
            let after = try withoutGrad { try CQDBeam(model: base.model, options: back.cqd, adapter: back.adapter).truth(q) }
            #expect(before.storage == after.storage)
        }
    }

    @Test func adapterForAnotherModelIsRefused() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = Self.savedModel(rank: 4)
        try CQDAAdapterFiles.save(try Self.trainedAdapter(base), cqd: CQDOptions(), base: base, to: dir)

        func message(_ other: SavedLinkPredictor) -> String {
            do { _ = try CQDAAdapterFiles.load(dir, base: other); return "loaded" } catch { return "\(error)" }
        }
        let otherRank = message(Self.savedModel(rank: 8))
        #expect(otherRank.contains("adapter rank 4, model rank 8"), "\(otherRank)")
        // Same sizes, different entity names (or order): only the fingerprint can tell.
        let renamed = message(Self.savedModel(names: ["e0", "e1", "e2", "e3", "e5", "e4"]))
        #expect(renamed.contains("vocabulary fingerprint"), "\(renamed)")
        let bigger = message(Self.savedModel(names: (0..<7).map { "e\($0)" }))
        #expect(bigger.contains("6 entities / 2 relations") && bigger.contains("7 / 2"), "\(bigger)")
        #expect(message(base) == "loaded")

        // A config that is not a CQD-A adapter.
        let cfg = dir.appendingPathComponent(CQDAAdapterFiles.configName)
        let text = try String(contentsOf: cfg, encoding: .utf8).replacingOccurrences(of: "\"CQDA\"", with: "\"LORA\"")
        try text.write(to: cfg, atomically: true, encoding: .utf8)
        #expect(message(base).contains("peft_type 'LORA' is not 'CQDA'"))
    }

    @Test func damagedModelFoldersAreRefused() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = Self.savedModel()
        func message() -> String {
            do { _ = try LinkPredictorFiles.load(dir); return "loaded" } catch { return "\(error)" }
        }
        #expect(message().contains("no config.json"))
        try LinkPredictorFiles.save(saved, to: dir)
        // Edited vocabulary: the fingerprint no longer matches the config.
        let ents = dir.appendingPathComponent(LinkPredictorFiles.entitiesName)
        try "e0\ne1\ne2\ne3\ne4\nX\n".write(to: ents, atomically: true, encoding: .utf8)
        #expect(message().contains("fingerprint"))
        try "e0\ne1\ne2\n".write(to: ents, atomically: true, encoding: .utf8)
        #expect(message().contains("3 entity names, config.json says 6"))
        try "e0\ne1\ne2\ne3\ne4\ne4\n".write(to: ents, atomically: true, encoding: .utf8)
        #expect(message().contains("appears twice"))
        // Weights from a model of another rank under this config.
        try LinkPredictorFiles.save(saved, to: dir)
        let other = dir.appendingPathComponent("other")
        try LinkPredictorFiles.save(Self.savedModel(rank: 3), to: other)
        try FileManager.default.removeItem(at: dir.appendingPathComponent(LinkPredictorFiles.weightsName))
        try FileManager.default.copyItem(at: other.appendingPathComponent(LinkPredictorFiles.weightsName),
                                         to: dir.appendingPathComponent(LinkPredictorFiles.weightsName))
        #expect(message().contains("has shape [6, 6], config.json implies [6, 8]"), "\(message())")
    }

    /// Hand-computed FNV-1a 64: the empty input hashes to the offset basis; the separators make
    /// the fingerprint depend on where names split.
    @Test func vocabularyFingerprintIsStableAndSplitSensitive() {
        let a = vocabularyFingerprint(entities: Vocabulary(["ab", "c"]), relations: Vocabulary(["r"]))
        let b = vocabularyFingerprint(entities: Vocabulary(["a", "bc"]), relations: Vocabulary(["r"]))
        let c = vocabularyFingerprint(entities: Vocabulary(["ab"]), relations: Vocabulary(["c", "r"]))
        #expect(Set([a, b, c]).count == 3)
        #expect(a.count == 16 && a == vocabularyFingerprint(entities: Vocabulary(["ab", "c"]), relations: Vocabulary(["r"])))
        // Only the group separator 0x1E: basis 0xcbf29ce484222325 xor 0x1E, times the FNV prime.
        let expected = (UInt64(0xcbf2_9ce4_8422_2325) ^ 0x1E) &* 0x100_0000_01b3
        #expect(vocabularyFingerprint(entities: Vocabulary(), relations: Vocabulary()) == String(expected, radix: 16).leftPadded(to: 16))
    }
}

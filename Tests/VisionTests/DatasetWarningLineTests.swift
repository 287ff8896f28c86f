import Foundation
import Testing
@testable import Vision

/// The dataset readers' *warnings* (skipped files, dropped classes) quote file and folder names,
/// and a name may hold a newline or an escape sequence on Linux. A raw newline would split one
/// warning over two log lines (a forged "warning:" line from a file name); each warning must
/// stay one line and still name the file, escaped the way `oneLineMessage` writes it.
@Suite struct DatasetWarningLineTests {
    /// A fresh folder under the temporary directory, removed by the caller.
    private func scratch() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-warn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    private func file(_ url: URL, _ bytes: [UInt8] = Array("P5\n1 1\n255\n\u{7F}".utf8)) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Every warning is one line; the one about `escapedName` is present (the name escaped).
    private func expectOneLine(_ warnings: [String], mentioning escapedName: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!warnings.isEmpty, sourceLocation: sourceLocation)
        for w in warnings {
            #expect(!w.contains("\n") && !w.contains("\r") && !w.contains("\u{1B}"), "\(w.debugDescription)", sourceLocation: sourceLocation)
        }
        #expect(warnings.contains { $0.contains(escapedName) }, "\(warnings)", sourceLocation: sourceLocation)
    }

    @Test func imageFolderWarningsAreOneLine() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        try file(root.appendingPathComponent("cat/1.pgm"))
        try file(root.appendingPathComponent("cat/notes\nwarning: forged.txt"), Array("x".utf8))   // skipped file
        try file(root.appendingPathComponent("stray\rfile.png"))                                   // outside any class folder
        try FileManager.default.createDirectory(at: root.appendingPathComponent("empty\nclass"), withIntermediateDirectories: true)
        let folder = try ImageFolder(root: root)
        #expect(folder.classes == ["cat"])
        expectOneLine(folder.warnings, mentioning: #"notes\nwarning: forged.txt"#)
        expectOneLine(folder.warnings, mentioning: #"stray\rfile.png"#)
        expectOneLine(folder.warnings, mentioning: #"'empty\nclass' has no usable images"#)
        // A split given the training classes: an unknown class folder and a missing class.
        let other = try scratch()
        defer { try? FileManager.default.removeItem(at: other) }
        try file(other.appendingPathComponent("dog\u{1B}[2K/1.pgm"))
        let split = try ImageFolder(root: other, classes: ["cat"])
        expectOneLine(split.warnings, mentioning: #"class folder 'dog\u{1B}[2K' is not one of the 1 training classes"#)
    }

    @Test func deepfakeDataWarningsAreOneLine() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        try file(root.appendingPathComponent("real/a.pgm"))
        try file(root.appendingPathComponent("real/read\nme.txt"), Array("x".utf8))         // non-image under real/
        try file(root.appendingPathComponent("fake/swap/b.pgm"))
        try file(root.appendingPathComponent("fake/loose\nnote.txt"), Array("x".utf8))      // non-image directly in fake/
        try FileManager.default.createDirectory(at: root.appendingPathComponent("fake/empty\nfamily"), withIntermediateDirectories: true)
        let data = try DeepfakeData(root: root)
        #expect(data.reals.count == 1 && data.fakes.count == 1)
        expectOneLine(data.warnings, mentioning: #"read\nme.txt: not an image file"#)
        expectOneLine(data.warnings, mentioning: #"loose\nnote.txt: not an image file"#)
        expectOneLine(data.warnings, mentioning: #"family folder 'empty\nfamily' holds no image"#)
        // Warnings carried into a family selection stay escaped.
        expectOneLine(try data.keeping(families: ["swap"]).warnings, mentioning: #"read\nme.txt"#)
    }

    @Test func faceDatasetWarningsAreOneLine() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        try file(root.appendingPathComponent("s1/1.pgm"))
        try file(root.appendingPathComponent("s1/2.pgm"))
        try file(root.appendingPathComponent("s1/x\ny.txt"), Array("x".utf8))             // not an accepted type
        try file(root.appendingPathComponent("loose\rfile.pgm"))                            // outside any identity folder
        try file(root.appendingPathComponent("one\nimage/1.pgm"))                           // an identity with one image
        try FileManager.default.createDirectory(at: root.appendingPathComponent("no\nimages"), withIntermediateDirectories: true)
        let faces = try FaceDataset(root: root)
        #expect(faces.identities.map(\.name).contains("s1"))
        expectOneLine(faces.warnings, mentioning: #"x\ny.txt: not one of the accepted types"#)
        expectOneLine(faces.warnings, mentioning: #"loose\rfile.pgm: file outside any identity folder"#)
        expectOneLine(faces.warnings, mentioning: #"identity 'one\nimage' has one image"#)
        expectOneLine(faces.warnings, mentioning: #"identity 'no\nimages' has no images"#)
    }

    /// Decoding failures found later (`ImageFolder.loadImages`) are warned about too; the file
    /// name is quoted inside the decoder's message.
    @Test func undecodableImageWarningsAreOneLine() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        try file(root.appendingPathComponent("cat/1.pgm"))
        try file(root.appendingPathComponent("cat/broken\nwarning: forged.png"), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])  // signature only
        let folder = try ImageFolder(root: root)
        let loaded = try ImageFolder.loadImages(folder.samples)
        #expect(loaded.images.count == 1)
        expectOneLine(loaded.skipped, mentioning: #"broken\nwarning: forged.png"#)
    }

    /// A class folder name near the file system's 255-byte limit is clipped where it is quoted
    /// (the path still names it in full), so one warning does not carry the name twice in full.
    @Test func longClassNamesAreClippedInWarnings() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let long = String(repeating: "k", count: 250)
        try file(root.appendingPathComponent("cat/1.pgm"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent(long), withIntermediateDirectories: true)
        let folder = try ImageFolder(root: root)
        let w = try #require(folder.warnings.first { $0.contains("has no usable images") })
        #expect(w.contains("'" + String(repeating: "k", count: 80) + "…(170 more characters)'"), "\(w)")
    }
}

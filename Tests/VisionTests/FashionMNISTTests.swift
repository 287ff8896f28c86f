import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// The IDX reader on hand-made bytes (the format is a 4-byte magic, big-endian sizes, raw
/// data), bad headers, the converter on a synthetic split, and the real Debian files if installed.
@Suite struct FashionMNISTTests {
    /// IDX bytes of `shape` with `values`.
    static func idx(_ shape: [Int], _ values: [UInt8], type: UInt8 = 0x08) -> [UInt8] {
        var b: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for n in shape { b += [UInt8(n >> 24 & 255), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] }
        return b + values
    }

    @Test func parsesHandMadeIDX() throws {
        let a = try IDXArray(bytes: Self.idx([2, 2, 3], Array(0..<12)), file: "x")
        #expect(a.shape == [2, 2, 3])
        #expect(a.values == Array(0..<12))
        // 258 = 0x0102 exercises the big-endian size.
        #expect(try IDXArray(bytes: Self.idx([258], [UInt8](repeating: 7, count: 258)), file: "x").shape == [258])
    }

    @Test func rejectsBadHeaders() {
        func error(_ bytes: [UInt8]) -> String? {
            do { _ = try IDXArray(bytes: bytes, file: "labels.idx"); return nil } catch { return "\(error)" }
        }
        // A header claiming 60000×28×28 over 10 bytes: refused before any allocation, naming the file.
        let lying = error(Self.idx([60000, 28, 28], [UInt8](repeating: 0, count: 10)))
        #expect(lying?.contains("labels.idx") == true && lying?.contains("47040000") == true)
        #expect(error(Self.idx([70000, 70000, 70000], [])) != nil)        // over the element limit
        #expect(error(Self.idx([2], [1, 2], type: 0x0D)) != nil)           // float data, not bytes
        #expect(error([1, 2, 8, 1]) != nil)                                // bad magic
        #expect(error([0, 0]) != nil)                                      // truncated
        #expect(error(Self.idx([3], [1, 2, 3, 4])) != nil)                 // trailing byte
    }

    @Test func convertsASplitToAnImageFolder() throws {
        let src = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: src) }
        // 30 images of 4×3: image i is filled with value i, label i % 10.
        let n = 30
        let pixels = (0..<n).flatMap { i in [UInt8](repeating: UInt8(i), count: 12) }
        for prefix in ["train", "t10k"] {
            try Data(Self.idx([n, 3, 4], pixels)).write(to: src.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try Data(Self.idx([n], (0..<n).map { UInt8($0 % 10) })).write(to: src.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        let out = src.appendingPathComponent("fm")
        let summary = try FashionMNIST.writeImageFolder(to: out, source: src, trainPerClass: 2, testPerClass: 1)
        #expect(summary.trainPerClass == [Int](repeating: 2, count: 10))
        #expect(summary.testPerClass == [Int](repeating: 1, count: 10))
        let folder = try ImageFolderSplits(root: out)
        #expect(folder.train.classes == FashionMNIST.classNames.sorted())
        #expect(folder.train.samples.count == 20 && folder.test?.samples.count == 10)
        // Class "Bag" is label 8: its first training images are indices 8 and 18, kept under their index.
        let bag = out.appendingPathComponent("train/Bag/train-00018.png")
        let img = try PNGCodec.decode(contentsOf: bag)
        #expect(img.width == 4 && img.height == 3 && img.channels == 1 && img.pixels.allSatisfy { $0 == 18 })
        // An existing folder is not overwritten by accident.
        #expect(throws: DatasetError.self) { try FashionMNIST.writeImageFolder(to: out, source: src, trainPerClass: 1, testPerClass: 1) }
        #expect(throws: DatasetError.self) { try FashionMNIST.load(split: "train", from: out) }
    }

    static var installed: Bool {
        FileManager.default.fileExists(atPath: FashionMNIST.debianFolder.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path)
    }

    @Test(.enabled(if: FashionMNISTTests.installed, "apt-get install dataset-fashion-mnist"))
    func readsTheDebianTestSplit() throws {
        let split = try FashionMNIST.load(split: "t10k")
        // The README: 10,000 test images of 28×28, 1,000 per class.
        #expect(split.count == 10_000 && split.width == 28 && split.height == 28)
        var counts = [Int](repeating: 0, count: 10)
        for l in split.labels.values { counts[Int(l)] += 1 }
        #expect(counts == [Int](repeating: 1000, count: 10))
    }
}

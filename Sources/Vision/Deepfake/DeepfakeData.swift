import Core
import Foundation

/// One labelled image for manipulation detection.
public struct DeepfakeSample: Sendable, Equatable, Hashable {
    public let url: URL
    /// true = manipulated.
    public let isFake: Bool
    /// "real" for real images; the fake's family (its subfolder of `fake/`, or "fake").
    public let family: String

    public init(url: URL, isFake: Bool, family: String) {
        self.url = url
        self.isFake = isFake
        self.family = family
    }
}

/// Real and fake images read from folders: `--data DIR` with `DIR/real/` and `DIR/fake/`
/// (images directly in `fake/`, or one subfolder per manipulation family), or `--real DIR
/// --fake DIR` given separately. Files are taken in sorted order; non-image files are skipped
/// with a warning. An empty real or fake side is an error (no detector can be trained or
/// judged without both classes).
public struct DeepfakeData: Sendable {
    public let samples: [DeepfakeSample]
    public let warnings: [String]

    /// Family names of the fakes, sorted.
    public var families: [String] { Array(Set(samples.filter(\.isFake).map(\.family))).sorted() }
    public var reals: [DeepfakeSample] { samples.filter { !$0.isFake } }
    public var fakes: [DeepfakeSample] { samples.filter(\.isFake) }

    public init(samples: [DeepfakeSample], warnings: [String] = []) {
        self.samples = samples
        // Warnings quote file names, which may hold newlines on Linux: escaped to one line each.
        self.warnings = warnings.map(oneLineMessage)
    }

    /// `root/real` and `root/fake`.
    public init(root: URL) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError("\(root.path): not a folder; --data needs DIR/real/ and DIR/fake/ (build one with `deepfake-detect build-data`)")
        }
        try self.init(real: root.appendingPathComponent("real"), fake: root.appendingPathComponent("fake"))
    }

    /// Real images from `real` (recursively), fakes from `fake` (files there are family "fake";
    /// each subfolder is one family, read recursively).
    public init(real: URL, fake: URL) throws {
        var warnings: [String] = []
        let reals = try Self.images(in: real, role: "real", warnings: &warnings).map { DeepfakeSample(url: $0, isFake: false, family: "real") }
        var fakes: [DeepfakeSample] = []
        let fm = FileManager.default
        try Self.requireFolder(fake, role: "fake")
        for name in try fm.contentsOfDirectory(atPath: fake.path).sorted() where !name.hasPrefix(".") {
            let url = fake.appendingPathComponent(name)
            var isDir: ObjCBool = false
            fm.fileExists(atPath: url.path, isDirectory: &isDir)
            if isDir.boolValue {
                let files = try Self.images(in: url, role: "fake", warnings: &warnings, allowEmpty: true)
                if files.isEmpty { warnings.append("\(url.path): family folder '\(clippedForMessage(name))' holds no image, ignored") }
                fakes += files.map { DeepfakeSample(url: $0, isFake: true, family: name) }
            } else if ImageFolder.imageExtensions.contains(url.pathExtension.lowercased()) {
                fakes.append(DeepfakeSample(url: url, isFake: true, family: "fake"))
            } else {
                warnings.append("\(url.path): not an image file, skipped")
            }
        }
        guard !fakes.isEmpty else {
            throw DatasetError("\(fake.path): no fake images (PNG, JPEG, PGM/PPM) in it or its family subfolders; a detector needs both classes")
        }
        self.init(samples: reals + fakes, warnings: warnings)
    }

    /// Only reals and the fakes of `families` (all fakes when nil). Unknown names are an error.
    public func keeping(families keep: [String]?) throws -> DeepfakeData {
        guard let keep else { return self }
        let known = Set(families)
        for f in keep where !known.contains(f) {
            throw DatasetError("family '\(clippedForMessage(f))' is not in the data (found: \(families.joined(separator: ", ")))")
        }
        return DeepfakeData(samples: samples.filter { !$0.isFake || keep.contains($0.family) }, warnings: warnings)
    }

    static func requireFolder(_ url: URL, role: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError("\(url.path): the \(role) image folder does not exist")
        }
    }

    /// Image files under `folder` (recursively), sorted by path.
    static func images(in folder: URL, role: String, warnings: inout [String], allowEmpty: Bool = false) throws -> [URL] {
        try requireFolder(folder, role: role)
        var out: [URL] = []
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw DatasetError("\(folder.path): cannot be listed")
        }
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            if url.lastPathComponent.hasPrefix(".") { continue }
            if ImageFolder.imageExtensions.contains(url.pathExtension.lowercased()) {
                out.append(url.standardizedFileURL)
            } else {
                warnings.append("\(url.path): not an image file, skipped")
            }
        }
        if out.isEmpty && !allowEmpty {
            throw DatasetError("\(folder.path): no \(role) images (PNG, JPEG, PGM/PPM) found")
        }
        return out.sorted { $0.path < $1.path }
    }
}

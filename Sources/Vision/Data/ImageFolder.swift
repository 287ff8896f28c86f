import Core
import Foundation

/// A problem with a dataset as a whole (a missing root, no classes, too few images for K-shot).
public struct DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    /// Messages quote file and folder names, which may hold newlines or other control
    /// characters on Linux: they are escaped so the error stays one line.
    public init(_ message: String) { self.message = oneLineMessage(message) }
    public var description: String { message }
}

/// One image file and its class index.
public struct ImageSample: Sendable, Equatable, Hashable {
    public let url: URL
    public let label: Int
    public init(url: URL, label: Int) {
        self.url = url
        self.label = label
    }
}

/// An image-classification folder in torchvision's `ImageFolder` layout, `root/<class>/<image>`:
/// one sub-folder per class (nested folders inside a class are searched too), class indices by
/// sorted folder name, samples sorted by path within each class.
///
/// Bad input never crashes. By default each problem is skipped and recorded in `warnings` (one
/// line naming the file); with `strict: true` the first problem throws instead:
/// - a file whose extension is not an image's (`notes.txt`), or an image format this package does
///   not decode (`.bmp`, `.gif`, `.tiff`, `.webp`);
/// - a file with an image extension whose first bytes are not PNG, JPEG or PGM/PPM (empty,
///   HTML error page, ...);
/// - a class folder with no usable image (dropped from `classes`, so indices stay dense);
/// - a file directly under `root`, outside any class folder.
/// Hidden files and folders (name starting with ".") are ignored silently. Files whose
/// header is valid but whose data is damaged are found when decoded (`loadImages`).
public struct ImageFolder: Sendable {
    public let root: URL
    /// Class names; `samples[i].label` indexes this array.
    public let classes: [String]
    public let samples: [ImageSample]
    /// One line per skipped file or class (empty in strict mode, which throws instead).
    public let warnings: [String]

    /// Extensions read as images (lower-cased, as torchvision compares them).
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "jpe", "pgm", "ppm", "pnm"]
    /// Image extensions recognised but not decoded here.
    public static let unsupportedImageExtensions: Set<String> = ["bmp", "gif", "tif", "tiff", "webp", "heic", "avif"]

    /// Scans `root`. With `classes` given (e.g. the training split's), labels follow that list:
    /// class folders not in it are skipped (warning) or rejected (strict), and listed classes
    /// without a folder simply have no samples — so splits share one label space.
    public init(root: URL, classes fixedClasses: [String]? = nil, strict: Bool = false) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError("\(root.path): not a folder (expected an image folder laid out as root/<class>/<image>)")
        }
        var warnings: [String] = []
        func problem(_ message: String) throws {
            if strict { throw DatasetError(message + " (strict mode; remove the file or run without --strict to skip it)") }
            warnings.append(message)
        }

        let entries = try Self.visibleEntries(of: root)
        var folders: [String] = []
        for name in entries {
            let url = root.appendingPathComponent(name)
            if Self.isDirectory(url) { folders.append(name) } else { try problem("\(url.path): file outside any class folder, skipped") }
        }
        if fixedClasses == nil && folders.isEmpty {
            throw DatasetError("\(root.path): no class folders found; expected root/<class>/<image> (one sub-folder per class)")
        }

        var found: [String: [URL]] = [:]
        for name in folders {
            if let fixedClasses, !fixedClasses.contains(name) {
                try problem("\(root.appendingPathComponent(name).path): class folder '\(clippedForMessage(name))' is not one of the \(fixedClasses.count) training classes, skipped")
                continue
            }
            var files: [URL] = []
            for file in try Self.filesRecursively(in: root.appendingPathComponent(name)) {
                if let reason = Self.rejection(file) { try problem("\(file.path): \(reason), skipped") } else { files.append(file) }
            }
            found[name] = files
        }

        var classes: [String] = []
        if let fixedClasses {
            classes = fixedClasses
            for name in fixedClasses where (found[name] ?? []).isEmpty {
                warnings.append("\(root.appendingPathComponent(name).path): class '\(clippedForMessage(name))' has no images in this split")
            }
        } else {
            for name in folders.sorted() {
                if (found[name] ?? []).isEmpty {
                    try problem("\(root.appendingPathComponent(name).path): class folder '\(clippedForMessage(name))' has no usable images; class dropped")
                } else {
                    classes.append(name)
                }
            }
            guard !classes.isEmpty else { throw DatasetError("\(root.path): no class folder contains a usable image") }
        }
        var samples: [ImageSample] = []
        for (label, name) in classes.enumerated() {
            samples += (found[name] ?? []).map { ImageSample(url: $0, label: label) }
        }
        self.root = root
        self.classes = classes
        self.samples = samples
        // Warnings quote file and folder names, which may hold newlines on Linux: escaped so
        // each warning stays one line (as `DatasetError` does for errors).
        self.warnings = warnings.map(oneLineMessage)
    }

    /// Number of samples per class, in `classes` order.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes.count)
        for s in samples { counts[s.label] += 1 }
        return counts
    }

    // MARK: - Scanning helpers

    /// Names in `dir` not starting with ".", sorted (byte order, as Python's `sorted`).
    static func visibleEntries(of dir: URL) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir.path)
                .filter { !$0.hasPrefix(".") }
                .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        } catch {
            throw DatasetError("\(dir.path): cannot list folder: \(error.localizedDescription)")
        }
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Every visible file under `dir`, depth first in sorted order (torchvision's sorted `os.walk`).
    ///
    /// Symlinks are followed, but each real folder (device and inode) is scanned once: a folder
    /// reached a second time — a loop back to an ancestor, or a second link to a folder already
    /// scanned — is an error. Without that, two links back to the parent double the paths at every
    /// level, and the depth limit alone allowed 2^32 of them (a fuzzed tree of a few entries took
    /// gigabytes before the limit was reached).
    static func filesRecursively(in dir: URL) throws -> [URL] {
        var scanned: [FolderIdentity: String] = [:]
        return try filesRecursively(in: dir, depth: 0, scanned: &scanned)
    }

    private static func filesRecursively(in dir: URL, depth: Int, scanned: inout [FolderIdentity: String]) throws -> [URL] {
        // The path 32 levels down can run to thousands of characters: quote its start (clipped).
        guard depth < 32 else {
            throw DatasetError("\(clippedForMessage(dir.path, limit: 160)): folders nested more than 32 deep; flatten the folder")
        }
        if let identity = FolderIdentity(dir) {
            if let first = scanned[identity] {
                throw DatasetError("\(clippedForMessage(dir.path, limit: 160)): the same folder as \(clippedForMessage(first, limit: 160)) (a symlink loop or a second link to one folder); remove the link so every image is reached once")
            }
            scanned[identity] = dir.path
        }
        var files: [URL] = [], subfolders: [URL] = []
        for name in try visibleEntries(of: dir) {
            let url = dir.appendingPathComponent(name)
            if isDirectory(url) { subfolders.append(url) } else { files.append(url) }
        }
        for sub in subfolders { files += try filesRecursively(in: sub, depth: depth + 1, scanned: &scanned) }
        return files
    }

    /// A folder's identity after following symlinks (`stat`'s device and inode).
    struct FolderIdentity: Hashable {
        let device: UInt64, inode: UInt64
        init?(_ url: URL) {
            var info = stat()
            guard stat(url.path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    /// Why `file` cannot be used as an image, or nil if its extension and first bytes agree it is one.
    static func rejection(_ file: URL) -> String? {
        let ext = file.pathExtension.lowercased()
        if unsupportedImageExtensions.contains(ext) { return "image format .\(ext) is not supported (PNG, JPEG, PGM/PPM are)" }
        guard imageExtensions.contains(ext) else { return "not an image file (extension '\(ext.isEmpty ? "none" : "." + ext)')" }
        guard ImageDecoder.sniff(contentsOf: file) != nil else {
            let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? nil
            return size == 0 ? "empty file" : "content is not PNG, JPEG or PGM/PPM despite the .\(ext) extension"
        }
        return nil
    }
}

/// An image folder with optional `train/`, `val/` (or `valid/`, `validation/`) and `test/`
/// sub-folders. Without a `train/` folder the root itself is the training set. Validation and
/// test use the training split's class list so labels agree across splits.
public struct ImageFolderSplits: Sendable {
    public let train: ImageFolder
    public let val: ImageFolder?
    public let test: ImageFolder?

    public init(root: URL, strict: Bool = false) throws {
        let trainURL = root.appendingPathComponent("train")
        guard ImageFolder.isDirectory(trainURL) else {
            train = try ImageFolder(root: root, strict: strict)
            val = nil
            test = nil
            return
        }
        let trainSet = try ImageFolder(root: trainURL, strict: strict)
        let classes = trainSet.classes
        let valURL = ["val", "valid", "validation"].map { root.appendingPathComponent($0) }.first(where: ImageFolder.isDirectory)
        val = try valURL.map { try ImageFolder(root: $0, classes: classes, strict: strict) }
        let testURL = root.appendingPathComponent("test")
        test = ImageFolder.isDirectory(testURL) ? try ImageFolder(root: testURL, classes: classes, strict: strict) : nil
        train = trainSet
    }

    /// Warnings of all splits.
    public var warnings: [String] { train.warnings + (val?.warnings ?? []) + (test?.warnings ?? []) }
}

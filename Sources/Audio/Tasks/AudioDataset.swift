import Core
import Foundation

/// A problem with an audio data set: one line naming the file or folder, the place and what to do.
public struct AudioDatasetError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = oneLineMessage(description) }
}

/// One labelled clip.
public struct AudioSample: Sendable, Equatable {
    public var url: URL
    public var label: Int
    /// Cross-validation fold from a manifest (nil for folder data).
    public var fold: Int?
    public init(url: URL, label: Int, fold: Int? = nil) { self.url = url; self.label = label; self.fold = fold }
}

/// Labelled clips split for training: `train`, `validation` (best-epoch selection) and `test`.
public struct AudioSplits: Sendable {
    public var classes: [String]
    public var train: [AudioSample]
    public var validation: [AudioSample]
    public var test: [AudioSample]
    /// How the split was made, for reports.
    public var protocolNote: String
}

/// An audio classification data set in one of two layouts:
///
/// - **folder**, ImageFolder-like: `root/<class>/<file>`, or with split folders
///   `root/{train,val,test}/<class>/<file>` (class names from the union of the split folders);
/// - **CSV manifest** `path,label[,fold]` (an optional header row naming `path`/`filename`), paths
///   relative to the manifest's folder, as ESC-50 / UrbanSound8K fold protocols need.
///
/// Hidden files (`.name`) are ignored; any other file is listed and decoded later (a file that is
/// not audio is skipped with a warning, or is an error in strict mode, when the clips are loaded).
public struct AudioDataset: Sendable {
    /// Sorted class names; labels index into this.
    public var classes: [String]
    /// Samples by split name ("all" when the layout has no split folders).
    public var splits: [String: [AudioSample]]
    /// Where the data came from.
    public var source: URL

    public static let splitNames = ["train", "val", "test"]

    /// Reads `url`: a folder, or a `.csv` manifest.
    public static func open(_ url: URL) throws -> AudioDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw AudioDatasetError("\(url.path): no such file or folder; pass --data DIR (class folders) or --data FILE.csv (manifest)")
        }
        return isDirectory.boolValue ? try folder(url) : try manifest(url)
    }

    /// The folder layout.
    public static func folder(_ root: URL) throws -> AudioDataset {
        let fm = FileManager.default
        let top = try visibleEntries(root)
        let splitFolders = top.filter { splitNames.contains($0.lastPathComponent) && isDirectory($0) }
        var byLabelName: [String: [(String, URL)]] = [:]  // split → (class, file)
        if !splitFolders.isEmpty {
            for split in splitFolders {
                for classDir in try visibleEntries(split) where isDirectory(classDir) {
                    let files = try visibleEntries(classDir).filter { !isDirectory($0) }
                    guard !files.isEmpty else {
                        throw AudioDatasetError("\(classDir.path): class folder is empty; add clips or remove the folder")
                    }
                    byLabelName[split.lastPathComponent, default: []] += files.map { (classDir.lastPathComponent, $0) }
                }
            }
        } else {
            for classDir in top where isDirectory(classDir) {
                let files = try visibleEntries(classDir).filter { !isDirectory($0) }
                guard !files.isEmpty else {
                    throw AudioDatasetError("\(classDir.path): class folder is empty; add clips or remove the folder")
                }
                byLabelName["all", default: []] += files.map { (classDir.lastPathComponent, $0) }
            }
        }
        let classes = Set(byLabelName.values.flatMap { $0.map(\.0) }).sorted()
        guard classes.count >= 2 else {
            let seen = fm.fileExists(atPath: root.path) ? "found \(classes.count) class folder(s)" : "the folder does not exist"
            throw AudioDatasetError("\(root.path): \(seen); expected root/<class>/<clip> with at least two classes (optionally under train/, val/, test/)")
        }
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var splits: [String: [AudioSample]] = [:]
        for (split, pairs) in byLabelName {
            splits[split] = pairs.map { AudioSample(url: $0.1, label: index[$0.0]!) }
        }
        return AudioDataset(classes: classes, splits: splits, source: root)
    }

    /// The CSV manifest layout. Errors name the line.
    public static func manifest(_ url: URL) throws -> AudioDataset {
        guard let data = try? Data(contentsOf: url) else {
            throw AudioDatasetError("\(url.path): cannot read the manifest; check the path")
        }
        return try manifest(data: data, url: url)
    }

    /// The CSV manifest from bytes in memory; `url` names it in messages and is where relative
    /// clip paths start.
    public static func manifest(data: Data, url: URL) throws -> AudioDataset {
        guard let text = String(data: data, encoding: .utf8) else {
            throw AudioDatasetError("\(url.path): cannot read the manifest as UTF-8 text; expected lines path,label[,fold]")
        }
        let base = url.deletingLastPathComponent()
        var rows: [(URL, String, Int?)] = []
        for (n, raw) in text.textLines().enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let lineNo = n + 1
            if rows.isEmpty && ["path", "filename", "file"].contains(fields[0].lowercased()) { continue }  // header
            guard fields.count == 2 || fields.count == 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw AudioDatasetError("\(url.path): line \(lineNo): expected path,label[,fold], got \"\(line.prefix(80))\"")
            }
            var fold: Int?
            if fields.count == 3 {
                guard let f = Int(fields[2]), f >= 0 else {
                    throw AudioDatasetError("\(url.path): line \(lineNo): fold \"\(fields[2])\" is not a non-negative integer")
                }
                fold = f
            }
            let file = fields[0].hasPrefix("/") ? URL(fileURLWithPath: fields[0]) : base.appendingPathComponent(fields[0])
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw AudioDatasetError("\(url.path): line \(lineNo): file \(file.path) does not exist; fix the path (relative paths start at the manifest's folder)")
            }
            rows.append((file, fields[1], fold))
        }
        guard !rows.isEmpty else { throw AudioDatasetError("\(url.path): the manifest lists no clips") }
        let folds = Set(rows.map { $0.2 == nil })
        guard folds.count == 1 else {
            throw AudioDatasetError("\(url.path): some rows have a fold column and some do not; give every row a fold or none")
        }
        let classes = Set(rows.map(\.1)).sorted()
        guard classes.count >= 2 else { throw AudioDatasetError("\(url.path): the manifest names \(classes.count) class(es); need at least 2") }
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let samples = rows.map { AudioSample(url: $0.0, label: index[$0.1]!, fold: $0.2) }
        return AudioDataset(classes: classes, splits: ["all": samples], source: url)
    }

    /// Distinct folds in the manifest (empty for folder data).
    public var folds: [Int] { Array(Set(splits.values.flatMap { $0.compactMap(\.fold) })).sorted() }

    /// The splits for one run.
    ///
    /// - Split folders: used as they are (no `val/` → validation is the test split, as UrbanSound8K).
    /// - Folds (`fold` given): test = that fold, validation = the previous fold cyclically (ESC-50's
    ///   rotation), train = the rest; with fewer than three folds validation is the test fold.
    /// - Otherwise: a seeded per-class hold-out of `holdOut` (fraction) for test and as much again for validation.
    ///
    /// `shots` keeps K training clips per class (seeded; a class with fewer is an error naming it).
    public func makeSplits(fold: Int? = nil, holdOut: Double = 0.2, shots: Int? = nil, seed: UInt64) throws -> AudioSplits {
        var train: [AudioSample], validation: [AudioSample], test: [AudioSample], note: String
        if let t = splits["test"] ?? splits["val"], let tr = splits["train"] {
            train = tr
            test = splits["test"] ?? t
            validation = splits["val"] ?? test
            note = splits["val"] == nil ? "split folders train/test (validation = test)" : "split folders train/val/test"
        } else if splits["train"] != nil {
            throw AudioDatasetError("\(source.path): has train/ but neither val/ nor test/; add a test/ folder with the same class folders")
        } else if let k = fold {
            let all = splits["all"] ?? []
            let available = folds
            guard available.contains(k) else {
                throw AudioDatasetError("\(source.path): --fold \(k) is not in the manifest (folds: \(available.map(String.init).joined(separator: ", ")))")
            }
            let position = available.firstIndex(of: k)!
            let valFold = available.count >= 3 ? available[(position + available.count - 1) % available.count] : k
            test = all.filter { $0.fold == k }
            validation = all.filter { $0.fold == valFold }
            train = all.filter { $0.fold != k && $0.fold != valFold }
            note = "fold \(k) test, fold \(valFold) validation, \(available.count - (valFold == k ? 1 : 2)) folds train"
        } else {
            let all = splits["all"] ?? []
            (train, validation, test) = try Self.holdOutSplit(all, classes: classes, fraction: holdOut, seed: seed, source: source)
            note = "seeded per-class hold-out (\(Int(holdOut * 100))% test, \(Int(holdOut * 100))% validation)"
        }
        if let k = shots {
            train = try Self.kShot(train, k: k, classes: classes, seed: seed, source: source)
            note += ", \(k)-shot training"
        }
        guard !train.isEmpty, !test.isEmpty else {
            throw AudioDatasetError("\(source.path): the split leaves no training or no test clips (\(note))")
        }
        return AudioSplits(classes: classes, train: train, validation: validation, test: test, protocolNote: note)
    }

    /// K clips per class chosen with per-class generators forked from `seed` (a class's choice does
    /// not depend on the others), in input order.
    public static func kShot(_ samples: [AudioSample], k: Int, classes: [String], seed: UInt64, source: URL) throws -> [AudioSample] {
        guard k >= 1 else { throw AudioDatasetError("--shots must be at least 1, got \(k)") }
        var byClass = [[Int]](repeating: [], count: classes.count)
        for (i, s) in samples.enumerated() { byClass[s.label].append(i) }
        var chosen = Set<Int>()
        let base = SplitMix64(seed: seed)
        for (label, indices) in byClass.enumerated() {
            guard indices.count >= k else {
                throw AudioDatasetError("\(source.path): class '\(classes[label])' has \(indices.count) training clip(s), fewer than --shots \(k); lower --shots or add clips")
            }
            var rng = base.fork(UInt64(label))
            var pool = indices
            for i in 0..<k { pool.swapAt(i, i + Int(rng.next() % UInt64(pool.count - i))) }
            chosen.formUnion(pool[0..<k])
        }
        return samples.indices.filter(chosen.contains).map { samples[$0] }
    }

    /// Seeded per-class split into train / validation / test.
    static func holdOutSplit(_ all: [AudioSample], classes: [String], fraction: Double, seed: UInt64, source: URL) throws
        -> ([AudioSample], [AudioSample], [AudioSample]) {
        var train: [AudioSample] = [], validation: [AudioSample] = [], test: [AudioSample] = []
        let base = SplitMix64(seed: seed ^ 0x5E1E_C7ED)
        for label in classes.indices {
            var items = all.filter { $0.label == label }
            guard items.count >= 3 else {
                throw AudioDatasetError("\(source.path): class '\(classes[label])' has \(items.count) clip(s); a hold-out split needs at least 3 (or use train/ and test/ folders)")
            }
            var rng = base.fork(UInt64(label))
            for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let n = max(1, Int((Double(items.count) * fraction).rounded()))
            test += items[0..<n]
            validation += items[n..<min(items.count - 1, 2 * n)]
            train += items[min(items.count - 1, 2 * n)...]
        }
        return (train, validation, test)
    }

    static func visibleEntries(_ dir: URL) throws -> [URL] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir.path) } catch {
            throw AudioDatasetError("\(dir.path): cannot list the folder (does it exist and is it readable?)")
        }
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    static func isDirectory(_ url: URL) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &d) && d.boolValue
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the targets: scratch files for parsers that only read paths, the
/// error-message oracle, and splitting one input into several files.
enum Fuzz {
    /// A private scratch folder (tmpfs when available: the parsers that need a path read it on
    /// every execution, so disk would dominate).
    static let scratch: URL = {
        let url = URL(fileURLWithPath: scratchPath)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Where this process's scratch folder is (created on first use of `scratch`). The PID in the
    /// name lets `scripts/fuzz.sh` remove the folders of fuzz processes that died without
    /// cleaning up (a crash or a timeout ends libFuzzer with `_exit`, skipping `atexit`).
    static var scratchPath: String {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        return URL(fileURLWithPath: base).appendingPathComponent("peftkit-fuzz-\(getpid())").path
    }

    /// Removes this process's scratch folder, if any (registered with `atexit` at start-up, so
    /// a run that ends normally — `-max_total_time`, `-runs`, a replay — leaves nothing in
    /// /dev/shm). Raw-byte removal that never follows symlinks: the folder targets' trees hold
    /// non-UTF-8 names and symlink loops.
    static func removeScratch() {
        FuzzTree.removeTree(FuzzTree.cPath(Array(scratchPath.utf8)))
    }

    /// Writes `data` to `name` inside the scratch folder (or a sub-folder) and returns its URL.
    /// Plain open/write/close: FileManager's createDirectory and createFile (attributes, stat
    /// calls) cost more than the small parsers behind the folder targets.
    @discardableResult
    static func file(_ name: String, _ data: Data, in folder: String? = nil) -> URL {
        var dir = scratch
        if let folder {
            dir = scratch.appendingPathComponent(folder)
            mkdir(dir.path, 0o755)  // EEXIST after the first input
        }
        let url = dir.appendingPathComponent(name)
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd >= 0 {
            data.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = write(fd, raw.baseAddress! + done, raw.count - done)
                    if n <= 0 { break }
                    done += n
                }
            }
            close(fd)
        }
        return url
    }

    /// Removes `name` from the scratch folder (or sub-folder), so a part left from the previous
    /// input cannot leak into this one.
    static func remove(_ name: String, in folder: String? = nil) {
        var dir = scratch
        if let folder { dir = scratch.appendingPathComponent(folder) }
        unlink(dir.appendingPathComponent(name).path)
    }

    /// The separator that splits one input into several files (e.g. config and weights).
    static let separator = Array("\n#~#~#\n".utf8)

    /// Splits `data` at each separator into at most `count` parts (missing parts are empty).
    static func parts(_ data: Data, _ count: Int) -> [Data] {
        let bytes = [UInt8](data)
        var out: [Data] = []
        var start = 0
        var i = 0
        while i + separator.count <= bytes.count, out.count < count - 1 {
            if bytes[i] == separator[0] && bytes[i..<(i + separator.count)].elementsEqual(separator) {
                out.append(Data(bytes[start..<i]))
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        out.append(Data(bytes[start...]))
        while out.count < count { out.append(Data()) }
        return out
    }

    /// Joins parts with the separator (the seed writer's inverse of `parts`).
    static func join(_ parts: [Data]) -> Data {
        var d = Data()
        for (i, p) in parts.enumerated() {
            if i > 0 { d.append(contentsOf: separator) }
            d.append(p)
        }
        return d
    }

    /// The project's rule for bad input: the error is one line and names the file. A message
    /// that breaks it aborts, so libFuzzer records the input like any other crash.
    static func expectClear(_ error: any Error, naming file: String) {
        let text = String(describing: error)
        let name = (file as NSString).lastPathComponent
        if text.contains("\n") || !text.contains(name) || text.count > 4000 {
            fputs("peftkit-fuzz: error message breaks the one-line, names-the-file rule:\n\(text)\n", stderr)
            abort()
        }
    }

    /// Runs `body`; a thrown error must satisfy `expectClear(_:naming:)`.
    static func attempt(naming file: String, _ body: () throws -> Void) {
        do { try body() } catch { expectClear(error, naming: file) }
    }

    /// Whether this input also goes through the file-reading variant of a parser (1 input in 16,
    /// chosen by a hash of the bytes so a replay takes the same path): the in-memory entry point
    /// carries the fuzzing, the file variant keeps its own few lines (open, size, mmap) covered.
    static func alsoThroughFile(_ data: Data) -> Bool {
        var h: UInt32 = 2_166_136_261
        for b in data.prefix(64) { h = (h ^ UInt32(b)) &* 16_777_619 }
        return (h ^ UInt32(truncatingIfNeeded: data.count)) & 15 == 0
    }

    /// The rule for errors that name no file (an HTTP peer, an in-memory query): one line, bounded.
    static func expectOneLine(_ error: any Error) {
        let text = String(describing: error)
        if text.contains("\n") || text.contains("\r") || text.count > 4000 {
            fputs("peftkit-fuzz: error message is not one line:\n\(text)\n", stderr)
            abort()
        }
    }

    /// The input as text the way the readers see a file: invalid UTF-8 becomes U+FFFD.
    static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }
}

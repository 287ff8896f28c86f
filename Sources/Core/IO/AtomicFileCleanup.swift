#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

// A writer killed between creating its temporary file and renaming it (kill -9, power loss, OOM
// killer) leaves `.<name>.tmp-<pid>-<tag>` behind. The destination is intact, but the leftovers
// would pile up in a run folder that is rewritten every checkpoint. The next atomic write to the
// same folder removes them: only names of our own pattern, and only when the writer cannot still
// be writing, so another process's live temporary file is never touched.

extension AtomicFile {
    /// When a leftover counts as stale.
    public struct StaleRule: Sendable {
        /// A temporary whose writer PID no longer exists is removed once untouched this long (a
        /// grace period for a PID from another PID namespace sharing the folder, which looks dead).
        public var deadWriterAge: TimeInterval
        /// A temporary untouched this long is removed even when a process with its PID exists
        /// (the PID was reused); live writers touch their file with every write.
        public var anyWriterAge: TimeInterval

        public init(deadWriterAge: TimeInterval = 60, anyWriterAge: TimeInterval = 15 * 60) {
            self.deadWriterAge = deadWriterAge
            self.anyWriterAge = anyWriterAge
        }
    }

    /// Removes stale leftovers of killed writers from `directory`: temporary files named like
    /// `AtomicFile`'s (`.<name>.tmp-<pid>-<tag>`), folders staged for `replaceDirectory`
    /// (`.<name>.tmp-<pid>`) and old folders it moved aside (`.<name>.old-<pid>-<n>`). Entries of
    /// this process are never removed (another thread may be writing them). Errors are ignored:
    /// cleanup must never make a write fail. Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaries(in directory: URL, rule: StaleRule = StaleRule(), now: Date = Date()) -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory.path) else { return [] }
        let me = getpid()
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            guard let (pid, isFolder) = leftoverPattern(name), pid != me else { continue }
            let path = directory.appendingPathComponent(name).path
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let kind = info.st_mode & S_IFMT
            guard isFolder ? kind == S_IFDIR : kind == S_IFREG else { continue }
            let age = now.timeIntervalSince1970 - (Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
            let writerDead = kill(pid, 0) != 0 && errno == ESRCH
            guard (writerDead && age >= rule.deadWriterAge) || age >= rule.anyWriterAge else { continue }
            if isFolder {
                if (try? fm.removeItem(atPath: path)) != nil { removed.append(name) }
            } else if unlink(path) == 0 {
                removed.append(name)
            }
        }
        return removed
    }

    /// The writer PID of a leftover name and whether it is a folder pattern; nil for other names.
    static func leftoverPattern(_ name: String) -> (pid: pid_t, folder: Bool)? {
        func pid(_ text: Substring) -> pid_t? {
            guard !text.isEmpty, text.count <= 10, text.allSatisfy(\.isASCIIDigit), let v = pid_t(text), v > 0 else { return nil }
            return v
        }
        if let r = name.range(of: ".tmp-", options: .backwards), r.lowerBound > name.index(after: name.startIndex) {
            let rest = name[r.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
            // File: <pid>-<base-36 tag>. Staged folder: <pid> alone.
            if rest.count == 2, let p = pid(rest[0]), !rest[1].isEmpty,
               rest[1].allSatisfy({ $0.isASCIIDigit || ("a"..."z").contains($0) }) {
                return (p, false)
            }
            if rest.count == 1, let p = pid(rest[0]) { return (p, true) }
        }
        if let r = name.range(of: ".old-", options: .backwards), r.lowerBound > name.index(after: name.startIndex) {
            let rest = name[r.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
            if rest.count == 2, let p = pid(rest[0]), rest[1].allSatisfy(\.isASCIIDigit), !rest[1].isEmpty { return (p, true) }
        }
        return nil
    }

    /// The cleanup run at each write, at most once a minute per folder: a loop writing thousands
    /// of files into one folder must not list it thousands of times.
    static func removeStaleTemporaries(in directory: URL, throttled: Bool) {
        let key = directory.standardizedFileURL.path
        let now = Date()
        let due = lastCleanup.withLock { seen -> Bool in
            if let last = seen[key], now.timeIntervalSince(last) < 60 { return false }
            if seen.count > 4096 { seen.removeAll() }
            seen[key] = now
            return true
        }
        if due { removeStaleTemporaries(in: directory, now: now) }
    }

    private static let lastCleanup = Mutex<[String: Date]>([:])
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isWholeNumber }
}

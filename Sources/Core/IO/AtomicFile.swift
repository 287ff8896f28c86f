#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes files so that readers see either the old content or the complete new content, never
/// a half-written file: the bytes go to a temporary file in the destination's directory, are
/// flushed to disk (`fsync`), and the temporary file is then renamed over the destination (a
/// rename within one file system is atomic). Every output PEFTKit produces goes through here.
///
/// ```swift
/// try AtomicFile.write("{\"r\": 8}\n", to: runDir.appendingPathComponent("adapter_config.json"))
/// ```
public enum AtomicFile {
    /// Writes `bytes` to `url` atomically.
    public static func write(_ bytes: some Collection<UInt8>, to url: URL, createDirectories: Bool = false) throws {
        try write(to: url, createDirectories: createDirectories) { sink in try sink.write(Array(bytes)) }
    }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL, createDirectories: Bool = false) throws {
        try write(to: url, createDirectories: createDirectories) { sink in
            try data.withUnsafeBytes { try sink.write($0) }
        }
    }

    /// Writes `text` as UTF-8 to `url` atomically.
    public static func write(_ text: String, to url: URL, createDirectories: Bool = false) throws {
        try write(Array(text.utf8), to: url, createDirectories: createDirectories)
    }

    /// Streams the content through `body`, then commits it atomically. If `body` throws, the
    /// temporary file is removed and the destination is left untouched.
    public static func write(to url: URL, createDirectories: Bool = false, _ body: (inout Sink) throws -> Void) throws {
        let directory = url.deletingLastPathComponent()
        if createDirectories {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw IOError(.writeFailed, file: url, "cannot create directory \(directory.path): \(error.localizedDescription)")
            }
        }
        removeStaleTemporaries(in: directory, throttled: true)
        var sink = try Sink(creatingTemporaryFor: url)
        do {
            try body(&sink)
            try sink.commit()
        } catch {
            sink.abandon()
            throw error
        }
    }

    /// An open temporary file being filled; obtain one from `AtomicFile.write(to:_:)`.
    public struct Sink: ~Copyable {
        public let destination: URL
        let temporaryPath: String
        private var fd: Int32
        /// Bytes written so far.
        public private(set) var count = 0

        init(creatingTemporaryFor url: URL) throws {
            destination = url
            let dir = url.deletingLastPathComponent().path
            var attempt = 0
            while true {
                // The pid plus a random tag keeps concurrent writers (threads, processes) apart.
                let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
                let path = (dir as NSString).appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(tag)")
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
                if fd >= 0 {
                    self.fd = fd
                    temporaryPath = path
                    return
                }
                let code = errno
                attempt += 1
                if code == EEXIST, attempt < 16 { continue }
                let advice = code == ENOENT ? "create the directory \(dir) first" : "check the directory exists and is writable"
                throw IOError(.writeFailed, file: url, "cannot create a temporary file in \(dir): \(errnoText(code))", advice: advice)
            }
        }

        /// Appends raw bytes.
        public mutating func write(_ buffer: UnsafeRawBufferPointer) throws {
            guard var p = buffer.baseAddress else { return }
            var left = buffer.count
            while left > 0 {
                let n = systemWrite(fd, p, min(left, 1 << 30))
                if n < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    throw IOError(.writeFailed, file: destination, "write failed after \(count) bytes: \(errnoText(code))",
                                  advice: code == ENOSPC ? "free disk space and retry" : nil)
                }
                p += n
                left -= n
                count += n
            }
        }

        /// Appends bytes.
        public mutating func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }

        /// Appends `text` as UTF-8.
        public mutating func write(_ text: String) throws {
            try write(Array(text.utf8))
        }

        /// fsync, close, rename over the destination, then fsync the directory so the rename is durable.
        mutating func commit() throws {
            if fsync(fd) != 0 {
                throw IOError(.writeFailed, file: destination, "fsync failed: \(errnoText(errno))")
            }
            let closed = close(fd)
            fd = -1
            if closed != 0 {
                throw IOError(.writeFailed, file: destination, "close failed: \(errnoText(errno))")
            }
            if rename(temporaryPath, destination.path) != 0 {
                throw IOError(.writeFailed, file: destination, "cannot rename the temporary file into place: \(errnoText(errno))",
                              advice: "check the destination is not a directory and the folder is writable")
            }
            let dirFD = open(destination.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dirFD >= 0 {
                _ = fsync(dirFD)  // Best effort: some file systems refuse fsync on directories.
                close(dirFD)
            }
        }

        /// Closes and deletes the temporary file (after a failure).
        mutating func abandon() {
            if fd >= 0 { close(fd); fd = -1 }
            unlink(temporaryPath)
        }

        deinit {
            if fd >= 0 { close(fd) }
        }
    }
}

/// The C `write(2)`, reachable from inside `Sink` whose own `write` methods shadow it.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

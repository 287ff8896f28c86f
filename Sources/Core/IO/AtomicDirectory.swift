#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

extension AtomicFile {
    /// Puts the fully written folder `staged` in place of `destination` so that a reader (or a
    /// process killed half-way) sees either the complete old folder or the complete new one,
    /// never neither and never a mix.
    ///
    /// On Linux the two names are swapped in one step (`renameat2` with `RENAME_EXCHANGE`) and
    /// the old folder, now under the staged name, is deleted afterwards. Where that call is not
    /// available the old folder is first renamed aside (a kill in that instant leaves it under
    /// `.<name>.old-…` next to the destination, still complete). The files inside `staged`
    /// should have been written with `AtomicFile` so their bytes are on disk before the swap.
    ///
    /// ```swift
    /// let staged = parent.appendingPathComponent(".adapter.tmp-\(getpid())")
    /// try AtomicFile.write(json, to: staged.appendingPathComponent("adapter.json"), createDirectories: true)
    /// try AtomicFile.replaceDirectory(adapterDir, with: staged)
    /// ```
    public static func replaceDirectory(_ destination: URL, with staged: URL) throws {
        let fm = FileManager.default
        let dest = destination.path, temp = staged.path
        func failure(_ what: String) -> IOError {
            IOError(.writeFailed, file: destination, "\(what): \(errnoText(errno))",
                    advice: "check the folder is writable; the new content is still in \(temp)")
        }
        if !fm.fileExists(atPath: dest) {
            guard rename(temp, dest) == 0 else { throw failure("cannot rename the staged folder into place") }
        } else if let exchange = renameExchange, exchange(AT_FDCWD, temp, AT_FDCWD, dest, 2 /* RENAME_EXCHANGE */) == 0 {
            try? fm.removeItem(atPath: temp)  // the old content, now under the staged name
        } else {
            let aside = destination.deletingLastPathComponent()
                .appendingPathComponent(".\(destination.lastPathComponent).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            guard rename(dest, aside) == 0 else { throw failure("cannot move the old folder aside") }
            guard rename(temp, dest) == 0 else {
                _ = rename(aside, dest)  // put the old one back
                throw failure("cannot rename the staged folder into place")
            }
            try? fm.removeItem(atPath: aside)
        }
        let dirFD = open(destination.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)  // make the rename durable (best effort, as in AtomicFile.Sink.commit)
            close(dirFD)
        }
    }

    /// Flushes an already closed file's bytes to disk (for files written by C libraries such as
    /// libsndfile, which close without fsync) before it is renamed into place.
    public static func flushToDisk(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(.writeFailed, file: url, "cannot reopen to flush: \(errnoText(errno))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw IOError(.writeFailed, file: url, "fsync failed: \(errnoText(errno))") }
    }

    /// glibc's `renameat2`, looked up at run time: Swift's Glibc module does not declare it.
    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    private static let renameExchange: RenameAt2? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
        #else
        return nil
        #endif
    }()
}

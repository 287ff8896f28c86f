#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only memory map of a whole file. Pages are read from disk only when touched, so
/// opening a large checkpoint costs nothing until tensors are decoded.
///
/// The mapping is private and read-only; the file must not be truncated by another process
/// while mapped (the kernel would then signal on access to the lost pages).
final class MappedFile: @unchecked Sendable {
    let url: URL
    /// Size of the file in bytes when it was opened.
    let size: Int
    private let base: UnsafeMutableRawPointer?

    /// Maps `url`; throws `IOError` naming the file when it is missing, a directory or unreadable.
    init(_ url: URL) throws {
        self.url = url
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw IOError(.fileNotFound, file: url, "no such file", advice: "check the path")
            }
            throw IOError(.readFailed, file: url, "cannot open: \(errnoText(code))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw IOError(.readFailed, file: url, "cannot stat: \(errnoText(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw IOError(.readFailed, file: url, "not a regular file", advice: "pass the path of a file, not a directory")
        }
        size = Int(info.st_size)
        if size == 0 {
            base = nil  // mmap rejects length 0; an empty file has nothing to map.
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw IOError(.readFailed, file: url, "cannot memory-map \(size) bytes: \(errnoText(errno))")
        }
        base = p
    }

    deinit {
        if let base { munmap(base, size) }
    }

    /// The file's bytes (valid while `self` is alive).
    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base.map { UnsafeRawPointer($0) }, count: size)
    }
}

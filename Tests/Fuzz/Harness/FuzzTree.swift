import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Builds a folder tree from fuzz bytes, for the readers whose outside input is a folder layout
/// (image folders, deepfake real/fake families, face identities): the names, nesting, kinds of
/// entry and first bytes of files are what those readers parse.
///
/// The input is one entry per line: a kind byte, then a path relative to the tree's root
/// (`/`-separated). Kinds: `d` folder, `p` PNG signature, `j` JPEG signature, `m` a 1×1 PGM,
/// `e` empty file, `l` symlink written `path>target` (target relative, no `..`, so links stay
/// inside the tree but may loop), anything else a small text file. Inside a name the byte 0x01
/// stands for a newline, so names holding LF (legal on Linux) are one mutation away. Names are
/// raw bytes: non-UTF-8 names are created as such (Latin-1 names from old archives).
///
/// Bounds keep the work per input small: at most 48 entries, 6 levels, 200-byte names.
enum FuzzTree {
    static let maxEntries = 48, maxDepth = 6, maxName = 200

    /// Removes the previous tree and builds this input's under `scratch/<folder>/root`; returns
    /// the root.
    ///
    /// Every call is relative to a descriptor of the root (`mkdirat`, `openat`, `symlinkat`) and
    /// a folder once created is not asked for again: with absolute paths the kernel walked the
    /// five scratch components again for every parent of every entry, and the tree's build and
    /// removal were 24 % of the `deepfake-folder` target's CPU (perf, fuzzing mode) — more than
    /// the reader under test (19 %). The tree built is the same (a `mkdir` that failed is retried
    /// by later entries, as before; one that succeeded would only fail with EEXIST).
    static func build(_ data: Data, in folder: String) -> URL {
        let (base, root) = roots(folder)
        removeTree(cPath(Array(root.path.utf8)))
        mkdir(base.path, 0o755)
        mkdir(root.path, 0o755)
        let rootFD = open(root.path, O_RDONLY | O_DIRECTORY)
        guard rootFD >= 0 else { return root }
        defer { close(rootFD) }
        var made = Set<[UInt8]>()
        var count = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: true) {
            guard count < maxEntries else { break }
            count += 1
            let bytes = Array(line)
            let kind = bytes[0]
            var rest = Array(bytes.dropFirst())
            var target: [UInt8]? = nil
            if kind == UInt8(ascii: "l"), let gt = rest.firstIndex(of: UInt8(ascii: ">")) {
                target = Array(rest[(gt + 1)...])
                rest = Array(rest[..<gt])
            }
            let parts = components(rest)
            guard !parts.isEmpty else { continue }
            // Parents first (ignore "exists"; a parent that is a file makes the entry fail, as on disk).
            var path: [UInt8] = []
            for p in parts.dropLast() {
                if !path.isEmpty { path.append(0x2F) }
                path += p
                if !made.contains(path), mkdirat(rootFD, cPath(path), 0o755) == 0 { made.insert(path) }
            }
            if !path.isEmpty { path.append(0x2F) }
            path += parts.last!
            let c = cPath(path)
            switch kind {
            case UInt8(ascii: "d"):
                if !made.contains(path), mkdirat(rootFD, c, 0o755) == 0 { made.insert(path) }
            case UInt8(ascii: "l"):
                let t = components(target ?? [])
                let joined = t.isEmpty ? [UInt8(ascii: ".")] : Array(t.joined(separator: [0x2F]))
                symlinkat(cPath(joined), rootFD, c)
            default:
                let content: [UInt8] = switch kind {
                case UInt8(ascii: "p"): [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
                case UInt8(ascii: "j"): [0xFF, 0xD8, 0xFF, 0xE0]
                case UInt8(ascii: "m"): Array("P5\n1 1\n255\n\u{7F}".utf8)
                case UInt8(ascii: "e"): []
                default: Array("not an image\n".utf8)
                }
                let fd = openat(rootFD, c, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                if fd >= 0 {
                    _ = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                }
            }
        }
        return root
    }

    /// `scratch/<folder>` and its `root`, made once per folder name.
    nonisolated(unsafe) private static var rootCache: [String: (URL, URL)] = [:]
    private static func roots(_ folder: String) -> (URL, URL) {
        if let r = rootCache[folder] { return r }
        let base = Fuzz.scratch.appendingPathComponent(folder)
        let r = (base, base.appendingPathComponent("root"))
        rootCache[folder] = r
        return r
    }

    /// Path components: empty, `.` and `..` dropped (nothing may leave the tree), 0x01 → LF,
    /// names cut to `maxName` bytes, at most `maxDepth` levels.
    static func components(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for part in bytes.split(separator: 0x2F) {
            var name = part.map { $0 == 0x01 ? 0x0A : $0 }.filter { $0 != 0 }
            if name.count > maxName { name = Array(name.prefix(maxName)) }
            if name.isEmpty || name == [0x2E] || name == [0x2E, 0x2E] { continue }
            out.append(name)
            if out.count == maxDepth { break }
        }
        return out
    }

    static func cPath(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

    /// `rm -rf` on raw byte paths (never following symlinks), so non-UTF-8 names go too.
    static func removeTree(_ path: [CChar]) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFDIR else { unlink(path); return }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        if fd >= 0 { removeContents(fd) }
        rmdir(path)
    }

    /// Empties the folder open as `fd` (and closes it): each entry is unlinked relative to the
    /// folder, and one that is a folder (EISDIR: `unlinkat` without AT_REMOVEDIR does not follow
    /// or remove it) is opened with O_NOFOLLOW, emptied and removed. Symlinks are removed, never
    /// followed.
    private static func removeContents(_ fd: Int32) {
        guard let dir = fdopendir(fd) else { close(fd); return }
        var names: [[CChar]] = []
        while let entry = readdir(dir) {
            var name = entry.pointee.d_name
            let bytes: [CChar] = withUnsafeBytes(of: &name) { raw in Array(raw.bindMemory(to: CChar.self).prefix { $0 != 0 }) }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            names.append(bytes + [0])
        }
        for name in names where unlinkat(fd, name, 0) != 0 && (errno == EISDIR || errno == EPERM) {
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            if child >= 0 { removeContents(child) }
            unlinkat(fd, name, AT_REMOVEDIR)
        }
        closedir(dir)  // closes fd
    }

    /// The tree as the seed writer stores it (one entry per line).
    static func seed(_ entries: [String]) -> Data { Data(entries.joined(separator: "\n").utf8) }
}

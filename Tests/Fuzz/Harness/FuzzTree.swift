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
    static func build(_ data: Data, in folder: String) -> URL {
        let base = Fuzz.scratch.appendingPathComponent(folder)
        let root = base.appendingPathComponent("root")
        let rootBytes = Array(root.path.utf8)
        removeTree(cPath(rootBytes))
        mkdir(base.path, 0o755)
        mkdir(root.path, 0o755)
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
            var path = rootBytes
            for p in parts.dropLast() {
                path += [0x2F] + p
                mkdir(cPath(path), 0o755)
            }
            path += [0x2F] + parts.last!
            let c = cPath(path)
            switch kind {
            case UInt8(ascii: "d"): mkdir(c, 0o755)
            case UInt8(ascii: "l"):
                let t = components(target ?? [])
                let joined = t.isEmpty ? [UInt8(ascii: ".")] : Array(t.joined(separator: [0x2F]))
                symlink(cPath(joined), c)
            default:
                let content: [UInt8] = switch kind {
                case UInt8(ascii: "p"): [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
                case UInt8(ascii: "j"): [0xFF, 0xD8, 0xFF, 0xE0]
                case UInt8(ascii: "m"): Array("P5\n1 1\n255\n\u{7F}".utf8)
                case UInt8(ascii: "e"): []
                default: Array("not an image\n".utf8)
                }
                let fd = open(c, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                if fd >= 0 {
                    _ = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                }
            }
        }
        return root
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
        var children: [[CChar]] = []
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                var name = entry.pointee.d_name
                let bytes: [CChar] = withUnsafeBytes(of: &name) { raw in Array(raw.bindMemory(to: CChar.self).prefix { $0 != 0 }) }
                if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
                children.append(Array(path.dropLast()) + [0x2F] + bytes + [0])
            }
            closedir(dir)
        }
        for child in children { removeTree(child) }
        rmdir(path)
    }

    /// The tree as the seed writer stores it (one entry per line).
    static func seed(_ entries: [String]) -> Data { Data(entries.joined(separator: "\n").utf8) }
}

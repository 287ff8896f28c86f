import Foundation

/// A walk over the RIFF chunk list of a WAV file, used only to catch a cut-short file.
///
/// libsndfile opens a WAV whose `data` chunk claims more bytes than the file holds, logs a
/// warning and shortens the stream, so the caller would silently get part of the sound. We read
/// the chunk headers (in any order, skipping chunks we do not know) and reject that case.
enum WAVChunks {
    /// Upper bound on chunks visited, so a corrupt file cannot keep us looping.
    static let maxChunks = 4096

    /// Throws when `path` is a RIFF/WAVE file whose `data` chunk (or the chunk list before it)
    /// runs past the end of the file. Files that are not RIFF/WAVE are left to libsndfile.
    static func checkComplete(path: String, byteCount: Int) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        try checkComplete(name: path, byteCount: byteCount) { offset, count in
            guard (try? handle.seek(toOffset: UInt64(offset))) != nil else { return nil }
            return try? handle.read(upToCount: count)
        }
    }

    /// The same check over bytes in memory (`AudioFile.read(data:name:)`).
    static func checkComplete(bytes: [UInt8], name: String) throws {
        try checkComplete(name: name, byteCount: bytes.count) { offset, count in
            guard offset >= 0, offset < bytes.count else { return Data() }
            return Data(bytes[offset..<min(offset + count, bytes.count)])
        }
    }

    /// The walk itself; `read(offset, count)` returns up to `count` bytes at `offset` (nil on failure).
    private static func checkComplete(name path: String, byteCount: Int, read: (Int, Int) -> Data?) throws {
        func fail(_ reason: String) -> AudioFileError { AudioFileError(path: path, reason: reason) }

        guard let head = read(0, 12), head.count == 12 else { return }
        let bytes = [UInt8](head)
        guard tag(bytes, 0) == "RIFF", tag(bytes, 8) == "WAVE" else { return }

        var offset = 12
        for _ in 0..<maxChunks {
            guard offset + 8 <= byteCount else {
                throw fail("truncated WAV: the chunk list ends at byte \(offset) without a complete 'data' chunk; re-export the file")
            }
            guard let raw = read(offset, 8), raw.count == 8 else {
                throw fail("truncated WAV: cannot read the chunk header at byte \(offset)")
            }
            let header = [UInt8](raw)
            let id = tag(header, 0)
            let size = Int(header[4]) | Int(header[5]) << 8 | Int(header[6]) << 16 | Int(header[7]) << 24
            if id == "data" {
                // 0 and 0xFFFFFFFF mean "length unknown" (streamed writers); libsndfile then reads to EOF.
                if size == 0 || size == 0xFFFF_FFFF { return }
                let end = offset + 8 + size
                if end > byteCount {
                    throw fail(
                        "truncated WAV: the 'data' chunk declares \(size) bytes but only \(byteCount - offset - 8) are present; re-export the file")
                }
                return
            }
            // Chunks are padded to an even length.
            offset += 8 + size + (size & 1)
        }
        throw fail("corrupt WAV: more than \(maxChunks) chunks before the 'data' chunk")
    }

    /// Four ASCII bytes at `at` as a string (non-ASCII bytes become '?').
    private static func tag(_ bytes: [UInt8], _ at: Int) -> String {
        String(bytes[at..<(at + 4)].map { $0 < 128 ? Character(UnicodeScalar($0)) : "?" })
    }
}

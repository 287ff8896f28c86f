import Core
import Foundation

/// Why an image could not be read or written. Every decoder and the dataset loader throw this
/// one type, so a caller can print `description` as a single line that names the file, the
/// problem and what to do about it.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The broad class of failure, for callers (and tests) that branch on it.
    public enum Kind: String, Sendable {
        /// The file could not be opened or read at all (missing, permissions, a directory).
        case unreadable
        /// Zero bytes, or not enough bytes to hold even a header.
        case empty
        /// The leading bytes match no supported format (PNG, JPEG, PGM/PPM).
        case unknownFormat
        /// The header is malformed (zero width, bad maxval, ...).
        case invalidHeader
        /// The header claims more pixels than `ImageLimits.maxPixels`; nothing was allocated.
        case tooLarge
        /// The compressed data ends before the image is complete.
        case truncated
        /// The data is damaged (CRC mismatch, bad Huffman code, ...).
        case corrupt
        /// A legal file using a feature this reader does not handle (e.g. CMYK JPEG).
        case unsupported
        /// Writing the output failed.
        case writeFailed
    }

    public let kind: Kind
    /// The path of the file (or `<memory>` for in-memory data).
    public let file: String
    /// What is wrong, in the words of the reader or the C library.
    public let problem: String
    /// What the user can do about it.
    public let hint: String

    public init(_ kind: Kind, file: String, problem: String, hint: String = "") {
        self.kind = kind
        self.file = file
        self.problem = problem
        self.hint = hint.isEmpty ? ImageError.defaultHint(kind) : hint
    }

    public var description: String { oneLineMessage("\(file): \(problem) (\(hint))") }

    private static func defaultHint(_ kind: Kind) -> String {
        switch kind {
        case .unreadable: return "check that the path exists and is a readable file"
        case .empty: return "the file is empty or cut short; re-export or remove it"
        case .unknownFormat: return "supported formats are PNG, JPEG and PGM/PPM; convert or remove the file"
        case .invalidHeader: return "the header is invalid; re-export the image"
        case .tooLarge: return "the limit is Pillow's decompression-bomb threshold; downscale the image"
        case .truncated: return "the file is cut short; re-download or re-export it"
        case .corrupt: return "the data is damaged; re-download or re-export it"
        case .unsupported: return "convert the image to 8-bit RGB or grayscale PNG/JPEG"
        case .writeFailed: return "check that the output folder exists and is writable"
        }
    }
}

/// Limits that protect against headers that lie about their size.
public enum ImageLimits {
    /// Largest accepted width × height. Pillow raises `DecompressionBombError` above
    /// 2 × 89,478,485 pixels; we use the same threshold so anything Pillow opens, we open.
    public static let maxPixels = 178_956_970

    /// Throws `.tooLarge` (or `.invalidHeader` for a zero side) unless `width × height × channels`
    /// bytes is a sane allocation. Call this BEFORE allocating the pixel buffer.
    public static func check(width: Int, height: Int, channels: Int, file: String) throws {
        guard width > 0, height > 0 else {
            throw ImageError(.invalidHeader, file: file, problem: "invalid header: image size \(width)x\(height) has a zero side")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels, pixels.multipliedReportingOverflow(by: channels).overflow == false else {
            throw ImageError(.tooLarge, file: file,
                problem: "header claims \(width)x\(height) pixels, more than the limit of \(maxPixels) pixels; refusing to allocate")
        }
    }
}

/// Writes `data` to `url` through a temporary file in the same folder and a rename, so a crash
/// or a full disk never leaves a half-written file under the final name.
func writeAtomically(_ data: Data, to url: URL) throws {
    // Core's AtomicFile: temporary file in the same folder, fsync, rename, fsync of the folder.
    do {
        try AtomicFile.write(data, to: url)
    } catch let error as IOError {
        throw ImageError(.writeFailed, file: url.path, problem: error.problem + (error.advice.map { "; " + $0 } ?? ""))
    }
}

/// Reads a whole file, mapping Foundation's errors to `ImageError.unreadable`.
func readFileBytes(_ url: URL) throws -> Data {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
        throw ImageError(.unreadable, file: url.path, problem: "no such file")
    }
    guard !isDir.boolValue else { throw ImageError(.unreadable, file: url.path, problem: "is a directory, not an image file") }
    do {
        return try Data(contentsOf: url)
    } catch {
        throw ImageError(.unreadable, file: url.path, problem: "cannot read: \(error.localizedDescription)")
    }
}

import Foundation

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON describing each tensor (`dtype`, `shape`,
/// `data_offsets` relative to the data section) plus an optional `__metadata__` string map, then
/// the raw little-endian tensor bytes.
///
/// Reading validates the whole header before any tensor is touched, so a corrupt or hostile
/// file fails with one clear `IOError` instead of a crash or a giant allocation:
///
/// ```swift
/// let file = try SafeTensors.open(url)          // memory-maps, checks the header
/// let w = try file.tensor("encoder.layer.0.attention.self.query.weight")   // decodes only this
/// let ids = try file.int64Values("position_ids") // exact integers
/// ```
public enum SafeTensors {
    /// Headers longer than this are refused before anything is allocated (the reference
    /// library uses the same 100 MB bound).
    public static let maxHeaderLength = 100_000_000

    /// What to do about a damaged file.
    static let corrupt = "the file is corrupt: re-export or re-download it"

    /// One tensor's entry in the header.
    public struct TensorInfo: Sendable, Equatable {
        public let dtype: DType
        /// Sizes per axis; `[]` is a 0-d scalar with one element.
        public let shape: [Int]
        /// `[begin, end)` byte range relative to the start of the data section.
        public let dataOffsets: Range<Int>

        public init(dtype: DType, shape: [Int], dataOffsets: Range<Int>) {
            self.dtype = dtype
            self.shape = shape
            self.dataOffsets = dataOffsets
        }

        /// Product of the shape (1 for a scalar, 0 when any axis is 0).
        public var elementCount: Int { shape.reduce(1, *) }
        public var byteCount: Int { dataOffsets.count }
    }

    /// A validated header.
    public struct Header: Sendable, Equatable {
        /// The N of the 8-byte prefix (JSON length including padding).
        public let headerLength: Int
        /// File offset where tensor data begins (8 + N).
        public let dataStart: Int
        /// The `__metadata__` map, nil when the file has none.
        public let metadata: [String: String]?
        public let tensors: [String: TensorInfo]
        /// Tensor names in the order the JSON lists them (usually data order; do not rely on it).
        public let order: [String]

        /// Tensor names, sorted.
        public var keys: [String] { tensors.keys.sorted() }
    }

    /// Memory-maps and validates `url`. Tensors are decoded only when asked for.
    public static func open(_ url: URL) throws -> SafeTensorsFile {
        try SafeTensorsFile(url)
    }

    /// The validated header of `url` (names, dtypes, shapes, metadata), for listing tools.
    public static func header(of url: URL) throws -> Header {
        try SafeTensorsFile(url).header
    }

    /// Every tensor of `url` decoded to Float32.
    public static func read(_ url: URL) throws -> [String: Tensor] {
        try SafeTensorsFile(url).allTensors()
    }

    /// Parses and validates the header of a whole safetensors file held in `file`;
    /// `name` is used in error messages.
    public static func parseHeader(of file: UnsafeRawBufferPointer, name: String) throws -> Header {
        func failure(_ kind: IOError.Kind, _ place: String?, _ problem: String, _ advice: String? = nil) -> IOError {
            IOError(kind, file: name, place: place, problem, advice: advice)
        }
        let size = file.count
        guard size >= 8 else {
            throw failure(.fileTooSmall, nil, "file is \(size) bytes, too small for the 8-byte header length prefix",
                          "the file is truncated or not a safetensors file: re-download it or check the path")
        }
        let prefix = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        // Compare in UInt64 so a lying prefix (2^60, 2^64-1) can neither overflow 8+N nor be allocated.
        guard prefix <= UInt64(size - 8) else {
            throw failure(.headerExceedsFile, "length prefix",
                          "header length \(prefix) bytes is larger than the file (\(size) bytes)",
                          "the file is truncated or not a safetensors file: re-download it or check the path")
        }
        guard prefix <= UInt64(maxHeaderLength) else {
            throw failure(.headerTooLarge, "length prefix", "header length \(prefix) bytes exceeds the \(maxHeaderLength / 1_000_000) MB limit",
                          "the file is corrupt or not a safetensors file: check the path")
        }
        let headerLength = Int(prefix)
        let json = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        if let bad = JSONParser.firstInvalidUTF8(json) {
            throw failure(.invalidUTF8, "header", "header is not valid UTF-8 (first bad byte at header offset \(bad))",
                          corrupt)
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse(json)
        } catch {
            if case .duplicateKey(let key) = error.kind {
                let place = error.path.isEmpty ? "tensor '\(key)'" : "header key '\((error.path + [key]).joined(separator: "."))'"
                throw failure(.duplicateKey, place, "duplicate \(error.path.isEmpty ? "tensor name" : "key") '\(key)' in the JSON header",
                              "each tensor name may appear only once; " + corrupt)
            }
            throw failure(.invalidJSON, "header", "invalid JSON header: \(error.message) at header byte \(error.offset)",
                          corrupt)
        }
        guard case .object(let object) = root else {
            throw failure(.notAnObject, "header", "header must be a JSON object but is \(root.kindName)", corrupt)
        }
        let dataStart = 8 + headerLength
        let dataLength = size - dataStart
        var metadata: [String: String]?
        var tensors: [String: TensorInfo] = [:]
        var order: [String] = []
        for (key, value) in object.entries {
            if key == "__metadata__" {
                metadata = try parseMetadata(value, failure)
                continue
            }
            let info = try parseTensorInfo(key, value, failure)
            guard info.dataOffsets.upperBound <= dataLength else {
                throw failure(.outOfBounds, "tensor '\(key)'",
                              "data_offsets [\(info.dataOffsets.lowerBound), \(info.dataOffsets.upperBound)) run past the data section, which has \(dataLength) bytes",
                              "the file is truncated: re-download it")
            }
            tensors[key] = info
            order.append(key)
        }
        try checkCoverage(tensors, dataLength: dataLength, failure)
        return Header(headerLength: headerLength, dataStart: dataStart, metadata: metadata, tensors: tensors, order: order)
    }

    private typealias Failure = (IOError.Kind, String?, String, String?) -> IOError

    /// `__metadata__` must be null or an object of string values.
    private static func parseMetadata(_ value: JSONValue, _ failure: Failure) throws -> [String: String]? {
        switch value {
        case .null:
            return nil
        case .object(let entries):
            var result: [String: String] = [:]
            for (k, v) in entries.entries {
                guard case .string(let s) = v else {
                    throw failure(.invalidMetadata, "__metadata__.\(k)",
                                  "__metadata__ values must be strings but '\(k)' is \(v.kindName)", corrupt)
                }
                result[k] = s
            }
            return result
        default:
            throw failure(.invalidMetadata, "__metadata__", "__metadata__ must be an object of strings but is \(value.kindName)", corrupt)
        }
    }

    /// One tensor entry: known dtype, non-negative shape, ordered offsets, and a byte range
    /// whose size is exactly elements × dtype size (computed with overflow checks).
    private static func parseTensorInfo(_ key: String, _ value: JSONValue, _ failure: Failure) throws -> TensorInfo {
        let place = "tensor '\(key)'"
        guard case .object(let entry) = value else {
            throw failure(.invalidEntry, place, "entry must be an object with dtype, shape and data_offsets but is \(value.kindName)", corrupt)
        }
        guard case .string(let dtypeName)? = entry["dtype"] else {
            throw failure(.invalidEntry, place, "'dtype' \(entry["dtype"] == nil ? "is missing" : "must be a string")", corrupt)
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw failure(.unknownDType, place, "unknown dtype '\(dtypeName)'",
                          "known dtypes: \(DType.allCases.map(\.name).joined(separator: ", "))")
        }
        guard case .array(let shapeValues)? = entry["shape"] else {
            throw failure(.invalidEntry, place, "'shape' \(entry["shape"] == nil ? "is missing" : "must be an array of integers")", corrupt)
        }
        var shape: [Int] = []
        for v in shapeValues {
            guard case .int(let n) = v, n >= 0 else {
                throw failure(.invalidShape, place, "shape \(describe(shapeValues)) has an entry that is not a non-negative integer",
                              "shape entries must be non-negative integers")
            }
            shape.append(Int(n))
        }
        guard case .array(let offsetValues)? = entry["data_offsets"], offsetValues.count == 2,
              case .int(let begin) = offsetValues[0], case .int(let end) = offsetValues[1], begin >= 0, end >= 0
        else {
            throw failure(.invalidOffsets, place, "'data_offsets' must be two non-negative integers [begin, end]", corrupt)
        }
        guard end >= begin else {
            throw failure(.invalidOffsets, place, "data_offsets [\(begin), \(end)] end before they begin", corrupt)
        }
        // Element count and bit count with explicit overflow checks: a wrapped product could
        // otherwise "match" a small byte range.
        var elements = 1
        for n in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else {
                throw failure(.sizeOverflow, place, "element count of shape \(shape) overflows 64 bits", corrupt)
            }
            elements = product
        }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: dtype.bitWidth)
        guard !overflow else {
            throw failure(.sizeOverflow, place, "byte size of shape \(shape) × \(dtype.name) overflows 64 bits", corrupt)
        }
        guard bits % 8 == 0 else {
            throw failure(.sizeMismatch, place, "\(elements) elements of \(dtype.name) do not fill whole bytes", corrupt)
        }
        let byteRange = Int(begin)..<Int(end)
        guard bits / 8 == byteRange.count else {
            throw failure(.sizeMismatch, place,
                          "shape \(shape) × \(dtype.name) needs \(bits / 8) bytes but data_offsets [\(begin), \(end)) hold \(byteRange.count)",
                          corrupt)
        }
        return TensorInfo(dtype: dtype, shape: shape, dataOffsets: byteRange)
    }

    /// The tensors must tile the data section exactly: no overlap, no hole, nothing after the last.
    private static func checkCoverage(_ tensors: [String: TensorInfo], dataLength: Int, _ failure: Failure) throws {
        let sorted = tensors.sorted {
            ($0.value.dataOffsets.lowerBound, $0.value.dataOffsets.upperBound, $0.key)
                < ($1.value.dataOffsets.lowerBound, $1.value.dataOffsets.upperBound, $1.key)
        }
        var covered = 0
        var previous: String?
        for (key, info) in sorted {
            let r = info.dataOffsets
            if r.lowerBound < covered, let previous {
                throw failure(.overlap, "tensor '\(key)'",
                              "data [\(r.lowerBound), \(r.upperBound)) overlaps tensor '\(previous)', which ends at \(covered)",
                              corrupt)
            }
            if r.lowerBound > covered {
                throw failure(.gap, "tensor '\(key)'",
                              "bytes [\(covered), \(r.lowerBound)) before it belong to no tensor; the data section must be covered exactly",
                              corrupt)
            }
            covered = r.upperBound
            previous = key
        }
        if covered < dataLength {
            throw failure(.trailingBytes, "data section",
                          "\(dataLength - covered) bytes after the last tensor's data (tensors end at \(covered), data section has \(dataLength))",
                          corrupt)
        }
    }

    private static func describe(_ values: [JSONValue]) -> String {
        "[" + values.map { v -> String in
            switch v {
            case .int(let n): String(n)
            case .double(let d): String(d)
            default: v.kindName
            }
        }.joined(separator: ", ") + "]"
    }
}

import Foundation

/// Writing safetensors files laid out exactly as the reference Python/Rust library lays them
/// out, so a file we save is byte-identical to `safetensors.torch.save_file` of the same tensors:
///
/// - data order: larger dtypes first (the library's dtype order, see `DType`), then by name
///   (bytewise); the JSON lists `__metadata__` first, then the tensors in data order;
/// - compact JSON (no spaces), strings escaped as serde_json does, non-ASCII kept as UTF-8;
/// - the JSON padded with spaces to a multiple of 8 bytes, so the data section is 8-aligned.
///
/// Metadata keys are written sorted (the Rust writer uses hash order, which varies between runs).
extension SafeTensors {
    /// A tensor already encoded: dtype, shape and its little-endian bytes.
    public struct RawTensor: Sendable, Equatable {
        public let dtype: DType
        public let shape: [Int]
        public let bytes: [UInt8]

        /// Fails (precondition) when `bytes` does not match shape × dtype size: a programming error.
        public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
            precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) * dtype.bitWidth == bytes.count * 8,
                         "RawTensor: \(bytes.count) bytes do not hold shape \(shape) of \(dtype.name)")
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    /// Writes Float32 tensors to `url` atomically, encoded as `dtype` (`.f32`, `.f16` or `.bf16`;
    /// F16/BF16 round to nearest even as PyTorch does).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String]? = nil,
                             dtype: DType = .f32, to url: URL) throws {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw IOError(.unsupportedDType, file: url, "cannot write Float tensors as \(dtype.name)", advice: "use F32, F16 or BF16")
        }
        let planned = tensors.map { name, t in
            Planned(name: name, dtype: dtype, shape: t.shape, byteCount: t.count * dtype.bitWidth / 8) { emit in
                try encodeFloats(t.storage, as: dtype, emit)
            }
        }
        try write(planned, metadata: metadata, to: url)
    }

    /// Writes already-encoded tensors (any dtype) to `url` atomically.
    public static func write(raw tensors: [String: RawTensor], metadata: [String: String]? = nil, to url: URL) throws {
        try write(plan(raw: tensors), metadata: metadata, to: url)
    }

    /// The complete file for `tensors` in memory (for small files and layout tests).
    public static func serialize(raw tensors: [String: RawTensor], metadata: [String: String]? = nil) throws -> [UInt8] {
        try checkNames(tensors.keys, file: "(in memory)")
        let planned = sortedForWriting(plan(raw: tensors))
        var out = headerBytes(planned, metadata: metadata)
        for p in planned { try p.emit { out.append(contentsOf: $0) } }
        return out
    }

    // MARK: - Layout

    /// One tensor scheduled for writing; `emit` hands its bytes to a consumer in pieces.
    struct Planned {
        let name: String
        let dtype: DType
        let shape: [Int]
        let byteCount: Int
        let emit: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    }

    private static func plan(raw tensors: [String: RawTensor]) -> [Planned] {
        tensors.map { name, t in
            Planned(name: name, dtype: t.dtype, shape: t.shape, byteCount: t.bytes.count) { emit in
                try t.bytes.withUnsafeBytes { try emit($0) }
            }
        }
    }

    /// The reference library's order: dtype descending, then name ascending bytewise.
    static func sortedForWriting(_ planned: [Planned]) -> [Planned] {
        planned.sorted { a, b in
            if a.dtype != b.dtype { return a.dtype.writeRank > b.dtype.writeRank }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }
    }

    private static func write(_ planned: [Planned], metadata: [String: String]?, to url: URL) throws {
        try checkNames(planned.map(\.name), file: url.path)
        let ordered = sortedForWriting(planned)
        let header = headerBytes(ordered, metadata: metadata)
        try AtomicFile.write(to: url) { sink in
            try sink.write(header)
            for p in ordered { try p.emit { try sink.write($0) } }
        }
    }

    /// `__metadata__` is the header's own key and cannot also name a tensor.
    private static func checkNames(_ names: some Sequence<String>, file: String) throws {
        if names.contains("__metadata__") {
            throw IOError(.invalidEntry, file: file, place: "tensor '__metadata__'",
                          "'__metadata__' is reserved and cannot name a tensor", advice: "rename the tensor")
        }
    }

    /// 8-byte length prefix + padded JSON header for tensors already in writing order.
    static func headerBytes(_ ordered: [Planned], metadata: [String: String]?) -> [UInt8] {
        var json = "{"
        var first = true
        if let metadata {
            json += "\"__metadata__\":{"
            let keys = metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            json += keys.map { jsonString($0) + ":" + jsonString(metadata[$0]!) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for p in ordered {
            if !first { json += "," }
            first = false
            json += jsonString(p.name)
            json += ":{\"dtype\":\"\(p.dtype.name)\",\"shape\":[\(p.shape.map(String.init).joined(separator: ","))]"
            json += ",\"data_offsets\":[\(offset),\(offset + p.byteCount)]}"
            offset += p.byteCount
        }
        json += "}"
        var bytes = Array(json.utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        var prefix = UInt64(bytes.count).littleEndian
        let prefixBytes = withUnsafeBytes(of: &prefix) { Array($0) }
        return prefixBytes + bytes
    }

    /// A JSON string literal escaped the way serde_json does: `"` and `\` escaped, control
    /// characters as `\n`-style or `\u00xx`, everything else (including non-ASCII) verbatim.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Encodes Float32 values as `dtype` little-endian, in chunks so no full copy is made.
    static func encodeFloats(_ values: [Float], as dtype: DType, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        if dtype == .f32, 1.littleEndian == 1 {
            // The in-memory bytes already are the file bytes.
            try values.withUnsafeBytes { try emit($0) }
            return
        }
        let chunk = 1 << 16
        var start = 0
        while start < values.count {
            let end = min(start + chunk, values.count)
            switch dtype {
            case .f32:
                let piece = values[start..<end].map { $0.bitPattern.littleEndian }
                try piece.withUnsafeBytes { try emit($0) }
            case .f16:
                let piece = values[start..<end].map { halfBits($0).littleEndian }
                try piece.withUnsafeBytes { try emit($0) }
            default:
                let piece = values[start..<end].map { bfloat16Bits($0).littleEndian }
                try piece.withUnsafeBytes { try emit($0) }
            }
            start = end
        }
    }
}

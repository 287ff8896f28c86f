import Foundation

/// An open, validated, memory-mapped safetensors file. Only the tensors asked for are decoded;
/// the rest of the file is never read from disk.
///
/// Scalars are read with unaligned loads because the data section may start at any file
/// offset (the header length need not be a multiple of 8).
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    public let header: SafeTensors.Header
    private let mapping: MappedFile

    /// Maps `url` and validates its header (see `SafeTensors.parseHeader`).
    public init(_ url: URL) throws {
        self.url = url
        mapping = try MappedFile(url)
        header = try SafeTensors.parseHeader(of: mapping.bytes, name: url.path)
    }

    /// Tensor names, sorted.
    public var keys: [String] { header.keys }
    /// The `__metadata__` map, if any.
    public var metadata: [String: String]? { header.metadata }

    public func contains(_ key: String) -> Bool { header.tensors[key] != nil }

    /// The header entry of `key`; throws naming near matches when absent.
    public func info(_ key: String) throws -> SafeTensors.TensorInfo {
        guard let info = header.tensors[key] else {
            let near = similarKeys(to: key, in: header.tensors.keys)
            throw IOError(.missingKey, file: url, place: "tensor '\(key)'", "no such tensor in the file",
                          advice: near.isEmpty ? "the file has \(header.tensors.count) tensors; list them with SafeTensors.header(of:)"
                              : "did you mean \(near.joined(separator: ", "))?")
        }
        return info
    }

    /// Calls `body` with the raw little-endian bytes of `key` (valid only inside `body`).
    public func withRawBytes<R>(_ key: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try info(key)
        let start = header.dataStart + info.dataOffsets.lowerBound
        return try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + info.byteCount)]))
    }

    /// A copy of the raw bytes of `key`.
    public func rawBytes(_ key: String) throws -> [UInt8] {
        try withRawBytes(key) { Array($0) }
    }

    /// `key` decoded to Float32, row-major. Floats convert exactly (F16, BF16) or round to
    /// nearest (F64); integers convert to the nearest Float; BOOL gives 0 or 1.
    public func floats(_ key: String) throws -> [Float] {
        let info = try info(key)
        guard info.dtype.isDecodable else {
            throw IOError(.unsupportedDType, file: url, place: "tensor '\(key)'",
                          "dtype \(info.dtype.name) cannot be decoded by PEFTKit",
                          advice: "convert the checkpoint to F32, F16 or BF16")
        }
        return try withRawBytes(key) { decodeFloats($0, dtype: info.dtype, count: info.elementCount) }
    }

    /// `key` as a Float32 tensor (frozen: `requiresGrad` is false).
    public func tensor(_ key: String) throws -> Tensor {
        let info = try info(key)
        let t = Tensor(try floats(key), shape: info.shape)
        t.label = key
        return t
    }

    /// `key` as exact 64-bit integers; the dtype must be an integer type or BOOL.
    public func int64Values(_ key: String) throws -> [Int64] {
        let info = try info(key)
        guard info.dtype.isInteger else {
            throw IOError(.wrongType, file: url, place: "tensor '\(key)'",
                          "dtype \(info.dtype.name) is not an integer type", advice: "read it with floats(_:) or tensor(_:)")
        }
        return try withRawBytes(key) { raw -> [Int64] in
            let values = decodeIntegers(raw, dtype: info.dtype, count: info.elementCount)
            if info.dtype == .u64, let i = values.firstIndex(where: { $0 < 0 }) {
                throw IOError(.wrongType, file: url, place: "tensor '\(key)'",
                              "U64 element \(i) is \(UInt64(bitPattern: values[i])), beyond Int64",
                              advice: "read the raw bytes with rawBytes(_:)")
            }
            return values
        }
    }

    /// Every tensor decoded to Float32.
    public func allTensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        result.reserveCapacity(header.tensors.count)
        for key in header.order { result[key] = try tensor(key) }
        return result
    }
}

// MARK: - Decoding

/// Reads element `i` of type `T` (little-endian) at any alignment.
@inline(__always)
private func element<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ i: Int, as _: T.Type) -> T {
    T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
}

/// Decodes `count` elements of `dtype` to Float32 (the caller checked the byte count and decodability).
func decodeFloats(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int) -> [Float] {
    if count == 0 { return [] }  // see uninitializedFloats: never build an empty array this way
    return [Float](unsafeUninitializedCapacity: count) { out, initialized in
        func fill(_ f: (Int) -> Float) {
            for i in 0..<count { out[i] = f(i) }
        }
        switch dtype {
        case .f32:
            #if _endian(little)
            // Same bytes, so one copy; memcpy has no alignment requirement on the source.
            if count > 0 { out.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: count * 4) { dst in
                _ = memcpy(dst, raw.baseAddress!, count * 4)
            } }
            #else
            fill { Float(bitPattern: element(raw, $0, as: UInt32.self)) }
            #endif
        case .f16: fill { floatFromHalfBits(element(raw, $0, as: UInt16.self)) }
        case .bf16: fill { floatFromBFloat16Bits(element(raw, $0, as: UInt16.self)) }
        case .f64: fill { Float(Double(bitPattern: element(raw, $0, as: UInt64.self))) }
        case .bool: fill { raw[$0] != 0 ? 1 : 0 }
        case .u8: fill { Float(raw[$0]) }
        case .i8: fill { Float(Int8(bitPattern: raw[$0])) }
        case .i16: fill { Float(element(raw, $0, as: Int16.self)) }
        case .u16: fill { Float(element(raw, $0, as: UInt16.self)) }
        case .i32: fill { Float(element(raw, $0, as: Int32.self)) }
        case .u32: fill { Float(element(raw, $0, as: UInt32.self)) }
        case .i64: fill { Float(element(raw, $0, as: Int64.self)) }
        case .u64: fill { Float(element(raw, $0, as: UInt64.self)) }
        default: fill { _ in .nan }  // Unreachable: callers check `isDecodable` first.
        }
        initialized = count
    }
}

/// Decodes `count` elements of an integer dtype (or BOOL) exactly; U64 is returned as its bit pattern.
func decodeIntegers(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int) -> [Int64] {
    (0..<count).map { i -> Int64 in
        switch dtype {
        case .bool: raw[i] != 0 ? 1 : 0
        case .u8: Int64(raw[i])
        case .i8: Int64(Int8(bitPattern: raw[i]))
        case .i16: Int64(element(raw, i, as: Int16.self))
        case .u16: Int64(element(raw, i, as: UInt16.self))
        case .i32: Int64(element(raw, i, as: Int32.self))
        case .u32: Int64(element(raw, i, as: UInt32.self))
        case .i64: element(raw, i, as: Int64.self)
        case .u64: Int64(bitPattern: element(raw, i, as: UInt64.self))
        default: 0  // Unreachable: callers check `isInteger` first.
        }
    }
}

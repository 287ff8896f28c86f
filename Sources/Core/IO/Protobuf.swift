import Foundation

/// A minimal reader of the protobuf wire format (no schema, no code generation): enough to
/// walk ONNX and similar model files field by field. Every read is bounds-checked and every
/// error says where in the buffer it happened, so a corrupt or hostile file gives one clear
/// message instead of a crash.
public struct ProtobufReader {
    /// Wire types of the protobuf encoding.
    public enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    /// One field: its number and its raw payload.
    public struct Field {
        public let number: Int
        public let wireType: WireType
        /// Varint or fixed value (for varint / fixed32 / fixed64 fields).
        public let scalar: UInt64
        /// Byte range of a length-delimited payload in the reader's buffer.
        public let payload: Range<Int>
    }

    public let bytes: UnsafeRawBufferPointer
    /// Name of the source for error messages (a file path).
    public let source: String
    public private(set) var position: Int
    public let end: Int

    public init(bytes: UnsafeRawBufferPointer, range: Range<Int>? = nil, source: String) {
        self.bytes = bytes
        self.source = source
        self.position = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
    }

    /// A reader over a length-delimited payload of this buffer (for a nested message).
    public func nested(_ field: Field) -> ProtobufReader {
        ProtobufReader(bytes: bytes, range: field.payload, source: source)
    }

    public var isAtEnd: Bool { position >= end }

    /// Reads a base-128 varint (at most 10 bytes).
    public mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw ProtobufError.truncated(source: source, offset: position, what: "varint") }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 { throw ProtobufError.malformed(source: source, offset: position - 1, what: "varint longer than 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw ProtobufError.malformed(source: source, offset: position - 1, what: "varint longer than 10 bytes") }
        }
    }

    /// Reads the next field, or nil at the end of the message.
    public mutating func nextField() throws -> Field? {
        guard position < end else { return nil }
        let keyOffset = position
        let key = try readVarint()
        let number = Int(key >> 3)
        guard number > 0, let wire = WireType(rawValue: UInt8(key & 7)) else {
            throw ProtobufError.malformed(source: source, offset: keyOffset, what: "invalid field key \(key)")
        }
        switch wire {
        case .varint:
            return Field(number: number, wireType: wire, scalar: try readVarint(), payload: position..<position)
        case .fixed64:
            guard end - position >= 8 else { throw ProtobufError.truncated(source: source, offset: position, what: "fixed64 field \(number)") }
            let v = bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)
            position += 8
            return Field(number: number, wireType: wire, scalar: UInt64(littleEndian: v), payload: position..<position)
        case .fixed32:
            guard end - position >= 4 else { throw ProtobufError.truncated(source: source, offset: position, what: "fixed32 field \(number)") }
            let v = bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self)
            position += 4
            return Field(number: number, wireType: wire, scalar: UInt64(UInt32(littleEndian: v)), payload: position..<position)
        case .lengthDelimited:
            let lengthOffset = position
            let length = try readVarint()
            guard length <= UInt64(end - position) else {
                throw ProtobufError.truncated(source: source, offset: lengthOffset, what: "field \(number) claims \(length) bytes, \(end - position) left")
            }
            let start = position
            position += Int(length)
            return Field(number: number, wireType: wire, scalar: length, payload: start..<position)
        case .startGroup, .endGroup:
            throw ProtobufError.malformed(source: source, offset: keyOffset, what: "deprecated group encoding (field \(number))")
        }
    }

    /// UTF-8 text of a length-delimited field.
    public func string(_ field: Field) throws -> String {
        guard field.wireType == .lengthDelimited else {
            throw ProtobufError.malformed(source: source, offset: field.payload.lowerBound, what: "field \(field.number) is not a string")
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[field.payload])
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw ProtobufError.malformed(source: source, offset: field.payload.lowerBound, what: "field \(field.number) is not valid UTF-8")
        }
        return s
    }

    /// Values of a repeated integer field, packed (length-delimited) or not (one varint).
    public func varints(_ field: Field) throws -> [UInt64] {
        if field.wireType == .varint { return [field.scalar] }
        guard field.wireType == .lengthDelimited else {
            throw ProtobufError.malformed(source: source, offset: field.payload.lowerBound, what: "field \(field.number) is not an integer list")
        }
        var r = nested(field)
        var out: [UInt64] = []
        while !r.isAtEnd { out.append(try r.readVarint()) }
        return out
    }

    /// Values of a repeated float field, packed or a single fixed32.
    public func floats(_ field: Field) throws -> [Float] {
        if field.wireType == .fixed32 { return [Float(bitPattern: UInt32(field.scalar))] }
        guard field.wireType == .lengthDelimited, field.payload.count % 4 == 0 else {
            throw ProtobufError.malformed(source: source, offset: field.payload.lowerBound, what: "field \(field.number) is not a float list")
        }
        return (0..<(field.payload.count / 4)).map {
            Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: field.payload.lowerBound + 4 * $0, as: UInt32.self)))
        }
    }
}

/// Errors from the protobuf reader, naming the file and byte offset.
public enum ProtobufError: Error, CustomStringConvertible, Equatable {
    case truncated(source: String, offset: Int, what: String)
    case malformed(source: String, offset: Int, what: String)

    public var description: String {
        switch self {
        case let .truncated(source, offset, what):
            return "\(source): truncated protobuf at byte \(offset) (\(what)); the file is incomplete or not this format"
        case let .malformed(source, offset, what):
            return "\(source): malformed protobuf at byte \(offset): \(what); the file is corrupt or not this format"
        }
    }
}

import Foundation

/// The parts of an ONNX model that weight import needs: initializers (decoded to Float32),
/// nodes (op type, inputs, outputs, attributes) and graph input/output names. Domain code
/// maps them onto a module tree (e.g. Vision's DINOv2 importer); nothing here executes a graph.
///
/// ```swift
/// let model = try ONNXModel(contentsOf: url)
/// let w = try model.initializer("backbone.layernorm.weight")
/// ```
public struct ONNXModel {
    /// One initializer: its dims and values as Float32 (integers converted exactly up to 2^24).
    public struct Initializer {
        public let name: String
        public let dims: [Int]
        public let dataType: Int
        public let values: [Float]
        /// The initializer as a tensor (frozen).
        public var tensor: Tensor { Tensor(values, shape: dims) }
    }

    /// A graph attribute value (the kinds weight import needs).
    public enum Attribute {
        case float(Float), int(Int64), string(String), floats([Float]), ints([Int64]), tensor(Initializer), other
    }

    /// One graph node.
    public struct Node {
        public let name: String
        public let opType: String
        public let inputs: [String]
        public let outputs: [String]
        public let attributes: [String: Attribute]
    }

    public let path: String
    public let irVersion: Int
    public let producer: String
    public private(set) var initializers: [String: Initializer] = [:]
    /// Initializer names in file order.
    public private(set) var initializerOrder: [String] = []
    public private(set) var nodes: [Node] = []
    public private(set) var inputs: [String] = []
    public private(set) var outputs: [String] = []

    /// Reads and decodes `url`. Errors name the file and the byte offset.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ProtobufError.malformed(source: url.path, offset: 0, what: "cannot read file (\(error.localizedDescription))")
        }
        try self.init(data: data, source: url.path)
    }

    /// Decodes an in-memory ONNX model (`source` names it in errors).
    public init(data: Data, source: String) throws {
        path = source
        var ir = 0, producer = ""
        var graphRange: Range<Int>?
        var parsed: (inits: [Initializer], nodes: [Node], inputs: [String], outputs: [String]) = ([], [], [], [])
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var top = ProtobufReader(bytes: raw, source: source)
            while let f = try top.nextField() {
                switch f.number {
                case 1: ir = Int(truncatingIfNeeded: f.scalar)
                case 2: producer = try top.string(f)
                case 7: graphRange = f.payload
                default: break
                }
            }
            guard let g = graphRange else {
                throw ProtobufError.malformed(source: source, offset: 0, what: "no graph (field 7) in the model")
            }
            parsed = try ONNXModel.parseGraph(ProtobufReader(bytes: raw, range: g, source: source))
        }
        irVersion = ir
        self.producer = producer
        for i in parsed.inits {
            initializers[i.name] = i
            initializerOrder.append(i.name)
        }
        nodes = parsed.nodes
        inputs = parsed.inputs
        outputs = parsed.outputs
    }

    /// The initializer called `name`, or an error listing how many exist.
    public func initializer(_ name: String) throws -> Initializer {
        guard let i = initializers[name] else {
            throw ONNXError.missingInitializer(file: path, name: name, available: initializers.count)
        }
        return i
    }

    /// The first node whose name is `name`.
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    // MARK: - Parsing

    private static func parseGraph(_ reader: ProtobufReader) throws -> ([Initializer], [Node], [String], [String]) {
        var r = reader
        var inits: [Initializer] = [], nodes: [Node] = [], inputs: [String] = [], outputs: [String] = []
        while let f = try r.nextField() {
            switch f.number {
            case 1: nodes.append(try parseNode(r.nested(f)))
            case 5: inits.append(try parseTensor(r.nested(f)))
            case 11: inputs.append(try valueInfoName(r.nested(f)))
            case 12: outputs.append(try valueInfoName(r.nested(f)))
            default: break
            }
        }
        return (inits, nodes, inputs, outputs)
    }

    private static func valueInfoName(_ reader: ProtobufReader) throws -> String {
        var r = reader
        while let f = try r.nextField() {
            if f.number == 1 { return try r.string(f) }
        }
        return ""
    }

    private static func parseNode(_ reader: ProtobufReader) throws -> Node {
        var r = reader
        var name = "", op = "", ins: [String] = [], outs: [String] = [], attrs: [String: Attribute] = [:]
        while let f = try r.nextField() {
            switch f.number {
            case 1: ins.append(try r.string(f))
            case 2: outs.append(try r.string(f))
            case 3: name = try r.string(f)
            case 4: op = try r.string(f)
            case 5:
                let (k, v) = try parseAttribute(r.nested(f))
                attrs[k] = v
            default: break
            }
        }
        return Node(name: name, opType: op, inputs: ins, outputs: outs, attributes: attrs)
    }

    private static func parseAttribute(_ reader: ProtobufReader) throws -> (String, Attribute) {
        var r = reader
        var name = ""
        var value: Attribute = .other
        var floats: [Float] = [], ints: [Int64] = []
        var type = 0
        while let f = try r.nextField() {
            switch f.number {
            case 1: name = try r.string(f)
            case 2: value = .float(Float(bitPattern: UInt32(truncatingIfNeeded: f.scalar)))
            case 3: value = .int(Int64(bitPattern: f.scalar))
            case 4: value = .string(String(decoding: UnsafeRawBufferPointer(rebasing: r.bytes[f.payload]), as: UTF8.self))
            case 5: value = .tensor(try parseTensor(r.nested(f)))
            case 7: floats += try r.floats(f)
            case 8: ints += try r.varints(f).map { Int64(bitPattern: $0) }
            case 20: type = Int(exactly: f.scalar) ?? -1  // a varint can exceed Int.max; -1 is "unknown"
            default: break
            }
        }
        if type == 6 || (!floats.isEmpty && type == 0) { value = .floats(floats) }
        if type == 7 || (!ints.isEmpty && type == 0) { value = .ints(ints) }
        return (name, value)
    }

    /// ONNX TensorProto data types we decode.
    enum DataType: Int {
        case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, bool = 9, float16 = 10, double = 11, bfloat16 = 16
        var byteSize: Int {
            switch self {
            case .uint8, .int8, .bool: return 1
            case .uint16, .int16, .float16, .bfloat16: return 2
            case .float, .int32: return 4
            case .int64, .double: return 8
            }
        }
    }

    private static func parseTensor(_ reader: ProtobufReader) throws -> Initializer {
        var r = reader
        var dims: [Int] = [], type = 0, name = ""
        var raw: Range<Int>?
        var floatData: [Float] = [], intData: [UInt64] = [], doubleData: [Double] = []
        var external = false
        while let f = try r.nextField() {
            switch f.number {
            case 1: dims += try r.varints(f).map { Int(Int64(bitPattern: $0)) }
            case 2: type = Int(exactly: f.scalar) ?? -1  // a varint can exceed Int.max; -1 is "unsupported"
            case 4: floatData += try r.floats(f)
            case 5, 7: intData += try r.varints(f)
            case 8: name = try r.string(f)
            case 9: raw = f.payload
            case 10:
                if f.wireType == .fixed64 { doubleData.append(Double(bitPattern: f.scalar)) } else {
                    let p = f.payload
                    for i in 0..<(p.count / 8) {
                        doubleData.append(Double(bitPattern: UInt64(littleEndian: r.bytes.loadUnaligned(fromByteOffset: p.lowerBound + 8 * i, as: UInt64.self))))
                    }
                }
            case 14: external = f.scalar == 1
            default: break
            }
        }
        let source = reader.source
        if external { throw ONNXError.externalData(file: source, name: name) }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw ONNXError.badTensor(file: source, name: name, what: "negative dimension in \(dims)") }
        let (count, overflow) = dims.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d)
            return (m, acc.1 || o)
        }
        guard !overflow else { throw ONNXError.badTensor(file: source, name: name, what: "element count of \(dims) overflows") }
        guard let dt = DataType(rawValue: type) else {
            throw ONNXError.badTensor(file: source, name: name, what: "unsupported data type \(type)")
        }
        var values: [Float]
        if let raw {
            // The byte count can overflow even when the element count does not (found by fuzzing).
            let (need, tooBig) = count.multipliedReportingOverflow(by: dt.byteSize)
            guard !tooBig, raw.count == need else {
                throw ONNXError.badTensor(file: source, name: name,
                                          what: "raw data has \(raw.count) bytes, dims \(dims) need \(tooBig ? "more than \(Int.max)" : "\(need)")")
            }
            values = decodeRaw(UnsafeRawBufferPointer(rebasing: reader.bytes[raw]), type: dt, count: count)
        } else if !floatData.isEmpty || dt == .float {
            values = floatData
        } else if !doubleData.isEmpty {
            values = doubleData.map { Float($0) }
        } else if dt == .float16 || dt == .bfloat16 {
            // Stored as int32_data holding the 16-bit patterns.
            values = intData.map { dt == .float16 ? Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) : Float(bitPattern: UInt32(truncatingIfNeeded: $0) << 16) }
        } else {
            values = intData.map { dt == .int64 || dt == .int32 || dt == .int16 || dt == .int8 ? Float(Int64(bitPattern: $0)) : Float($0) }
        }
        guard values.count == count else {
            throw ONNXError.badTensor(file: source, name: name, what: "\(values.count) values for dims \(dims)")
        }
        return Initializer(name: name, dims: dims, dataType: type, values: values)
    }

    private static func decodeRaw(_ b: UnsafeRawBufferPointer, type: DataType, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            switch type {
            case .float: out[i] = Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case .double: out[i] = Float(Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            case .float16: out[i] = Float(Float16(bitPattern: UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            case .bfloat16: out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
            case .int64: out[i] = Float(Int64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
            case .int32: out[i] = Float(Int32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            case .int16: out[i] = Float(Int16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
            case .uint16: out[i] = Float(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            case .int8: out[i] = Float(Int8(bitPattern: b[i]))
            case .uint8, .bool: out[i] = Float(b[i])
            }
        }
        return out
    }
}

/// ONNX-level errors (naming the file and the initializer).
public enum ONNXError: Error, CustomStringConvertible {
    case missingInitializer(file: String, name: String, available: Int)
    case externalData(file: String, name: String)
    case badTensor(file: String, name: String, what: String)

    /// One line even when a name from the file holds a newline.
    public var description: String { oneLineMessage(text) }

    private var text: String {
        switch self {
        case let .missingInitializer(file, name, n):
            return "\(file): no initializer '\(name)' (the model has \(n)); is this the expected export?"
        case let .externalData(file, name):
            return "\(file): initializer '\(name)' keeps its data in an external file, which is not supported; re-export with the weights inside"
        case let .badTensor(file, name, what):
            return "\(file): initializer '\(name)': \(what)"
        }
    }
}

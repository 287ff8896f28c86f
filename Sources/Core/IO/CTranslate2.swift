import Foundation

/// Reader of CTranslate2's `model.bin` (binary version 6): named variables with shapes and
/// dtypes, rank-0 config flags and aliases (tied weights). Float16/BFloat16 are widened to
/// Float32 exactly (subnormals kept); int8/int16 weights with a `…_scale` companion are
/// dequantised row by row (`w = q / scale`). Records are unaligned in the file, so every
/// value is read with unaligned loads. Domain code maps the names onto its module tree
/// (Audio's Whisper importer).
///
/// ```swift
/// let ct2 = try CTranslate2Model(contentsOf: url)
/// let w = try ct2.tensor("encoder/conv1/weight")   // [384, 80, 3]
/// ```
public struct CTranslate2Model {
    /// Element types as numbered in the format.
    public enum DType: UInt8, Sendable {
        case float32 = 0, int8 = 1, int16 = 2, int32 = 3, float16 = 4, bfloat16 = 5
        var size: Int {
            switch self {
            case .int8: return 1
            case .int16, .float16, .bfloat16: return 2
            case .float32, .int32: return 4
            }
        }
    }

    /// One stored variable, decoded to Float32 (raw integer values for integer dtypes).
    public struct Variable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let values: [Float]
    }

    public let path: String
    public let specName: String
    public let specRevision: Int
    public private(set) var variables: [String: Variable] = [:]
    /// Variable names in file order.
    public private(set) var order: [String] = []
    /// Second names for existing variables (e.g. a tied output projection).
    public private(set) var aliases: [String: String] = [:]

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw CTranslate2Error(file: url.path, offset: 0, problem: "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(data: data, source: url.path)
    }

    /// Parses an in-memory `model.bin`; `source` names it in errors.
    public init(data: Data, source: String) throws {
        path = source
        var parsed: (String, Int, [Variable], [String: String]) = ("", 0, [], [:])
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var c = Cursor(bytes: raw, source: source)
            let version = try c.u32("binary version")
            guard version == 6 else {
                throw CTranslate2Error(file: source, offset: 0, problem: "binary version \(version) is not supported (only 6, written by ctranslate2 4.x); re-convert the model")
            }
            let spec = try c.string("spec name")
            let revision = Int(try c.u32("spec revision"))
            let count = Int(try c.u32("variable count"))
            // Every record needs at least 2+1+1+4 bytes: reject counts the file cannot hold before reserving.
            guard count <= (raw.count - c.offset) / 8 else {
                throw CTranslate2Error(file: source, offset: c.offset - 4, problem: "claims \(count) variables, more than the file can hold")
            }
            var vars: [Variable] = []
            vars.reserveCapacity(count)
            for _ in 0..<count { vars.append(try c.variable()) }
            let aliasCount = Int(try c.u32("alias count"))
            guard aliasCount <= (raw.count - c.offset) / 4 else {
                throw CTranslate2Error(file: source, offset: c.offset - 4, problem: "claims \(aliasCount) aliases, more than the file can hold")
            }
            var aliases: [String: String] = [:]
            for _ in 0..<aliasCount {
                let alias = try c.string("alias name")
                aliases[alias] = try c.string("alias target")
            }
            guard c.offset == raw.count else {
                throw CTranslate2Error(file: source, offset: c.offset, problem: "\(raw.count - c.offset) unexpected bytes after the alias table; the file is corrupt")
            }
            parsed = (spec, revision, vars, aliases)
        }
        specName = parsed.0
        specRevision = parsed.1
        for v in parsed.2 {
            guard variables[v.name] == nil else {
                throw CTranslate2Error(file: source, offset: 0, problem: "variable '\(v.name)' appears twice")
            }
            variables[v.name] = v
            order.append(v.name)
        }
        aliases = parsed.3
        for (alias, target) in aliases where variables[target] == nil {
            throw CTranslate2Error(file: source, offset: 0, problem: "alias '\(alias)' points to missing variable '\(target)'")
        }
    }

    /// The variable `name` (following aliases).
    public func variable(_ name: String) throws -> Variable {
        if let v = variables[name] { return v }
        if let t = aliases[name], let v = variables[t] { return v }
        let near = variables.keys.filter { $0.hasSuffix(name.split(separator: "/").last.map(String.init) ?? name) }.sorted().prefix(3)
        throw CTranslate2Error(file: path, offset: 0, problem: "no variable '\(name)'\(near.isEmpty ? "" : "; similar: \(near.joined(separator: ", "))")")
    }

    /// The variable as a Float32 tensor, dequantised when a `<name>_scale` companion exists.
    public func tensor(_ name: String) throws -> Tensor {
        let v = try variable(name)
        guard let scale = variables[name + "_scale"], v.dtype == .int8 || v.dtype == .int16 else {
            return Tensor(v.values, shape: v.shape)
        }
        let rows = v.shape.first ?? 1
        let perRow = v.values.count / Swift.max(rows, 1)
        var out = v.values
        for r in 0..<rows {
            let s = scale.values.count == 1 ? scale.values[0] : scale.values[r]
            for j in 0..<perRow { out[r * perRow + j] /= s }
        }
        return Tensor(out, shape: v.shape)
    }

    /// An integer config flag stored as a rank-0 variable (e.g. `encoder/num_heads`).
    public func flag(_ name: String) -> Int? {
        guard let v = variables[name], v.shape.isEmpty, let x = v.values.first else { return nil }
        return Int(x)
    }
}

/// A malformed or unsupported `model.bin`: the file, the byte offset, and what to do.
public struct CTranslate2Error: Error, CustomStringConvertible {
    public let file: String
    public let offset: Int
    public let problem: String
    public var description: String { oneLineMessage("\(file): byte \(offset): \(problem)") }
}

/// Bounds-checked little-endian reads over the file bytes.
private struct Cursor {
    let bytes: UnsafeRawBufferPointer
    let source: String
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, source: String) {
        self.bytes = bytes
        self.source = source
    }

    mutating func need(_ n: Int, _ what: String) throws {
        guard n >= 0, bytes.count - offset >= n else {
            throw CTranslate2Error(file: source, offset: offset, problem: "file ends inside \(what) (needs \(n) bytes, \(bytes.count - offset) left); the download is incomplete or the file is not a CTranslate2 model")
        }
    }

    mutating func u8(_ what: String) throws -> UInt8 {
        try need(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ what: String) throws -> UInt16 {
        try need(2, what)
        defer { offset += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        try need(4, what)
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// `u16 length` + UTF-8 bytes + NUL (the length counts the NUL).
    mutating func string(_ what: String) throws -> String {
        let start = offset
        let n = Int(try u16(what))
        guard n >= 1 else { throw CTranslate2Error(file: source, offset: start, problem: "\(what) has length 0 (missing terminator)") }
        try need(n, what)
        let body = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n - 1)])
        guard bytes[offset + n - 1] == 0, let s = String(validating: body, as: UTF8.self) else {
            throw CTranslate2Error(file: source, offset: start, problem: "\(what) is not NUL-terminated UTF-8")
        }
        offset += n
        return s
    }

    mutating func variable() throws -> CTranslate2Model.Variable {
        let recordStart = offset
        let name = try string("variable name")
        let rank = Int(try u8("rank of '\(name)'"))
        var shape: [Int] = []
        var count = 1
        for _ in 0..<rank {
            let d = Int(try u32("shape of '\(name)'"))
            shape.append(d)
            let (m, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw CTranslate2Error(file: source, offset: recordStart, problem: "shape \(shape) of '\(name)' overflows") }
            count = m
        }
        let typeID = try u8("dtype of '\(name)'")
        guard let dtype = CTranslate2Model.DType(rawValue: typeID) else {
            throw CTranslate2Error(file: source, offset: offset - 1, problem: "unknown dtype id \(typeID) for '\(name)'")
        }
        let numBytes = Int(try u32("byte count of '\(name)'"))
        // The shape product can be near Int.max (u32 dims multiply freely): check × size for overflow too.
        let (needed, tooBig) = count.multipliedReportingOverflow(by: dtype.size)
        guard !tooBig, numBytes == needed else {
            throw CTranslate2Error(file: source, offset: offset - 4, problem: "'\(name)' declares \(numBytes) bytes but shape \(shape) of \(dtype) needs \(tooBig ? "more than 2^63" : String(needed))")
        }
        try need(numBytes, "data of '\(name)'")
        let base = offset, bytes = self.bytes
        // One switch per variable, not per element: the per-element loops are then plain
        // loads and bit operations. Float16 goes through `floatFromHalfBits` (exact, bit
        // operations) instead of `Float(Float16)`, which on baseline x86-64 (no F16C) is a call
        // to `__extendhfsf2` per value: 3.7-10 % of a `transcribe` run of Whisper tiny.
        func load<T: FixedWidthInteger>(_ type: T.Type, _ i: Int) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: base + MemoryLayout<T>.size * i, as: T.self))
        }
        let values = makeBuffer(count) { p in
            let out = p.base
            switch dtype {
            case .float32: for i in 0..<count { out[i] = Float(bitPattern: load(UInt32.self, i)) }
            case .float16: for i in 0..<count { out[i] = floatFromHalfBits(load(UInt16.self, i)) }
            case .bfloat16: for i in 0..<count { out[i] = floatFromBFloat16Bits(load(UInt16.self, i)) }
            case .int8: for i in 0..<count { out[i] = Float(Int8(bitPattern: bytes[base + i])) }
            case .int16: for i in 0..<count { out[i] = Float(Int16(bitPattern: load(UInt16.self, i))) }
            case .int32: for i in 0..<count { out[i] = Float(Int32(bitPattern: load(UInt32.self, i))) }
            }
        }
        offset += numBytes
        return CTranslate2Model.Variable(name: name, dtype: dtype, shape: shape, values: values)
    }
}

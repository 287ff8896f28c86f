import Foundation

/// The file layer under `PeftModel.save` / `load`: a name → Float tensor map in the
/// safetensors format (8-byte little-endian header length, JSON header, raw data).
///
/// Kept behind these two functions so the project's general reader (IO/SafeTensors.swift)
/// can replace the body without touching the adapter code. Reads F32, F16, BF16 and F64
/// (converted to Float); writes F32. Every header field is checked against the file size
/// before anything is allocated, so a corrupt or lying header gives an error, not a crash.
enum AdapterTensorFile {
    static func read(_ url: URL) throws -> [String: Tensor] {
        func bad(_ s: String) -> AdapterError { .badFile(file: url.path, detail: s) }
        guard let data = try? Data(contentsOf: url, options: .mappedIfSafe) else {
            throw bad("cannot be read; check the path and permissions")
        }
        guard data.count >= 8 else { throw bad("too short to be a safetensors file (\(data.count) bytes)") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard n > 0, n <= UInt64(data.count - 8), n < 100_000_000 else {
            throw bad("header length \(n) does not fit in the file (\(data.count) bytes); the file is truncated or not safetensors")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(n)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        let body = 8 + Int(n)
        let bodySize = data.count - body
        var out: [String: Tensor] = [:]
        for (key, value) in header where key != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                let shapeAny = entry["shape"] as? [NSNumber], let offs = entry["data_offsets"] as? [NSNumber], offs.count == 2
            else { throw bad("entry '\(key)' lacks dtype/shape/data_offsets") }
            let shape = shapeAny.map(\.intValue)
            guard shape.allSatisfy({ $0 >= 0 && $0 < Int(Int32.max) }) else { throw bad("entry '\(key)' has an invalid shape \(shape)") }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            case "F64": width = 8
            default: throw bad("entry '\(key)' has dtype \(dtype); adapter weights must be floating point (F32, F16, BF16, F64)")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            let start = offs[0].intValue, end = offs[1].intValue
            guard !overflow, start >= 0, end >= start, end <= bodySize, end - start == count * width else {
                throw bad("entry '\(key)': data_offsets [\(start), \(end)] do not hold \(shape) \(dtype) within the \(bodySize)-byte data section")
            }
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let p = raw.baseAddress! + body + start
                for i in 0..<count {
                    switch dtype {
                    case "F32": values[i] = Float(bitPattern: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
                    case "F64": values[i] = Float(Double(bitPattern: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian))
                    case "BF16":
                        let h = p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                        values[i] = Float(bitPattern: UInt32(h) << 16)
                    default:
                        values[i] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian))
                    }
                }
            }
            out[key] = Tensor(values, shape: shape)
        }
        return out
    }

    /// Writes F32 tensors (keys sorted, offsets packed) to a temporary file, then renames it
    /// into place so a crash never leaves a half-written adapter.
    static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = ["format": "pt"], to url: URL) throws {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        let sorted = tensors.sorted { $0.0 < $1.0 }
        for (k, t) in sorted {
            header[k] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]]
            offset += 4 * t.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }  // pad so the data section is 8-byte aligned
        var out = Data(capacity: 8 + json.count + offset)
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in sorted {
            t.storage.withUnsafeBufferPointer { buf in
                for v in buf {
                    var bits = v.bitPattern.littleEndian
                    withUnsafeBytes(of: &bits) { out.append(contentsOf: $0) }
                }
            }
        }
        try atomicWrite(out, to: url)
    }
}

/// Writes `data` to `url` through a temporary sibling and a rename.
func atomicWrite(_ data: Data, to url: URL) throws {
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
    do {
        try data.write(to: tmp)
        // POSIX rename replaces an existing file atomically (FileManager.replaceItemAt fails
        // on Linux when the destination exists).
        guard rename(tmp.path, url.path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw AdapterError.badFile(file: url.path, detail: "cannot be written (\(error)); check the folder exists and is writable")
    }
}

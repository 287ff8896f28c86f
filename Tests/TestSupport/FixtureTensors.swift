import Core
import Foundation

/// A minimal safetensors reader for test fixtures (F32, F64, I64, I32 → Float), independent of
/// Core's own reader so Core's layers can be checked against reference files on their own.
/// It reads the 8-byte little-endian header length, the JSON header and the raw bytes.
public enum FixtureTensors {
    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The JSON header: tensor name → (dtype, shape). `__metadata__` is skipped.
    public static func header(_ url: URL) throws -> [String: (dtype: String, shape: [Int], offsets: (Int, Int))] {
        let data = try Data(contentsOf: url)
        return try parseHeader(data, url: url).entries
    }

    private static func parseHeader(_ data: Data, url: URL) throws -> (entries: [String: (dtype: String, shape: [Int], offsets: (Int, Int))], dataStart: Int) {
        guard data.count >= 8 else { throw ReadError(description: "\(url.path): shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= UInt64(data.count - 8) else { throw ReadError(description: "\(url.path): header length \(n) exceeds the file") }
        let json = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + Int(n)))
        guard let object = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw ReadError(description: "\(url.path): header is not a JSON object")
        }
        var out: [String: (dtype: String, shape: [Int], offsets: (Int, Int))] = [:]
        for (key, value) in object where key != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw ReadError(description: "\(url.path): malformed header entry '\(key)'") }
            out[key] = (dtype, shape, (offsets[0], offsets[1]))
        }
        return (out, 8 + Int(n))
    }

    /// Every tensor in the file as Float32 `Tensor`s.
    public static func load(_ url: URL) throws -> [String: Tensor] {
        let data = try Data(contentsOf: url)
        let (entries, start) = try parseHeader(data, url: url)
        var out: [String: Tensor] = [:]
        for (key, e) in entries {
            let count = e.shape.reduce(1, *)
            let width: Int
            switch e.dtype {
            case "F32", "I32": width = 4
            case "F64", "I64": width = 8
            default: continue  // not needed by the tests
            }
            let lo = start + e.offsets.0, hi = start + e.offsets.1
            guard hi - lo == count * width, hi <= data.count else {
                throw ReadError(description: "\(url.path): '\(key)' byte range does not match shape \(e.shape)")
            }
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let base = raw.baseAddress!.advanced(by: lo)
                for i in 0..<count {
                    let p = base.advanced(by: i * width)
                    switch e.dtype {
                    case "F32": values[i] = Float(bitPattern: p.loadUnaligned(as: UInt32.self).littleEndian)
                    case "I32": values[i] = Float(Int32(littleEndian: p.loadUnaligned(as: Int32.self)))
                    case "F64": values[i] = Float(Double(bitPattern: p.loadUnaligned(as: UInt64.self).littleEndian))
                    default: values[i] = Float(Int64(littleEndian: p.loadUnaligned(as: Int64.self)))
                    }
                }
            }
            out[key] = Tensor(values, shape: e.shape)
        }
        return out
    }
}

import Audio
import Core
import Foundation
import TestSupport

/// Minimal safetensors reader for the audio fixtures (F32 only): 8-byte little-endian header
/// length, JSON header `{name: {dtype, shape, data_offsets}}`, then the raw data.
struct FixtureTensors {
    let tensors: [String: Tensor]

    init(_ url: URL) throws {
        let data = try Data(contentsOf: url)
        guard data.count >= 8 else { throw FixtureError("\(url.path): shorter than a safetensors header") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard headerLength > 0, 8 + headerLength <= data.count else { throw FixtureError("\(url.path): bad header length") }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any] ?? [:]
        var out: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String, dtype == "F32",
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw FixtureError("\(url.path): unsupported entry \(name)") }
            let begin = 8 + headerLength + offsets[0], end = 8 + headerLength + offsets[1]
            let count = shape.reduce(1, *)
            guard end <= data.count, end - begin == count * 4 else { throw FixtureError("\(url.path): bad offsets for \(name)") }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in _ = data.copyBytes(to: dst, from: begin..<end) }
            out[name] = Tensor(values, shape: shape)
        }
        tensors = out
    }

    subscript(_ name: String) -> Tensor {
        get throws {
            guard let t = tensors[name] else { throw FixtureError("fixture tensor \(name) missing") }
            return t
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Paths and contents of `fixtures/audio`.
enum AudioFixtures {
    static let folder = TestPaths.fixture("audio")
    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }
    static let clipNames = [
        "allison_digit1_8k.wav", "allison_digit1_16k.wav", "allison_digit1_16k_float32.wav", "allison_digit1_16k.flac",
        "allison_digit1_16k_stereo.wav", "allison_digit2_8k.wav", "allison_digit2_16k.wav", "allison_digit8_8k.wav",
        "allison_digit8_16k.wav",
    ]
    static let digits = ["1", "2", "8"]
    static func samples() throws -> FixtureTensors { try FixtureTensors(url("samples.safetensors")) }
    static func features() throws -> FixtureTensors { try FixtureTensors(url("features.safetensors")) }
    /// Mono samples of `allison_digit<d>_16k.wav` as our reader returns them.
    static func clip16k(_ digit: String) throws -> [Float] {
        try AudioFile.read(url("allison_digit\(digit)_16k.wav")).samples
    }
}

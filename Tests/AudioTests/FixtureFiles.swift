import Audio
import Core
import Foundation
import TestSupport

/// Named tensors of one fixture file (read with TestSupport's independent safetensors reader),
/// with a throwing lookup so a missing key fails the test with its name.
struct FixtureFile {
    let tensors: [String: Tensor]

    init(_ url: URL) throws { tensors = try FixtureTensors.load(url) }

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
    static func samples() throws -> FixtureFile { try FixtureFile(url("samples.safetensors")) }
    static func features() throws -> FixtureFile { try FixtureFile(url("features.safetensors")) }
    /// Mono samples of `allison_digit<d>_16k.wav` as our reader returns them.
    static func clip16k(_ digit: String) throws -> [Float] {
        try AudioFile.read(url("allison_digit\(digit)_16k.wav")).samples
    }
}

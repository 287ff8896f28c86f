import Foundation
import Testing
@testable import Audio
import TestSupport

/// `AudioFile.read(data:name:)` (libsndfile virtual I/O, used by the fuzz target) decodes exactly
/// what `AudioFile.read(_:)` decodes from the same file, and refuses the same damage.
@Suite("Audio read from memory")
struct AudioInMemoryReadTests {
    static let fixtures = ["allison_digit1_16k.flac", "allison_digit1_16k.wav", "allison_digit1_16k_float32.wav",
                           "allison_digit1_16k_stereo.wav", "allison_digit1_8k.wav"]

    @Test(arguments: fixtures)
    func sameSamplesAsFromTheFile(_ name: String) throws {
        let url = TestPaths.fixture("audio/\(name)")
        let fromFile = try AudioFile.read(url)
        let fromMemory = try AudioFile.read(data: Data(contentsOf: url), name: name)
        #expect(fromMemory == fromFile)  // bit-identical samples, rate and channel count
    }

    @Test func sameRefusalsAsFromTheFile() throws {
        let wav = try [UInt8](Data(contentsOf: TestPaths.fixture("audio/allison_digit1_16k.wav")))
        let damaged: [(String, [UInt8], String)] = [
            ("empty.wav", [], "empty"),
            ("cut.wav", Array(wav.prefix(2000)), "truncated WAV"),
            ("text.wav", Array("not a sound file at all".utf8), "not a readable sound file"),
        ]
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, bytes, problem) in damaged {
            let url = dir.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            for attempt in [{ _ = try AudioFile.read(url) }, { _ = try AudioFile.read(data: Data(bytes), name: url.path) }] {
                do {
                    try attempt()
                    Issue.record("\(name) should be refused")
                } catch {
                    #expect("\(error)".contains(url.path) && "\(error)".contains(problem), "\(error)")
                }
            }
        }
    }
}

import Foundation
import Testing
@testable import Audio
import TestSupport

/// Inputs found by `scripts/fuzz.sh` (target `audio-manifest`), minimised by hand.
@Suite("Fuzz regressions (Audio)")
struct AudioFuzzRegressionTests {
    /// A manifest line holding a bare carriage return ("pat\r# c") was quoted raw into the
    /// error, which then printed as two lines.
    @Test func manifestLineWithACarriageReturnGivesAOneLineError() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("manifest.csv")
        try Data("pat\r# c\n".utf8).write(to: url)
        do {
            _ = try AudioDataset.manifest(url)
            Issue.record("should fail")
        } catch {
            let message = "\(error)"
            #expect(!message.contains("\n") && !message.contains("\r"), "\(message)")
            #expect(message.contains(url.path) && message.contains("line 1"), "\(message)")
        }
    }
}

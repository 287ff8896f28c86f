import Core
import Foundation

/// An `avsr-tune` adapter folder:
/// - `avsr_config.json`: the base Whisper folder, the trained rates, the Omni-LoRA mode and
///   scaling, the visual feature width (or null) and the training options;
/// - `adapter_model.safetensors`: every trainable tensor under its module path in `OmniAVSR`
///   (`whisper.decoder.layers.N.…omni…`, `audio.projectors.R.fc1.weight`, `audio.modality_embedding`, …).
/// Both files are written to a temporary name and renamed, so a folder is never half-written.
public struct AVSRAdapterFile: Codable, Sendable, Equatable {
    public var baseModel: String
    public var videoDim: Int?
    public var options: AVSRTrainingOptions
    /// Word error rates measured after training, by condition (informational).
    public var validationWER: [String: Double]?

    public static let configName = "avsr_config.json"
    public static let weightsName = "adapter_model.safetensors"

    public init(baseModel: String, videoDim: Int?, options: AVSRTrainingOptions, validationWER: [String: Double]? = nil) {
        self.baseModel = baseModel
        self.videoDim = videoDim
        self.options = options
        self.validationWER = validationWER
    }

    /// A fresh Omni-AVSR model on `whisper` with this file's settings.
    public func makeModel(whisper: WhisperModel) throws -> OmniAVSR {
        guard let mode = TaskLoRAMode(rawValue: options.loraMode) else {
            throw WhisperDecodeError("unknown Omni-LoRA mode '\(options.loraMode)' (use shared, task or shared+task)")
        }
        return try OmniAVSR(whisper: whisper, videoDim: videoDim, audioRates: options.audioRates, videoRates: options.videoRates,
                            loraMode: mode, reductionFactor: options.reductionFactor, alpha: options.alpha, seed: options.seed,
                            videoTimePositions: options.videoPositions ?? false, videoHidden: options.videoHidden,
                            videoContext: options.videoContext ?? 0, learnedVideoPositions: options.learnedVideoPositions ?? false)
    }

    /// Writes the config and the trainable tensors of `model` into `folder`.
    public func save(_ model: OmniAVSR, to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var tensors: [String: Tensor] = [:]
        for (k, t) in model.trainableParameters() { tensors[k] = t }
        try SafeTensors.write(tensors, metadata: ["format": "pt", "peftkit": "omni-avsr"], to: folder.appendingPathComponent(Self.weightsName))
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(Array(try e.encode(self)), to: folder.appendingPathComponent(Self.configName))
    }

    /// Reads a folder's config.
    public static func readConfig(_ folder: URL) throws -> AVSRAdapterFile {
        let url = folder.appendingPathComponent(configName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw WhisperDecodeError("\(url.path): not found; pass a folder written by avsr-tune train")
        }
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        do { return try d.decode(AVSRAdapterFile.self, from: data) } catch {
            throw WhisperDecodeError("\(url.path): not a valid avsr-tune config (\(error))")
        }
    }

    /// Builds the model on `whisper` and loads the folder's tensors into it; every trainable
    /// tensor must be present with its shape, and no unknown tensor may be.
    public static func load(_ folder: URL, whisper: WhisperModel) throws -> (AVSRAdapterFile, OmniAVSR) {
        let config = try readConfig(folder)
        let model = try config.makeModel(whisper: whisper)
        let url = folder.appendingPathComponent(weightsName)
        let stored = try SafeTensors.read(url)
        let params = model.trainableParameters()
        let expected = Set(params.map(\.0))
        if let extra = stored.keys.sorted().first(where: { !expected.contains($0) }) {
            throw WhisperDecodeError("\(url.path): tensor '\(extra)' does not belong to this Omni-AVSR configuration")
        }
        for (k, t) in params {
            guard let v = stored[k] else { throw WhisperDecodeError("\(url.path): tensor '\(k)' is missing") }
            guard v.shape == t.shape else { throw WhisperDecodeError("\(url.path): tensor '\(k)' has shape \(v.shape), expected \(t.shape)") }
            t.storage = v.storage
        }
        return (config, model)
    }
}

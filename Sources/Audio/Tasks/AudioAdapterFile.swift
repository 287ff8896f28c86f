import Core
import Foundation

/// What `audio-adapt train` writes: `adapter.safetensors` (every trainable tensor of the best
/// epoch, plus Conformer BatchNorm running statistics) and `adapter.json` (how to rebuild the
/// backbone, the method settings, class names, training settings and results).
public struct AudioAdapterManifest: Codable, Sendable {
    public var format = "peftkit-audio-adapter"
    public var version = 1
    public var backbone: BackboneRecipe
    public var petl: PETLConfig
    public var labels: [String]
    public var training: AudioTrainOptions
    public var report: AudioTrainReport?
    public var test: AudioEvaluation?
    public var trainableParameters: Int
    public var backboneParameters: Int
    public var dataProtocol: String?

    public init(backbone: BackboneRecipe, petl: PETLConfig, labels: [String], training: AudioTrainOptions,
                report: AudioTrainReport?, test: AudioEvaluation?, trainableParameters: Int, backboneParameters: Int, dataProtocol: String?) {
        self.backbone = backbone; self.petl = petl; self.labels = labels; self.training = training; self.report = report
        self.test = test; self.trainableParameters = trainableParameters; self.backboneParameters = backboneParameters
        self.dataProtocol = dataProtocol
    }
}

/// Saving and loading adapter folders.
public enum AudioAdapterFile {
    public static let tensorsName = "adapter.safetensors"
    public static let manifestName = "adapter.json"

    /// Writes the folder atomically: a sibling temporary folder is filled, then renamed over `dir`.
    /// `carrying`: names of files or folders already in `dir` (training checkpoints) that the
    /// new folder keeps.
    public static func save(_ model: PETLClassifier, manifest: AudioAdapterManifest, to dir: URL, carrying: [String] = []) throws {
        let fm = FileManager.default
        let parent = dir.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(dir.lastPathComponent).tmp-\(UUID().uuidString)")
        try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
        do {
            var tensors: [String: Tensor] = [:]
            for (k, t) in model.stateToSave() { tensors[k] = t.detached() }
            try SafeTensors.write(tensors, metadata: ["format": manifest.format], to: tmp.appendingPathComponent(tensorsName))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(manifest), to: tmp.appendingPathComponent(manifestName))
            for name in carrying where fm.fileExists(atPath: dir.appendingPathComponent(name).path) {
                try fm.copyItem(at: dir.appendingPathComponent(name), to: tmp.appendingPathComponent(name))
            }
            // One-step swap: a kill at any point leaves the old folder or the new one, complete.
            try AtomicFile.replaceDirectory(dir, with: tmp)
        } catch {
            try? fm.removeItem(at: tmp)
            throw AudioDatasetError("\(dir.path): could not write the adapter folder (\(error)); check the path is writable")
        }
    }

    /// Reads the manifest of an adapter folder.
    public static func manifest(in dir: URL) throws -> AudioAdapterManifest {
        let url = dir.appendingPathComponent(manifestName)
        guard let data = try? Data(contentsOf: url) else {
            throw AudioDatasetError("\(url.path): missing or unreadable; --adapter must be a folder written by audio-adapt train")
        }
        do { return try JSONDecoder().decode(AudioAdapterManifest.self, from: data) } catch {
            throw AudioDatasetError("\(url.path): not a valid adapter manifest (\(error))")
        }
    }

    /// Rebuilds the trained classifier: the backbone from its recipe, the method, then the saved tensors.
    public static func load(_ dir: URL) throws -> (model: PETLClassifier, manifest: AudioAdapterManifest) {
        let m = try manifest(in: dir)
        let backbone = try BackboneFactory.make(m.backbone)
        let model = try PETLClassifier(backbone: backbone, labels: m.labels, config: m.petl)
        let url = dir.appendingPathComponent(tensorsName)
        let file = try SafeTensors.open(url)
        for (key, t) in model.stateToSave() {
            guard file.contains(key) else { throw AdapterError.missingKey(file: url.path, key: key) }
            let stored = try file.tensor(key)
            guard stored.shape == t.shape else { throw AdapterError.shapeMismatch(file: url.path, key: key, expected: t.shape, found: stored.shape) }
            t.storage = stored.storage
        }
        model.setTraining(false)
        return (model, m)
    }
}

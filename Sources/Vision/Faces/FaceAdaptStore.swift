import Core
import Foundation

/// `face_adapt.json`, written next to the PEFT-layout adapter files: everything needed to
/// rebuild and drive the adapted network (method, τ, α mode) and to re-create the split it
/// was trained on, so evaluation never touches a training probe.
public struct FaceAdaptManifest: Codable, Sendable {
    public static let fileName = "face_adapt.json"
    public var format = "peftkit-face-adapt-1"
    public var method: FaceAdaptMethod
    public var options: FaceAdaptOptions
    /// The ONNX network it was trained on.
    public var model: String
    public var data: String
    public var protocolName: FaceProtocol
    public var trainIdentitiesCount: Int?
    public var trainImagesCount: Int?
    public var trainIdentities: [String]
    public var qualityThreshold: Float
    /// Cosine threshold at FAR 1% among training faces (full resolution), for `verify`.
    public var verificationThreshold: Float?
    public var training: FaceTrainingLog?

    public init(method: FaceAdaptMethod, options: FaceAdaptOptions, model: String, data: String, protocolName: FaceProtocol,
                trainIdentitiesCount: Int?, trainImagesCount: Int?, trainIdentities: [String], qualityThreshold: Float) {
        self.method = method
        self.options = options
        self.model = model
        self.data = data
        self.protocolName = protocolName
        self.trainIdentitiesCount = trainIdentitiesCount
        self.trainImagesCount = trainImagesCount
        self.trainIdentities = trainIdentities
        self.qualityThreshold = qualityThreshold
    }
}

/// Saving and loading a trained `face-adapt` adapter folder.
public enum FaceAdaptStore {
    /// Pretty, sorted, snake-case JSON (non-finite numbers as strings).
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    /// Writes the adapter (PEFT layout, through `PeftModel.save`) and the manifest, each to a
    /// temporary file renamed into place.
    public static func save(_ adapter: FaceAdapter, manifest: FaceAdaptManifest, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let peft = adapter.peft { try peft.save(to: directory) }
        try AtomicFile.write(try encoder().encode(manifest), to: directory.appendingPathComponent(FaceAdaptManifest.fileName))
    }

    /// Writes any report as JSON next to the adapter.
    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try AtomicFile.write(try encoder().encode(value), to: url, createDirectories: true)
    }

    public static func manifest(at directory: URL) throws -> FaceAdaptManifest {
        let url = directory.appendingPathComponent(FaceAdaptManifest.fileName)
        guard let data = try? Data(contentsOf: url) else {
            throw DatasetError("\(url.path): cannot be read; is \(directory.path) a folder written by `face-adapt train`?")
        }
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try d.decode(FaceAdaptManifest.self, from: data)
        } catch {
            throw DatasetError("\(url.path): not a face-adapt manifest (\(error)); re-run `face-adapt train`")
        }
    }

    /// Rebuilds the adapted network saved in `directory` on top of `model` (loaded by the caller
    /// from the manifest's or a user-given ONNX file).
    public static func load(from directory: URL, model: SFaceModel) throws -> (FaceAdapter, FaceAdaptManifest) {
        let m = try manifest(at: directory)
        let adapter = try FaceAdapter(model: model, method: m.method, loadingFrom: directory)
        adapter.qualityThreshold = m.qualityThreshold
        adapter.referenceAlpha = m.options.referenceAlpha
        adapter.quality = try FaceQualityScorer.load(m.options.qualityMeasure)
        return (adapter, m)
    }
}

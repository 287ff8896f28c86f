import Core
import Foundation

/// How a `vision-adapt train` run checkpoints, resumes and splits its batches over ranks
/// (see docs/distributed.md). The default is what the command did before: one process, no
/// checkpoint, no resume.
public struct VisionTrainingRun {
    /// Folder the training checkpoint is written to (the adapter folder); nil: never.
    public var checkpointFolder: URL?
    /// A checkpoint every this many steps and at the end (0: only at the end).
    public var checkpointEvery = 0
    /// The folder (or checkpoint file) of an interrupted run to continue.
    public var resumeFrom: URL?
    /// The ranks the batches are split over.
    public var world: any Distributed = SingleProcess()

    public init(checkpointFolder: URL? = nil, checkpointEvery: Int = 0, resumeFrom: URL? = nil, world: any Distributed = SingleProcess()) {
        self.checkpointFolder = checkpointFolder
        self.checkpointEvery = checkpointEvery
        self.resumeFrom = resumeFrom
        self.world = world
    }

    /// The settings a resume must share with the checkpointed run: every option (one key
    /// each, so a refusal names the one that differs) and a hash of the support images and
    /// their labels (another `--data` folder or shot selection is refused).
    static func config(options: VisionAdaptOptions, images: [Image], labels: [Int]) throws -> [String: String] {
        var config: [String: String] = [:]
        let json = try JSONSerialization.jsonObject(with: try VisionAdaptOptions.encoder.encode(options))
        if let fields = json as? [String: Any] {
            for (key, value) in fields {
                let text = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
                config["option." + key] = text
            }
        }
        config["support-data"] = supportHash(images: images, labels: labels)
        return config
    }

    /// FNV-1a-64 of every support image (size, channels, pixels) and its label, in order.
    static func supportHash(images: [Image], labels: [Int]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        func mix(_ value: Int) { withUnsafeBytes(of: Int64(value).littleEndian) { for b in $0 { mix(b) } } }
        for (image, label) in zip(images, labels) {
            mix(image.width); mix(image.height); mix(image.channels); mix(label)
            for b in image.pixels { mix(b) }
        }
        return String(format: "%016llx", h)
    }
}

/// The loop's own state a resume needs beside weights and optimizer: the loss record
/// (exact Float bits, so the summary of a resumed run equals an uninterrupted one).
struct VisionTrainingProgress: Codable {
    var first: UInt32?
    var recent: [UInt32]

    init(first: Float?, recent: [Float]) {
        self.first = first?.bitPattern
        self.recent = recent.map(\.bitPattern)
    }

    var firstLoss: Float? { first.map(Float.init(bitPattern:)) }
    var recentLosses: [Float] { recent.map(Float.init(bitPattern:)) }

    func json() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }

    static func decode(_ text: String, file: String) throws -> VisionTrainingProgress {
        do {
            return try JSONDecoder().decode(VisionTrainingProgress.self, from: Data(text.utf8))
        } catch {
            throw DatasetError("\(file): the checkpoint's progress record is not vision-adapt's (\(error)); train into a new --out folder")
        }
    }
}

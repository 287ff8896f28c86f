import Core
import Foundation

/// How a `vision-adapt train` run checkpoints, resumes and splits its batches over ranks
/// (see docs/distributed.md). The default is what the command did before: one process, no
/// checkpoint, no resume.
public typealias VisionTrainingRun = TrainingRun

extension TrainingRun {
    /// The settings a resume must share with the checkpointed run: every option (one key
    /// each, so a refusal names the one that differs) and a hash of the support images and
    /// their labels (another `--data` folder or shot selection is refused).
    static func config(options: VisionAdaptOptions, images: [Image], labels: [Int]) throws -> [String: String] {
        try optionConfig(options, encoder: VisionAdaptOptions.encoder,
                         extra: ["support-data": supportHash(images: images, labels: labels)])
    }

    /// FNV-1a-64 of every support image (size, channels, pixels) and its label, in order.
    static func supportHash(images: [Image], labels: [Int]) -> String {
        // Byte-wise, as before FNV1a64 existed, so older checkpoints still match.
        var h = FNV1a64()
        func mix(_ value: Int) { withUnsafeBytes(of: Int64(value).littleEndian) { for b in $0 { h.mix(UInt64(b)) } } }
        for (image, label) in zip(images, labels) {
            mix(image.width); mix(image.height); mix(image.channels); mix(label)
            for b in image.pixels { h.mix(UInt64(b)) }
        }
        return h.hex
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

import Core
import Foundation

/// What `face-adapt train` and `deepfake-detect train` must match to resume a run (the
/// options, one key each so a refusal names the field, and a fingerprint of the training
/// pixels and labels) and how their loop state beyond weights/AdamW/dropout travels in the
/// checkpoint's progress record. Weights, AdamW moments and steps and the LoRA dropout
/// generators come back through Core's `TrainingSession`.
public enum ResumableRunConfig {
    /// `option.<field>` → the field's JSON for every stored property of `options`, plus `extra`.
    public static func config<T: Encodable>(options: T, extra: [String: String]) throws -> [String: String] {
        try TrainingRun.optionConfig(options, extra: extra)
    }

    /// FNV-1a over every image's size and pixel bytes with its label, in order: a resume on
    /// other faces (or the same faces in another order or labelling) is refused.
    public static func fingerprint(images: [Image], labels: [Int]) -> String {
        var h = FNV1a64()
        for (image, label) in zip(images, labels) {
            h.mix(UInt64(image.width)); h.mix(UInt64(image.height)); h.mix(UInt64(image.channels)); h.mix(UInt64(bitPattern: Int64(label)))
            image.pixels.withUnsafeBufferPointer { for b in $0 { h.mix(UInt64(b)) } }
        }
        return h.hex
    }
}

/// The face-adapt loop's own state at a checkpoint: the sampling generator (training sizes,
/// flips and the next epochs' shuffles), the current epoch's order, the loss record and the
/// counters. Doubles travel as bit patterns so a resumed run logs and saves the same values.
struct FaceTrainingProgress: Codable {
    var rng: String
    var order: [Int]
    var epochLossSum: UInt64
    var batches: Int
    var steps: Int
    var samplesSeen: Int
    var epochLoss: [UInt64]

    func json() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }

    static func decode(_ text: String, file: String, samples: Int) throws -> FaceTrainingProgress {
        guard let p = try? JSONDecoder().decode(FaceTrainingProgress.self, from: Data(text.utf8)), UInt64(p.rng, radix: 16) != nil,
              p.order.count == samples, Set(p.order) == Set(0..<samples)
        else {
            throw DatasetError("\(file): the checkpoint's progress record is not face-adapt's for these \(samples) training images; train into a new --out folder")
        }
        return p
    }
}

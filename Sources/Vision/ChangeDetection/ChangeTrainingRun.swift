import Core
import Foundation

/// How a `change-detect train` run checkpoints and resumes (see docs/distributed.md). One
/// process only: PeftCD's loss has a Dice term over the whole batch and the decoder has
/// BatchNorms, so a batch split over ranks would not compute the single-process step.
public typealias ChangeTrainingRun = TrainingRun

extension TrainingRun {
    /// Every training option (one key each, so a refusal names it) and the pair counts.
    static func config(options: ChangeTrainOptions, train: Int, validation: Int) throws -> [String: String] {
        try optionConfig(options, extra: ["train-pairs": "\(train)", "validation-pairs": "\(validation)"])
    }
}

/// The loop's state beside weights and AdamW: the crop/augmentation generator, the loss
/// record, the validations so far and the best one (its parameters and BatchNorm statistics
/// travel as checkpoint tensors `best/<name>`; the current statistics as `buffer/<name>`).
struct ChangeTrainingProgress: Codable {
    var rng: String
    var lastLoss: UInt64
    var recent: [UInt64]
    var validations: [ChangeValidation]
    var bestIoU: UInt64?
    var bestStep: Int?

    init(rng: UInt64, lastLoss: Double, recent: [Double], validations: [ChangeValidation], best: (iou: Double, step: Int)?) {
        self.rng = String(format: "%016llx", rng)
        self.lastLoss = lastLoss.bitPattern
        self.recent = recent.map(\.bitPattern)
        self.validations = validations
        bestIoU = best?.iou.bitPattern
        bestStep = best?.step
    }

    func json() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }

    static func decode(_ text: String, file: String) throws -> ChangeTrainingProgress {
        guard let p = try? JSONDecoder().decode(ChangeTrainingProgress.self, from: Data(text.utf8)), UInt64(p.rng, radix: 16) != nil else {
            throw DatasetError("\(file): the checkpoint's progress record is not change-detect's; train into a new --out folder")
        }
        return p
    }
}

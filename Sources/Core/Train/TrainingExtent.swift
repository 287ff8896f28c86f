import Foundation

/// How long the run a checkpoint is resumed into is: its epochs, batches per epoch and optimizer
/// steps (each optional: a trainer counted in steps alone gives only `steps`).
///
/// A checkpoint written by this run can only hold a position inside these bounds:
/// `epoch` in 1…epochs + 1 (epochs + 1 = after the last epoch, with batch 0), `batchInEpoch` in
/// 0…batchesPerEpoch (equal to it right after the epoch's last batch), `step` in 0…steps (fewer
/// when the run stopped early). The run's options are part of the checkpoint's config, so a
/// checkpoint of a longer run is refused by the config match already; a position outside the
/// bounds means a damaged or edited header, which the trainers' loops (`epoch..<last`,
/// `batch..<batchesPerEpoch`) would otherwise trap on or skip silently, reporting a finished run
/// that never trained.
public struct TrainingExtent: Sendable, Equatable {
    public var epochs: Int?
    public var batchesPerEpoch: Int?
    public var steps: Int?

    public init(epochs: Int? = nil, batchesPerEpoch: Int? = nil, steps: Int? = nil) {
        self.epochs = epochs; self.batchesPerEpoch = batchesPerEpoch; self.steps = steps
    }

    /// Why `position` cannot belong to a run of this extent, or nil when it can.
    public func problem(with p: TrainingPosition) -> String? {
        // TrainingCheckpoint.read already refuses negative steps/batches and epoch 0.
        if let steps, p.step > steps {
            return "it is at step \(p.step), but this run has \(steps) step\(steps == 1 ? "" : "s")"
        }
        if let epochs {
            if p.epoch > epochs + 1 {
                return "it is at epoch \(p.epoch), but this run has \(epochs) epoch\(epochs == 1 ? "" : "s")"
            }
            if p.epoch == epochs + 1 && p.batchInEpoch > 0 {
                return "it is at batch \(p.batchInEpoch) of epoch \(p.epoch), after the last of this run's \(epochs) epoch\(epochs == 1 ? "" : "s")"
            }
        }
        if let batchesPerEpoch, p.batchInEpoch > batchesPerEpoch {
            return "it is at batch \(p.batchInEpoch) of epoch \(p.epoch), but an epoch of this run has \(batchesPerEpoch) batch\(batchesPerEpoch == 1 ? "" : "es")"
        }
        return nil
    }
}

extension TrainingPosition {
    /// Throws `TrainingCheckpointError.beyondRun`, naming the checkpoint `file`, unless this
    /// position lies inside `extent` (see `TrainingExtent`).
    public func require(within extent: TrainingExtent, file: String) throws {
        if let problem = extent.problem(with: self) {
            throw TrainingCheckpointError.beyondRun(file: file, detail: problem)
        }
    }
}

extension TrainingCheckpoint {
    /// `position.require(within:file:)`.
    public func requirePosition(within extent: TrainingExtent, file: String) throws {
        try position.require(within: extent, file: file)
    }
}

extension TrainingSession {
    /// `resume(from:)`, then the position check against the run's `extent`, before the caller
    /// reads anything else from the checkpoint. The check runs after the config match, so a
    /// checkpoint of another run is reported as such (naming the options that differ) rather
    /// than as a position problem.
    public func resume(from pathOrFolder: URL, within extent: TrainingExtent) throws -> TrainingCheckpoint {
        let checkpoint = try resume(from: pathOrFolder)
        try checkpoint.requirePosition(within: extent, file: TrainingCheckpoint.file(in: pathOrFolder).path)
        return checkpoint
    }
}

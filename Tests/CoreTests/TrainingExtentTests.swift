import Core
import Foundation
import Testing
import TestSupport

/// A resumed checkpoint's position must lie inside the run it continues (`TrainingExtent`):
/// the trainers loop `epoch..<last` and `batch..<batchesPerEpoch` from it, so a damaged or
/// edited header at epoch 5 of a 3-epoch run used to finish silently without training, and a
/// batch past the epoch's end trapped on the range. The bounds are the positions the trainers
/// themselves write (hand-listed below from their `TrainingPosition(…)` calls).
@Suite struct TrainingExtentTests {
    /// 3 epochs of 4 batches, 12 steps.
    static let extent = TrainingExtent(epochs: 3, batchesPerEpoch: 4, steps: 12)

    @Test("every position a 3 × 4 run writes is accepted")
    func positionsTheTrainersWrite() {
        var accepted: [TrainingPosition] = [TrainingPosition()]   // fresh start
        for epoch in 1...3 {
            for b in 1...4 { accepted.append(TrainingPosition(step: (epoch - 1) * 4 + b, epoch: epoch, batchInEpoch: b)) }
            accepted.append(TrainingPosition(step: epoch * 4, epoch: epoch + 1))       // end of an epoch
        }
        accepted.append(TrainingPosition(step: 12, epoch: 4, finished: true))           // the final checkpoint
        accepted.append(TrainingPosition(step: 8, epoch: 4, finished: true))            // stopped early
        for p in accepted { #expect(Self.extent.problem(with: p) == nil, "\(p)") }
        // A step-only run (vision-adapt, deepfake-detect, change-detect, DAPT) ignores epochs.
        #expect(TrainingExtent(steps: 10).problem(with: TrainingPosition(step: 10, finished: true)) == nil)
    }

    @Test("positions beyond the run are refused, each with what is wrong")
    func positionsBeyondTheRun() {
        let cases: [(TrainingPosition, String)] = [
            (TrainingPosition(step: 12, epoch: 5), "it is at epoch 5, but this run has 3 epochs"),
            (TrainingPosition(step: 13, epoch: 4, finished: true), "it is at step 13, but this run has 12 steps"),
            (TrainingPosition(step: 9, epoch: 3, batchInEpoch: 5), "it is at batch 5 of epoch 3, but an epoch of this run has 4 batches"),
            (TrainingPosition(step: 12, epoch: 4, batchInEpoch: 1), "it is at batch 1 of epoch 4, after the last of this run's 3 epochs"),
        ]
        for (p, message) in cases { #expect(Self.extent.problem(with: p) == message, "\(p)") }
        #expect(TrainingExtent(steps: 1).problem(with: TrainingPosition(step: 2)) == "it is at step 2, but this run has 1 step")
    }

    @Test("TrainingSession.resume(from:within:) refuses a position beyond the run, naming the file; the config check comes first")
    func sessionRefusesNamingTheFile() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (m, p, s) = try TrainCheckpointTests.session(dir)
        try TrainCheckpointTests.train(m, p, s, from: 0, to: 2)   // a checkpoint at step 2, epoch 1, batch 2
        let file = TrainingCheckpoint.file(in: dir).path
        // Intact: inside a run of 6 one-epoch steps.
        let (_, _, s1) = try TrainCheckpointTests.session(dir)
        #expect(try s1.resume(from: dir, within: TrainingExtent(epochs: 1, batchesPerEpoch: 6, steps: 6)).position.step == 2)
        // The same file resumed into a shorter run: one line naming the file and the problem.
        let (_, _, s2) = try TrainCheckpointTests.session(dir)
        do {
            _ = try s2.resume(from: dir, within: TrainingExtent(epochs: 1, batchesPerEpoch: 1, steps: 6))
            Issue.record("a checkpoint at batch 2 of a 1-batch epoch was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix(file + ": refusing to resume") && text.contains("it is at batch 2 of epoch 1, but an epoch of this run has 1 batch")
                    && !text.contains("\n"), "\(text)")
        }
        // Edited header: epoch 5 (the config still matches, so only the position check can catch it).
        var edited = try TrainingCheckpoint.read(from: dir)
        edited.position = TrainingPosition(step: 2, epoch: 5, batchInEpoch: 0)
        try edited.write(to: dir)
        let (_, _, s3) = try TrainCheckpointTests.session(dir)
        #expect(throws: TrainingCheckpointError.beyondRun(file: file, detail: "it is at epoch 5, but this run has 3 epochs")) {
            _ = try s3.resume(from: dir, within: TrainingExtent(epochs: 3, steps: 6))
        }
        // Another run's checkpoint is reported as a config difference, not as a position problem.
        let (_, _, s4) = try TrainCheckpointTests.session(dir, config: ["lr": "0.02"])
        do {
            _ = try s4.resume(from: dir, within: TrainingExtent(epochs: 1, steps: 1))
            Issue.record("another run's checkpoint was accepted")
        } catch {
            #expect("\(error)".contains("lr: checkpoint 0.01, this run 0.02"), "\(error)")
        }
    }
}

import Core
import Foundation
import Testing
import TestSupport

/// `ner-tune train` killed with SIGKILL and continued with `--resume` ends with trainable
/// weights bit-identical to an uninterrupted run (the reference), for a kill at a seeded
/// random step and for a kill in the middle of a checkpoint write. Dropout is on (0.1), so
/// the generator states must be restored too. Runs the built executable as a child process
/// on a tiny BERT (a few seconds in all).
@Suite(.serialized) struct ResumeKillTests {
    /// 36 sentences / batch 4 = 9 steps per epoch, 3 epochs.
    static let totalSteps = 27

    static func isStepLine(_ line: String) -> Bool { line.hasPrefix("epoch ") && line.contains(" step ") }

    @Test("kill -9 at a random step, resume: bit-identical weights and adapter")
    func killAndResume() throws {
        guard let exe = ResumeSupport.nerTune() else {
            Issue.record("ner-tune is not built (.build/release/ner-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try ResumeSupport.setUp(in: dir, dropout: 0.1)
        let env = ResumeSupport.environment()
        let reference = dir.appendingPathComponent("reference")
        let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: env)
        #expect(full.status == 0, "reference run failed: \(full.stderr)")

        // A seeded "random" step (the seed is fixed so a failure can be replayed).
        var rng = SplitMix64(seed: 20_261_126)
        let killAt = 3 + Int(rng.next() % UInt64(Self.totalSteps - 6))
        let run = dir.appendingPathComponent("run")
        var seen = 0
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "2"], environment: env) { line in
            if Self.isStepLine(line) { seen += 1 }
            return seen >= killAt
        }
        #expect(killed.killedBySignal, "the run ended before the kill at step \(killAt)")
        let interrupted = try TrainingCheckpoint.read(from: run)
        #expect(!interrupted.position.finished && interrupted.position.step < Self.totalSteps)

        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "2", "--resume", run.path], environment: env)
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        #expect(resumed.stderr.contains("resumed from"))
        let a = try ResumeSupport.finalWeights(reference), b = try ResumeSupport.finalWeights(run)
        #expect(!a.isEmpty && a == b, "killed at step \(killAt) (checkpoint step \(interrupted.position.step))")
        let adapterA = try Data(contentsOf: reference.appendingPathComponent("adapter_model.safetensors"))
        let adapterB = try Data(contentsOf: run.appendingPathComponent("adapter_model.safetensors"))
        #expect(adapterA == adapterB, "the best-dev adapter differs")
    }

    @Test("kill -9 during a checkpoint write: the previous checkpoint is intact and resume is bit-identical")
    func killDuringCheckpointWrite() throws {
        guard let exe = ResumeSupport.nerTune() else {
            Issue.record("ner-tune is not built (.build/release/ner-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try ResumeSupport.setUp(in: dir, dropout: 0.1)
        let reference = dir.appendingPathComponent("reference")
        let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: ResumeSupport.environment())
        #expect(full.status == 0, "reference run failed: \(full.stderr)")

        // Checkpoints every 4 steps; each write pauses halfway. Kill during the third one
        // (step 12), after two complete checkpoints.
        let run = dir.appendingPathComponent("run")
        var writes = 0
        let stalled = ResumeSupport.environment(["PEFTKIT_FAULT_CHECKPOINT_STALL_MS": "1000"])
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "4"], environment: stalled) { line in
            if line.hasPrefix("checkpoint write stalled") { writes += 1 }
            return writes == 3
        }
        #expect(killed.killedBySignal)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.count == 1, "the half-written temporary file should be there: \(leftovers)")
        let previous = try TrainingCheckpoint.read(from: run)
        #expect(previous.position.step == 8, "the checkpoint before the interrupted write")

        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "4", "--resume", run.path],
                                            environment: ResumeSupport.environment())
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        #expect(try ResumeSupport.finalWeights(reference) == ResumeSupport.finalWeights(run))
    }

    @Test("ner-tune dapt: kill -9 at a random step, resume (head warm-up repeated): bit-identical weights and export")
    func daptKillAndResume() throws {
        guard let exe = ResumeSupport.nerTune() else {
            Issue.record("ner-tune is not built (.build/release/ner-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try ResumeSupport.daptSetUp(in: dir, dropout: 0.1) + ["--head-warmup", "2"]
        let env = ResumeSupport.environment()
        let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
        let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: env)
        #expect(full.status == 0, "reference run failed: \(full.stderr)")
        let total = try TrainingCheckpoint.read(from: reference).position.step
        var rng = SplitMix64(seed: 20_261_127)
        let killAt = 4 + Int(rng.next() % UInt64(max(total - 6, 1)))
        var seen = 0
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "3"], environment: env) { line in
            if line.hasPrefix("dapt: step ") { seen += 1 }
            return seen >= killAt
        }
        #expect(killed.killedBySignal, "the run ended before the kill at step \(killAt) of \(total)")
        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "3", "--resume", run.path], environment: env)
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        #expect(resumed.stderr.contains("dapt: resumed from"))
        #expect(try ResumeSupport.finalWeights(reference) == ResumeSupport.finalWeights(run))
        let a = try Data(contentsOf: reference.appendingPathComponent("model.safetensors"))
        #expect(a == (try Data(contentsOf: run.appendingPathComponent("model.safetensors"))), "the exported merged encoder differs")
    }

    @Test("a checkpoint of a different config or base model is refused, naming the difference")
    func refusesOtherRuns() throws {
        guard let exe = ResumeSupport.nerTune() else {
            Issue.record("ner-tune is not built (.build/release/ner-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try ResumeSupport.setUp(in: dir, dropout: 0.1)
        let env = ResumeSupport.environment()
        let run = dir.appendingPathComponent("run")
        #expect(try ResumeSupport.run(exe, args + ["--out", run.path, "--epochs", "1"], environment: env).status == 0)

        let otherLR = try ResumeSupport.run(exe, args + ["--out", run.path, "--epochs", "1", "--lr", "0.02", "--resume", run.path], environment: env)
        #expect(otherLR.status == 1)
        #expect(otherLR.stderr.contains("refusing to resume") && otherLR.stderr.contains("lr: checkpoint 0.01, this run 0.02"), "\(otherLR.stderr)")

        // Another base model: the same architecture with one weight changed.
        let other = dir.appendingPathComponent("tiny-bert-2")
        try FileManager.default.copyItem(at: dir.appendingPathComponent("tiny-bert"), to: other)
        let weights = other.appendingPathComponent("model.safetensors")
        let tensors = try SafeTensorsFile(weights).allTensors()
        let key = try #require(tensors.keys.sorted().first { $0.contains("word_embeddings") })
        tensors[key]!.storage[0] += 1
        try SafeTensors.write(tensors, to: weights)
        var otherArgs = args
        otherArgs[otherArgs.firstIndex(of: "--model")! + 1] = other.path
        let otherModel = try ResumeSupport.run(exe, otherArgs + ["--out", run.path, "--epochs", "1", "--resume", run.path], environment: env)
        #expect(otherModel.status == 1 && otherModel.stderr.contains("base model: checkpoint fingerprint"), "\(otherModel.stderr)")
        #expect(otherModel.stderr.split(separator: "\n").last?.contains("ner-tune: error:") == true)
    }
}

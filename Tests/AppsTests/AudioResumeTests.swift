import Audio
import Core
import Foundation
import Testing
import TestSupport

/// `audio-adapt train` on the tiny AST fixture and generated tones, run as a child process:
/// killed with SIGKILL and continued with `--resume`, the final trainable weights are
/// bit-identical to an uninterrupted run (Conformer adapter with BatchNorm buffers and
/// SpecAugment, so the generator and the running statistics must come back too) and the adapter
/// file byte-identical; a kill during a checkpoint write resumes from the previous checkpoint;
/// a resume with another option is refused naming it; under `mpirun -np 2` (LoRA) the ranks
/// reach the one-process weights within norm-wise 1e-6, also when a 1-process run is resumed
/// under 2 ranks.
@Suite(.serialized) struct AudioResumeTests {
    static func executable() -> URL? {
        ResumeSupport.app("audio-adapt")
    }

    /// 2 × 6 training tones (300 Hz vs 2500 Hz, validation = test), batch 4: 3 steps per epoch,
    /// 6 epochs = 18 steps; the last batch of each epoch holds 4 clips.
    static func setUp(in dir: URL, method: String) throws -> [String] {
        let data = dir.appendingPathComponent("data")
        try AudioAdaptTests.tones(data)
        var args = ["train", "--data", data.path, "--model", AudioAdaptTests.model, "--method", method, "--epochs", "6", "--batch", "4",
                    "--seed", "3", "--lr", "0.01"]
        args += method == "lora" ? ["--lora-rr", "8"] : ["--reduction-rate", "4", "--specaugment"]
        return args
    }

    static func isEpochLine(_ line: String) -> Bool { line.hasPrefix("epoch ") && line.contains("/6 ") }

    @Test("conformer adapter + SpecAugment: kill -9 at a random epoch, resume: bit-identical weights and adapter file")
    func killAndResume() throws {
        guard let exe = Self.executable() else {
            Issue.record("audio-adapt is not built (.build/release/audio-adapt); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try Self.setUp(in: dir, method: "conformer-adapter")
        let env = ResumeSupport.environment()
        let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
        let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: env)
        #expect(full.status == 0, "reference run failed: \(full.stderr)")

        // Killed once the k-th epoch line is out (k seeded): the process is then somewhere in
        // epoch k+1, checkpointing after every step, so the checkpoint is mid-epoch or at its end.
        var rng = SplitMix64(seed: 20_261_126)
        let killAt = 1 + Int(rng.next() % 4)
        var seen = 0
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1"], environment: env) { line in
            if Self.isEpochLine(line) { seen += 1 }
            return seen >= killAt
        }
        #expect(killed.killedBySignal, "the run ended before the kill after epoch \(killAt)")
        let interrupted = try TrainingCheckpoint.read(from: run)
        #expect(!interrupted.position.finished && interrupted.position.step < 18)

        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1", "--resume", run.path], environment: env)
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        #expect(resumed.stderr.contains("resumed from"))
        let a = try ResumeSupport.finalWeights(reference), b = try ResumeSupport.finalWeights(run)
        #expect(!a.isEmpty && a == b, "killed after epoch line \(killAt) (checkpoint step \(interrupted.position.step))")
        let x = try Data(contentsOf: reference.appendingPathComponent(AudioAdapterFile.tensorsName))
        let y = try Data(contentsOf: run.appendingPathComponent(AudioAdapterFile.tensorsName))
        #expect(x == y, "adapter.safetensors (best epoch's weights and BatchNorm statistics) differs")
        // The BatchNorm running statistics are in the checkpoint and moved during training.
        let buffers = try TrainingCheckpoint.read(from: run).extraTensors.filter { $0.key.hasPrefix("buffer/") && $0.key.hasSuffix("running_mean") }
        #expect(!buffers.isEmpty && buffers.values.allSatisfy { $0.storage.contains { $0 != 0 } })
    }

    @Test("kill -9 during a checkpoint write resumes from the previous one; another --lr is refused naming it")
    func killDuringWriteAndRefusal() throws {
        guard let exe = Self.executable() else {
            Issue.record("audio-adapt is not built (.build/release/audio-adapt); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try Self.setUp(in: dir, method: "conformer-adapter")
        let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
        #expect(try ResumeSupport.run(exe, args + ["--out", reference.path], environment: ResumeSupport.environment()).status == 0)
        var writes = 0
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "4"],
                                           environment: ResumeSupport.environment(["PEFTKIT_FAULT_CHECKPOINT_STALL_MS": "1000"])) { line in
            if line.hasPrefix("checkpoint write stalled") { writes += 1 }
            return writes == 2
        }
        #expect(killed.killedBySignal)
        #expect(try TrainingCheckpoint.read(from: run).position.step == 4, "the checkpoint before the interrupted write")

        let other = try ResumeSupport.run(exe, args.map { $0 == "0.01" ? "0.02" : $0 } + ["--out", run.path, "--resume", run.path],
                                          environment: ResumeSupport.environment())
        #expect(other.status == 1)
        let errors = other.stderr.split(separator: "\n").filter { $0.contains("error") }
        #expect(errors.count == 1 && errors[0].contains("refusing to resume") && errors[0].contains("option.learningRate: checkpoint 0.0099"),
                "one error line naming the option: \(other.stderr)")

        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "4", "--resume", run.path],
                                            environment: ResumeSupport.environment())
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try ResumeSupport.finalWeights(reference) == ResumeSupport.finalWeights(run))
    }

    @Test("LoRA under mpirun -np 2 = 1 process (norm-wise 1e-6); a killed 1-process run resumes under 2 ranks; rank 0 alone writes")
    func twoRanks() throws {
        guard let mpirun = MPITrainingTests.mpirun(), let exe = Self.executable() else {
            print("AudioResumeTests: skipped, mpirun or audio-adapt not found (apt-get install openmpi-bin libopenmpi-dev)")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try Self.setUp(in: dir, method: "lora")
        let env = MPITrainingTests.environment()
        let mpi = ["--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "OPENBLAS_NUM_THREADS", exe.path]
        let single = dir.appendingPathComponent("single"), parallel = dir.appendingPathComponent("parallel")
        let one = try ResumeSupport.run(exe, args + ["--out", single.path], environment: env)
        #expect(one.status == 0, "\(one.stderr)")
        let two = try ResumeSupport.run(mpirun, mpi + args + ["--out", parallel.path], environment: env)
        #expect(two.status == 0, "mpirun failed: \(two.stderr)")
        #expect(two.stderr.contains("data parallel, 2 ranks"), "\(two.stderr)")
        #expect(two.stdout.components(separatedBy: "\"mean_test_accuracy\"").count == 2, "rank 0 alone prints the result: \(two.stdout)")
        #expect(two.stderr.components(separatedBy: "epoch 1/6").count == 2, "rank 0 alone logs")
        let w1 = try ResumeSupport.finalWeights(single)
        let diff = MPITrainingTests.difference(w1, try ResumeSupport.finalWeights(parallel))
        print("AudioResumeTests: audio-adapt train (LoRA), 2 ranks vs 1 process: \(diff)")
        #expect(diff.global <= 1e-6, "\(diff)")
        // LoRA B starts at zero: the weights did move.
        let moved = w1.filter { $0.key.contains("lora_B") }
        #expect(!moved.isEmpty && moved.values.allSatisfy { $0.contains { $0 != 0 } })

        // A 1-process run killed during its second checkpoint write (step 10), resumed under 2 ranks.
        let run = dir.appendingPathComponent("run")
        var writes = 0
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "5"],
                                           environment: ResumeSupport.environment(["PEFTKIT_FAULT_CHECKPOINT_STALL_MS": "1000"])) { line in
            if line.hasPrefix("checkpoint write stalled") { writes += 1 }
            return writes == 2
        }
        #expect(killed.killedBySignal)
        let resumed = try ResumeSupport.run(mpirun, mpi + args + ["--out", run.path, "--checkpoint-every", "5", "--resume", run.path], environment: env)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resumed from") && resumed.stderr.contains("2 ranks"), "\(resumed.stderr)")
        let diff2 = MPITrainingTests.difference(w1, try ResumeSupport.finalWeights(run))
        print("AudioResumeTests: 1-process run killed at step 10, resumed under 2 ranks, vs uninterrupted: \(diff2)")
        #expect(diff2.global <= 1e-6, "\(diff2)")
    }
}

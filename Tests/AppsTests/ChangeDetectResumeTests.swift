import Core
import Foundation
import Testing
import TestSupport

/// `change-detect train` (LoRA with dropout 0.1 on the tiny DINOv2 fixture, augmentation on,
/// BatchNorm decoder) killed with SIGKILL at a seeded step and continued with `--resume`: the
/// final trainable weights are bit-identical to an uninterrupted run (the crop/augmentation
/// generator, the dropout generators and the BatchNorm statistics must all come back) and the
/// adapter file byte-identical. The built executable runs as a child process.
@Suite(.serialized) struct ChangeDetectResumeTests {
    static func executable() -> URL? {
        ResumeSupport.app("change-detect")
    }

    @Test("kill -9 at a seeded step, resume: bit-identical weights and adapter file; another --lr is refused naming it")
    func killAndResume() throws {
        guard let exe = Self.executable() else {
            Issue.record("change-detect is not built (.build/release/change-detect); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data").path
        let env = ResumeSupport.environment()
        let made = try ResumeSupport.run(exe, ["make-data", "--scene", try ChangeDetectCommandTests.scene(dir).path, "--out", data, "--tile", "32"],
                                         environment: env)
        #expect(made.status == 0, "\(made.stderr)")
        let args = ["train", "--data", data, "--model", TestPaths.fixture("tiny/dinov2").path, "--peft", "lora", "--exchange", "0",
                    "--steps", "12", "--batch", "2", "--size", "32", "--channels", "8", "--rank", "2", "--eval-every", "5", "--lr", "0.001"]
        let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
        let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: env)
        #expect(full.status == 0, "reference run failed: \(full.stderr)")
        // Each checkpoint write announces itself (pausing 1 ms); the kill follows the k-th.
        var rng = SplitMix64(seed: 20_261_126)
        let killAt = 2 + Int(rng.next() % 8)
        var writes = 0
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1"],
                                           environment: ResumeSupport.environment(["PEFTKIT_FAULT_CHECKPOINT_STALL_MS": "1"])) { line in
            if line.hasPrefix("checkpoint write stalled") { writes += 1 }
            return writes >= killAt
        }
        #expect(killed.killedBySignal, "the run ended before write \(killAt)")
        let at = try TrainingCheckpoint.read(from: run).position
        #expect(!at.finished)

        let other = try ResumeSupport.run(exe, args.map { $0 == "0.001" ? "0.002" : $0 } + ["--out", run.path, "--resume", run.path], environment: env)
        #expect(other.status == 1)
        let errors = other.stderr.split(separator: "\n").filter { $0.contains("error") }
        #expect(errors.count == 1 && errors[0].contains("refusing to resume") && errors[0].contains("option.learningRate: checkpoint 0.001"), "\(other.stderr)")

        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1", "--resume", run.path], environment: env)
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        #expect(resumed.stderr.contains("resumed from"))
        let a = try ResumeSupport.finalWeights(reference), b = try ResumeSupport.finalWeights(run)
        #expect(!a.isEmpty && a == b, "killed after checkpoint write \(killAt) (checkpoint step \(at.step))")
        let x = try Data(contentsOf: reference.appendingPathComponent("adapter_model.safetensors"))
        let y = try Data(contentsOf: run.appendingPathComponent("adapter_model.safetensors"))
        #expect(x == y, "adapter_model.safetensors (the best validation's weights and statistics) differs")
    }
}

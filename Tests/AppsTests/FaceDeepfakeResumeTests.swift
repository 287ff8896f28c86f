import Core
import Foundation
import Testing
import TestSupport
import Vision

/// `face-adapt train` (PETALface on the real SFace, LoRA dropout 0.1, random training sizes and
/// flips) and `deepfake-detect train` (GenD's LoRA ablation on the tiny DINOv2 fixture with
/// augmentation) killed with SIGKILL *while* their k-th checkpoint is being written (k seeded;
/// each write stalls halfway, so the kill lands in the middle of the temporary file), then
/// continued with `--resume`: the previous checkpoint must be intact and the final trainable
/// weights bit-identical to an uninterrupted run. A resume with another `--lr` is refused with
/// a one-line error naming the option. The built executables run as child processes.
@Suite(.serialized) struct FaceDeepfakeResumeTests {
    static func executable(_ name: String) -> URL? {
        ResumeSupport.app(name)
    }

    /// Reference run, killed run, refused resume, resume; checks as described above.
    static func killDuringWriteAndResume(_ exe: URL, args: [String], lr: (String, String), optionKey: String, seed: UInt64,
                                         writes: ClosedRange<Int>, env: [String: String]) throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
        let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: env)
        #expect(full.status == 0, "reference run failed: \(full.stderr)")
        var rng = SplitMix64(seed: seed)
        let killAt = writes.lowerBound + Int(rng.next() % UInt64(writes.count))
        var seen = 0
        var stalled = env
        stalled["PEFTKIT_FAULT_CHECKPOINT_STALL_MS"] = "400"
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1"], environment: stalled) { line in
            if line.hasPrefix("checkpoint write stalled") { seen += 1 }
            return seen >= killAt
        }
        #expect(killed.killedBySignal, "the run ended before checkpoint write \(killAt)")
        // Killed halfway through write k: the file on disk is write k−1's, whole.
        let at = try TrainingCheckpoint.read(from: run).position
        #expect(at.step == killAt - 1 && !at.finished, "checkpoint at step \(at.step) after a kill during write \(killAt)")

        let other = try ResumeSupport.run(exe, args.map { $0 == lr.0 ? lr.1 : $0 } + ["--out", run.path, "--resume", run.path], environment: env)
        #expect(other.status != 0)
        let errors = other.stderr.split(separator: "\n").filter { $0.contains("error") }
        #expect(errors.count == 1 && errors[0].contains("refusing to resume") && errors[0].contains("\(optionKey): checkpoint \(lr.0)"), "\(other.stderr)")

        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1", "--resume", run.path], environment: env)
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        #expect(resumed.stderr.contains("resumed from"))
        let a = try ResumeSupport.finalWeights(reference), b = try ResumeSupport.finalWeights(run)
        #expect(!a.isEmpty && a == b, "killed during checkpoint write \(killAt)")
        let x = try Data(contentsOf: reference.appendingPathComponent("adapter_model.safetensors"))
        let y = try Data(contentsOf: run.appendingPathComponent("adapter_model.safetensors"))
        #expect(x == y, "adapter_model.safetensors differs")
    }

    /// Four SFace training runs of 9 steps each with LoRA dropout 0.1: the dropout generators sit
    /// in SFace's step array (enum payloads), which `ModelRandomState` now walks.
    @Test("face-adapt: kill -9 during a checkpoint write at a seeded step, resume: bit-identical weights")
    func faceAdapt() throws {
        guard let exe = Self.executable("face-adapt") else {
            Issue.record("face-adapt is not built (.build/release/face-adapt); build with --build-tests first")
            return
        }
        // s1, s2 train (3 images each: 3 steps of 2 per epoch, 3 epochs); s3 is the test identity.
        let root = try FaceAdaptCommandTests.folder([("s1", [1, 2, 3]), ("s2", [1, 2, 3]), ("s3", [1, 2])])
        defer { try? FileManager.default.removeItem(at: root) }
        let args = ["train", "--data", root.path, "--model", FaceAdaptCommandTests.sface, "--method", "petal", "--train-identities", "2",
                    "--epochs", "3", "--batch", "2", "--rank", "2", "--dropout", "0.1", "--train-sizes", "0,12,8", "--lr", "0.001", "--no-eval"]
        try Self.killDuringWriteAndResume(exe, args: args, lr: ("0.001", "0.002"), optionKey: "option.learningRate", seed: 20_261_126,
                                          writes: 2...8, env: ResumeSupport.environment(["PEFTKIT_MODELS": TestPaths.models.path]))
    }

    @Test("deepfake-detect: kill -9 during a checkpoint write at a seeded step, resume: bit-identical weights")
    func deepfakeDetect() throws {
        guard let exe = Self.executable("deepfake-detect") else {
            Issue.record("deepfake-detect is not built (.build/release/deepfake-detect); build with --build-tests first")
            return
        }
        let faces = try DeepfakeDetectCommandTests.faces(identities: 4, perIdentity: 2)
        let data = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: faces); try? FileManager.default.removeItem(at: data) }
        let env = ResumeSupport.environment()
        let built = try ResumeSupport.run(exe, ["build-data", "--faces", faces.path, "--out", data.path, "--train-identities", "2",
                                                "--families", "swap,sbi"], environment: env)
        #expect(built.status == 0, "\(built.stderr)")
        let args = ["train", "--data", data.path + "/train", "--model", TestPaths.fixture("tiny/dinov2").path, "--method", "lora",
                    "--iterations", "10", "--batch", "4", "--image-size", "32", "--rank", "2", "--lr", "0.001"]
        try Self.killDuringWriteAndResume(exe, args: args, lr: ("0.001", "0.002"), optionKey: "option.learningRate", seed: 20_261_127,
                                          writes: 2...8, env: env)
    }
}

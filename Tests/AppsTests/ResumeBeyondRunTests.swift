import Core
import Foundation
import Testing
import TestSupport

/// Every resumable trainer refuses a checkpoint whose position lies beyond the run it is
/// resumed into (`TrainingExtent`): an edited or damaged header at epoch 99 of a short run used
/// to "finish" without training (or, for a batch past the epoch's end, trap on a range). Each
/// app trains a short run to its final checkpoint, the checkpoint's position is rewritten (the
/// config and weights stay those of the run, so only the position can be wrong), and `--resume`
/// must exit non-zero with one error line naming the checkpoint file and what is wrong.
@Suite(.serialized) struct ResumeBeyondRunTests {
    static func executable(_ name: String) -> URL? {
        ResumeSupport.app(name)
    }

    /// `args` with the value after `flag` replaced (shorter runs than the kill tests need).
    static func with(_ args: [String], _ flag: String, _ value: String) -> [String] {
        var a = args
        if let i = a.firstIndex(of: flag), i + 1 < a.count { a[i + 1] = value }
        return a
    }

    /// Position edits: the far-future epoch, a batch past any epoch's end, a step past the run.
    typealias Edit = (String, (inout TrainingPosition) -> Void, String)
    static var epochBeyond: Edit { ("epoch 99", { (p: inout TrainingPosition) in p.epoch = 99 }, "it is at epoch 99, but this run has") }
    static var batchBeyond: Edit {
        ("batch 10000", { (p: inout TrainingPosition) in p = TrainingPosition(step: 1, epoch: 1, batchInEpoch: 10_000) },
         "it is at batch 10000 of epoch 1, but an epoch of this run has")
    }
    static var stepBeyond: Edit { ("step 10000", { (p: inout TrainingPosition) in p.step = 10_000; p.finished = false }, "it is at step 10000, but this run has") }

    /// Trains `args` into `dir/run` (final checkpoint only), then resumes once per edit.
    static func expectRefusals(_ app: String, _ args: [String], in dir: URL, environment env: [String: String] = ResumeSupport.environment(),
                               checkpointFolder: (URL) -> URL = { $0 },
                               edits: [Edit]) throws {
        guard let exe = executable(app) else {
            Issue.record("\(app) is not built (.build/release/\(app)); build with --build-tests first")
            return
        }
        let run = dir.appendingPathComponent("run")
        let trained = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "0"], environment: env)
        try #require(trained.status == 0, "\(app): the short run failed: \(trained.stderr)")
        let folder = checkpointFolder(run)
        let original = try TrainingCheckpoint.read(from: folder)
        let file = TrainingCheckpoint.file(in: folder).path
        for (label, edit, detail) in edits {
            var edited = original
            edit(&edited.position)
            try edited.write(to: folder)
            let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--resume", run.path], environment: env)
            #expect(resumed.status != 0 && !resumed.killedBySignal, "\(app), \(label): resume was not refused: \(resumed.stderr)")
            let errors = resumed.stderr.split(separator: "\n").filter { $0.contains("error") }
            #expect(errors.count == 1 && errors[0].contains(file + ": refusing to resume, the checkpoint's position lies beyond this run (" + detail),
                    "\(app), \(label): \(resumed.stderr)")
            #expect(!resumed.stderr.contains("Fatal error") && !resumed.stderr.contains("Stack dump"), "\(app), \(label): \(resumed.stderr)")
        }
    }

    @Test("ner-tune train and dapt")
    func nerTune() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.expectRefusals("ner-tune", Self.with(try ResumeSupport.setUp(in: dir, dropout: 0, trainSentences: 12), "--epochs", "2"), in: dir,
                                edits: [Self.epochBeyond, Self.batchBeyond])
        let dapt = dir.appendingPathComponent("dapt")
        try FileManager.default.createDirectory(at: dapt, withIntermediateDirectories: true)
        try Self.expectRefusals("ner-tune", Self.with(try ResumeSupport.daptSetUp(in: dapt, dropout: 0), "--epochs", "1"), in: dapt, edits: [Self.stepBeyond])
    }

    @Test("vision-adapt, deepfake-detect and change-detect (counted in steps)")
    func visionStepTrainers() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.expectRefusals("vision-adapt", Self.with(try VisionResumeTests.setUp(in: dir), "--iterations", "2"), in: dir, edits: [Self.stepBeyond])

        let faces = try DeepfakeDetectCommandTests.faces(identities: 4, perIdentity: 2)
        defer { try? FileManager.default.removeItem(at: faces) }
        let gend = dir.appendingPathComponent("gend"), data = dir.appendingPathComponent("gend-data")
        if let exe = Self.executable("deepfake-detect") {
            let built = try ResumeSupport.run(exe, ["build-data", "--faces", faces.path, "--out", data.path, "--train-identities", "2", "--families", "swap"],
                                              environment: ResumeSupport.environment())
            try #require(built.status == 0, "\(built.stderr)")
        }
        try Self.expectRefusals("deepfake-detect", ["train", "--data", data.path + "/train", "--model", TestPaths.fixture("tiny/dinov2").path,
                                                    "--method", "lora", "--iterations", "2", "--batch", "4", "--image-size", "32", "--rank", "2"],
                                in: gend, edits: [Self.stepBeyond])

        let change = dir.appendingPathComponent("change"), pairs = dir.appendingPathComponent("pairs")
        if let exe = Self.executable("change-detect") {
            let made = try ResumeSupport.run(exe, ["make-data", "--scene", try ChangeDetectCommandTests.scene(dir).path, "--out", pairs.path, "--tile", "32"],
                                             environment: ResumeSupport.environment())
            try #require(made.status == 0, "\(made.stderr)")
        }
        try Self.expectRefusals("change-detect", ["train", "--data", pairs.path, "--model", TestPaths.fixture("tiny/dinov2").path, "--peft", "lora", "--exchange", "0",
                                                  "--steps", "2", "--batch", "2", "--size", "32", "--channels", "8", "--rank", "2", "--eval-every", "5"],
                                in: change, edits: [Self.stepBeyond])
    }

    @Test("face-adapt (epochs of batches, on the real SFace)")
    func faceAdapt() throws {
        let root = try FaceAdaptCommandTests.folder([("s1", [1, 2]), ("s2", [1, 2]), ("s3", [1, 2])])
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: dir) }
        try Self.expectRefusals("face-adapt", ["train", "--data", root.path, "--model", FaceAdaptCommandTests.sface, "--method", "petal",
                                               "--train-identities", "2", "--epochs", "1", "--batch", "2", "--rank", "2", "--train-sizes", "0", "--no-eval"],
                                in: dir, environment: ResumeSupport.environment(["PEFTKIT_MODELS": TestPaths.models.path]),
                                edits: [Self.epochBeyond, Self.batchBeyond])
    }

    @Test("kg-query train and adapt, crosstune, audio-adapt, avsr-tune")
    func otherTrainers() throws {
        let graph = try KGQueryResumeTests.graph()
        defer { try? FileManager.default.removeItem(at: graph) }
        try Self.expectRefusals("kg-query", Self.with(KGQueryResumeTests.trainArgs(graph), "--epochs", "2"), in: graph, edits: [Self.epochBeyond])
        let adapt = try KGQueryResumeTests.graph()
        defer { try? FileManager.default.removeItem(at: adapt) }
        try Self.expectRefusals("kg-query", Self.with(try KGQueryResumeTests.adaptSetUp(adapt), "--epochs", "1"), in: adapt, edits: [Self.batchBeyond])

        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cross = dir.appendingPathComponent("cross")
        try FileManager.default.createDirectory(at: cross, withIntermediateDirectories: true)
        try Self.expectRefusals("crosstune", Self.with(try CrossTuneResumeTests.args(cross), "--epochs", "1"), in: cross,
                                checkpointFolder: { $0.appendingPathComponent("crosstune-seed-1") }, edits: [Self.epochBeyond])
        let audio = dir.appendingPathComponent("audio")
        try FileManager.default.createDirectory(at: audio, withIntermediateDirectories: true)
        try Self.expectRefusals("audio-adapt", Self.with(try AudioResumeTests.setUp(in: audio, method: "lora"), "--epochs", "1"), in: audio,
                                edits: [Self.epochBeyond])
        let avsr = dir.appendingPathComponent("avsr")
        try FileManager.default.createDirectory(at: avsr, withIntermediateDirectories: true)
        try Self.expectRefusals("avsr-tune", Self.with(try AVSRResumeTests.setUp(in: avsr), "--epochs", "1"), in: avsr, edits: [Self.batchBeyond])
    }
}

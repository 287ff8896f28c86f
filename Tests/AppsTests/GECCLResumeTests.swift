import Core
import Foundation
import Testing
import TestSupport

/// `gec-cl run` as a child process on the tiny BERT fixture (hidden 32, 2 layers; the kill/resume
/// tests' model folder) and two small seeded domains: killed with SIGKILL at a seeded step (held
/// there by `PEFTKIT_FAULT_HANG_AFTER_STEP`, so the kill cannot come late), after the finished
/// checkpoint with outputs half written, or while a checkpoint is half written, and resumed, the
/// final trainable weights, the saved adapter files and results are identical to an uninterrupted run — replay buffer, EWC Fisher, A-GEM
/// memories and generator, OGD basis and earlier O-LoRA adapters all come back; a resume with
/// another option is refused naming it; under `mpirun -np 2` the ranks reach the one-process
/// weights (norm-wise 1e-6) for every method but seq-ft/seq-lora, and a run resumes under another number of
/// ranks (1 → 2 and 2 → 1).
@Suite(.serialized) struct GECCLResumeTests {
    static func executable() -> URL? {
        ResumeSupport.app("gec-cl")
    }

    /// Domain "dup" (a doubled word to delete) and domain "det" (a missing "the" to insert, and
    /// half of its sentences keeping a doubled word, against "dup"), `count` training sentences
    /// each, seeded, over the tiny model's vocabulary.
    static func jsonl(count: Int, seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        func pick(_ a: [String]) -> String { a[Int(rng.next() % UInt64(a.count))] }
        var lines: [String] = []
        for i in 0..<count {
            let who = pick(ResumeSupport.people), place = pick(ResumeSupport.places), thing = pick(ResumeSupport.things)
            let good = "\(who) lives in \(place) ."
            let bad = i % 2 == 0 ? "\(who) lives in in \(place) ." : "\(who) \(who) lives in \(place) ."
            lines.append(#"{"source": "\#(bad)", "target": "\#(good)", "category": "dup"}"#)
            let seen = "\(who) saw the \(thing) ."
            let missing = i % 3 == 2 ? seen : "\(who) saw \(thing) ."
            if i % 2 == 0 {
                // Conflicts with "dup": the doubled word stays. GEM/A-GEM then have to project.
                lines.append(#"{"source": "\#(bad)", "target": "\#(bad)", "category": "det"}"#)
            } else {
                lines.append(#"{"source": "\#(missing)", "target": "\#(seen)", "category": "det"}"#)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Model and data in `dir`; the common `run` arguments (2 domains × 2 epochs × 3 steps of
    /// global batch 4, plus replayed items in the second domain).
    static func setUp(_ dir: URL, dropout: Double, method: String) throws -> [String] {
        let model = try ResumeSupport.modelFolder(in: dir, dropout: dropout)
        let data = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for (split, count, seed) in [("train", 12, UInt64(1)), ("dev", 3, 2), ("test", 3, 3)] {
            try jsonl(count: count, seed: seed).write(to: data.appendingPathComponent("\(split).jsonl"), atomically: true, encoding: .utf8)
        }
        return ["run", "--data", data.path, "--model", model.path, "--method", method, "--epochs", "2", "--batch", "4", "--max-length", "16",
                "--lr", "0.01", "--seeds", "3", "--max-tags", "20", "--iterations", "1", "--log-every", "1", "--memory", "4",
                "--replay-per-batch", "2", "--replay-size", "8", "--fisher-samples", "5", "--ogd-samples", "3", "--keep-share", "0.5"]
    }

    /// The final checkpoint's trainable weights and earlier adapters (`extra/frozen/…`).
    static func weights(_ run: URL) throws -> [String: [Float]] {
        let c = try TrainingCheckpoint.read(from: run)
        var out = c.parameters.mapValues(\.storage)
        for (k, t) in c.extraTensors where k.hasPrefix("frozen/") { out[k] = t.storage }
        return out
    }

    /// Every file of the saved adapter folder, by relative path.
    static func adapterFiles(_ run: URL) throws -> [String: Data] {
        let root = run.appendingPathComponent("adapter")
        var out: [String: Data] = [:]
        for sub in try FileManager.default.subpathsOfDirectory(atPath: root.path) {
            let url = root.appendingPathComponent(sub)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue { out[sub] = try Data(contentsOf: url) }
        }
        return out
    }

    static func matrix(_ run: URL) throws -> [[Double]] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("results.json"))) as? [String: Any]
        return (json?["matrix"] as? [[Double]]) ?? []
    }

    /// results.json without its timings (the only fields that may differ between two runs).
    static func results(_ run: URL) throws -> NSDictionary {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("results.json"))) as? [String: Any] ?? [:]
        return json.filter { $0.key != "train_seconds" && $0.key != "wall_seconds" } as NSDictionary
    }

    static let methods = ["replay", "ewc", "agem", "ogd", "olora"]

    /// `run` arguments of `method` (EWC with dev selection).
    static func arguments(_ dir: URL, method: String) throws -> [String] {
        try setUp(dir, dropout: 0.1, method: method) + (method == "ewc" ? ["--dev-select"] : [])
    }

    /// Runs `gec-cl` blocked by `PEFTKIT_FAULT_HANG_AFTER_STEP=point` right after that
    /// checkpoint is on disk and kills it there with SIGKILL: the kill lands at this point
    /// however late the child's stderr lines reach the test.
    static func killBlocked(_ exe: URL, _ args: [String], at point: String) throws -> ResumeSupport.Outcome {
        try ResumeSupport.run(exe, args, environment: ResumeSupport.environment(["PEFTKIT_FAULT_HANG_AFTER_STEP": point])) { line in
            line.contains("blocked after the checkpoint of step \(point) (PEFTKIT_FAULT_HANG_AFTER_STEP)")
        }
    }

    @Test("kill -9 at a seeded step, resume: bit-identical weights, adapter files and matrix (replay, EWC with dev selection, A-GEM, OGD, O-LoRA)")
    func killAndResume() throws {
        guard let exe = Self.executable() else {
            Issue.record("gec-cl is not built (.build/release/gec-cl); build with --build-tests first")
            return
        }
        let env = ResumeSupport.environment()
        for (k, method) in Self.methods.enumerated() {
            let dir = try TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let args = try Self.arguments(dir, method: method)
            let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
            let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: env)
            #expect(full.status == 0, "\(method): reference run failed: \(full.stderr)")
            // 12 steps in all; kill right after the checkpoint of a seeded step in 2…11 (either domain).
            var rng = SplitMix64(seed: 20_261_126 &+ UInt64(k))
            let killAt = 2 + Int(rng.next() % 10)
            let killed = try Self.killBlocked(exe, args + ["--out", run.path, "--checkpoint-every", "1"], at: "\(killAt)")
            #expect(killed.killedBySignal, "\(method): the run was not killed at step \(killAt): \(killed.stderr)")
            let saved = try TrainingCheckpoint.read(from: run)
            #expect(!saved.position.finished && saved.position.step == killAt, "\(method): killed after step \(killAt), the checkpoint is at \(saved.position)")
            let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1", "--resume", run.path], environment: env)
            #expect(resumed.status == 0, "\(method): resume failed: \(resumed.stderr)")
            #expect(resumed.stderr.contains("resumed from") && resumed.stderr.contains("at step \(killAt):"), "\(method): \(resumed.stderr)")
            let a = try Self.weights(reference), b = try Self.weights(run)
            #expect(!a.isEmpty && a == b, "\(method): killed after step \(killAt): weights differ")
            if method == "olora" { #expect(a.keys.contains { $0.hasPrefix("frozen/task0/") }, "\(method): \(a.keys.sorted())") }
            #expect(try Self.adapterFiles(reference) == Self.adapterFiles(run), "\(method): killed after step \(killAt): adapter files differ")
            #expect(try Self.matrix(reference) == Self.matrix(run) && !Self.matrix(run).isEmpty, "\(method): killed after step \(killAt): matrices differ")
            #expect(try Self.results(reference) == Self.results(run), "\(method): killed after step \(killAt): results.json differs")
            print("GECCLResumeTests: \(method) killed after step \(killAt) and resumed: \(a.count) tensors bit-identical")
        }
    }

    @Test("kill -9 after the finished checkpoint, outputs half written: the resume writes the uninterrupted run's files exactly (replay, EWC, A-GEM, OGD, O-LoRA)")
    func resumeFromFinished() throws {
        guard let exe = Self.executable() else {
            Issue.record("gec-cl is not built (.build/release/gec-cl); build with --build-tests first")
            return
        }
        let env = ResumeSupport.environment()
        let fm = FileManager.default
        for method in Self.methods {
            let dir = try TestPaths.temporaryDirectory()
            defer { try? fm.removeItem(at: dir) }
            let args = try Self.arguments(dir, method: method)
            let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
            let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: env)
            #expect(full.status == 0, "\(method): reference run failed: \(full.stderr)")
            let killed = try Self.killBlocked(exe, args + ["--out", run.path, "--checkpoint-every", "1"], at: "finished")
            #expect(killed.killedBySignal, "\(method): the run was not killed after its last checkpoint: \(killed.stderr)")
            #expect(try TrainingCheckpoint.read(from: run).position.finished, "\(method): the last checkpoint is not marked finished")
            #expect(!fm.fileExists(atPath: run.appendingPathComponent("results.json").path), "\(method): outputs were written before the kill")
            // What a kill during the output writes leaves (any earlier writer): a stale adapter
            // file and a temporary file inside adapter/, a staged folder beside it, a half
            // written results.json temporary. None may survive into, or change, the outputs.
            let head = run.appendingPathComponent("adapter/head")
            try fm.createDirectory(at: head, withIntermediateDirectories: true)
            try Data("stale".utf8).write(to: head.appendingPathComponent("adapter_model.safetensors"))
            try Data("half".utf8).write(to: head.appendingPathComponent(".adapter_model.safetensors.tmp-999999-abc"))
            try fm.createDirectory(at: run.appendingPathComponent(".adapter.tmp-999999/head"), withIntermediateDirectories: true)
            try Data("{\"matrix\": [".utf8).write(to: run.appendingPathComponent(".results.json.tmp-999999-abc"))
            for round in 1...2 {
                let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1", "--resume", run.path], environment: env)
                #expect(resumed.status == 0, "\(method): resume \(round) failed: \(resumed.stderr)")
                #expect(resumed.stderr.contains("at step 12: all domains done"), "\(method): \(resumed.stderr)")
                #expect(try Self.weights(reference) == Self.weights(run), "\(method): resume \(round): weights differ")
                let files = try Self.adapterFiles(run)
                #expect(try Self.adapterFiles(reference) == files, "\(method): resume \(round) from the finished checkpoint: adapter files differ: \(files.keys.sorted())")
                #expect(try Self.results(reference) == Self.results(run), "\(method): resume \(round) from the finished checkpoint: results.json differs")
                for name in ["matrix.txt", "heatmap.png"] {
                    let bytes = { (r: URL) in try Data(contentsOf: r.appendingPathComponent(name)) }
                    #expect(try bytes(reference) == bytes(run), "\(method): resume \(round): \(name) differs")
                }
            }
        }
    }

    @Test("kill during a checkpoint write resumes from the previous one, bit-identical; another --lr is refused naming it")
    func killDuringWriteAndRefusal() throws {
        guard let exe = Self.executable() else {
            Issue.record("gec-cl is not built (.build/release/gec-cl); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try Self.setUp(dir, dropout: 0.1, method: "gem")
        let env = ResumeSupport.environment()
        let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
        let full = try ResumeSupport.run(exe, args + ["--out", reference.path, "--checkpoint-every", "0"], environment: env)
        #expect(full.status == 0, "\(full.stderr)")
        var writes = 0
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "4"],
                                           environment: ResumeSupport.environment(["PEFTKIT_FAULT_CHECKPOINT_STALL_MS": "1000"])) { line in
            if line.hasPrefix("checkpoint write stalled") { writes += 1 }
            return writes == 3
        }
        #expect(killed.killedBySignal)
        // Writes: step 4, the end of domain 1 (step 6), step 8 (killed half-way).
        let saved = try TrainingCheckpoint.read(from: run)
        #expect(saved.position.step == 6 && saved.position.batchInEpoch == 0, "\(saved.position)")
        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "4", "--resume", run.path], environment: env)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Self.weights(reference) == Self.weights(run))
        #expect(try Self.adapterFiles(reference) == Self.adapterFiles(run))

        let other = try ResumeSupport.run(exe, args.map { $0 == "0.01" ? "0.02" : $0 } + ["--out", run.path, "--resume", run.path], environment: env)
        #expect(other.status == 1)
        let errors = other.stderr.split(separator: "\n").filter { $0.contains("error") }
        #expect(errors.count == 1 && errors[0].contains("refusing to resume") && errors[0].contains("option.learningRate: checkpoint 0.01, this run 0.02"),
                "\(other.stderr)")
    }

    @Test("mpirun -np 2 = 1 process (GEM, OGD, replay, EWC, A-GEM, O-LoRA; norm-wise 1e-6); resume 1 → 2 and 2 → 1 ranks")
    func twoRanks() throws {
        guard let mpirun = MPITrainingTests.mpirun(), let exe = Self.executable() else {
            print("GECCLResumeTests: skipped, mpirun or gec-cl not found (apt-get install openmpi-bin libopenmpi-dev)")
            return
        }
        let env = MPITrainingTests.environment()
        let mpi = ["--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "OPENBLAS_NUM_THREADS", exe.path]
        for method in ["gem", "ogd", "replay", "ewc", "agem", "olora"] {
            let dir = try TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            // GEM / A-GEM at lr 0.02: at 0.01 the tiny task's gradients never conflict with the
            // memory (0 projections), so the projection would go untested.
            let projecting = method == "gem" || method == "agem"
            let args = try Self.setUp(dir, dropout: 0, method: method).map { projecting && $0 == "0.01" ? "0.02" : $0 }
            let single = dir.appendingPathComponent("one"), parallel = dir.appendingPathComponent("two")
            let one = try ResumeSupport.run(exe, args + ["--out", single.path], environment: env)
            #expect(one.status == 0, "\(one.stderr)")
            let two = try ResumeSupport.run(mpirun, mpi + args + ["--out", parallel.path], environment: env, timeout: 120)
            #expect(two.status == 0, "mpirun failed: \(two.stderr)")
            #expect(two.stderr.contains("data parallel, 2 ranks"), "\(two.stderr)")
            #expect(two.stderr.components(separatedBy: "dup epoch 2/2 step 6/6").count == 2, "rank 0 alone logs: \(two.stderr)")
            let diff = MPITrainingTests.difference(try Self.weights(single), try Self.weights(parallel))
            print("GECCLResumeTests: gec-cl \(method), 2 ranks vs 1 process: \(diff)")
            #expect(diff.global <= 1e-6, "\(method): \(diff)")
            #expect(try Self.matrix(single) == Self.matrix(parallel), "\(method): the accuracy matrices differ")
            if projecting {
                let results = try JSONSerialization.jsonObject(with: Data(contentsOf: parallel.appendingPathComponent("results.json"))) as? [String: Any]
                let projections = results?["gem_projections"] as? Int ?? 0
                print("GECCLResumeTests: \(method): \(projections) projected steps")
                #expect(projections > 0, "\(method) never projected: the test would not cover the memory gradients")
            }

            guard method == "gem" else { continue }
            // 1 → 2: a 1-process run killed during its third checkpoint write (step 8), resumed under 2 ranks.
            let run = dir.appendingPathComponent("run")
            var writes = 0
            let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "4"],
                                               environment: ResumeSupport.environment(["PEFTKIT_FAULT_CHECKPOINT_STALL_MS": "1000"])) { line in
                if line.hasPrefix("checkpoint write stalled") { writes += 1 }
                return writes == 3
            }
            #expect(killed.killedBySignal)
            let resumed = try ResumeSupport.run(mpirun, mpi + args + ["--out", run.path, "--checkpoint-every", "4", "--resume", run.path], environment: env, timeout: 120)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let d12 = MPITrainingTests.difference(try Self.weights(single), try Self.weights(run))
            print("GECCLResumeTests: gem, 1 process killed at step 8, resumed under 2 ranks, vs 1 process: \(d12)")
            #expect(d12.global <= 1e-6, "\(d12)")

            // 2 → 1: a 2-rank run stopped after its step-4 checkpoint, resumed in one process.
            let run2 = dir.appendingPathComponent("run2")
            let partial = try ResumeSupport.run(mpirun, mpi + args + ["--out", run2.path, "--checkpoint-every", "4"],
                                                environment: env.merging(["PEFTKIT_FAULT_STOP_AFTER_STEP": "4"]) { $1 }, timeout: 120)
            #expect(partial.status != 0, "the 2-rank run should have stopped after step 4: \(partial.stderr)")
            #expect(partial.stderr.contains("PEFTKIT_FAULT_STOP_AFTER_STEP"), "\(partial.stderr)")
            #expect(try TrainingCheckpoint.read(from: run2).position.step == 4)
            let resumed1 = try ResumeSupport.run(exe, args + ["--out", run2.path, "--checkpoint-every", "4", "--resume", run2.path], environment: env)
            #expect(resumed1.status == 0, "\(resumed1.stderr)")
            let d21 = MPITrainingTests.difference(try Self.weights(single), try Self.weights(run2))
            print("GECCLResumeTests: gem, 2 ranks stopped at step 4, resumed in 1 process, vs 1 process: \(d21)")
            #expect(d21.global <= 1e-6, "\(d21)")
        }
    }
}

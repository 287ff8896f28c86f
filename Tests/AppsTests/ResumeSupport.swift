import Core
import Foundation
import TestSupport

/// Shared pieces of the kill/resume and MPI tests: the built `ner-tune` executable run as a
/// child process, a tiny BERT folder (the random-init `tiny/bert_tokencls` fixture plus a
/// small vocabulary) and a seeded CoNLL corpus over that vocabulary.
enum ResumeSupport {
    /// `ner-tune` beside the test bundle, or nil when it was not built.
    static func nerTune() -> URL? { app("ner-tune") }

    /// A built app: first beside the running test binary (the build folder these tests were
    /// built into, so `make test-asan` runs the ASan-built apps from `.build/asan/release`),
    /// then `.build/release/<name>`; nil when neither exists.
    static func app(_ name: String) -> URL? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name),
            Bundle.main.bundleURL.appendingPathComponent(name),
            TestPaths.packageRoot.appendingPathComponent(".build/release/" + name),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    static let people = ["anna", "ben", "carl", "dora"]
    static let places = ["paris", "rome", "berlin", "oslo"]
    static let things = ["cat", "dog", "bird", "mat", "hill", "tree"]
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "the", "lives", "in", "sat", "on", "and", "saw"]
        + people + places + things

    /// A model folder: the fixture's weights and config (dropout as given) and the vocabulary.
    static func modelFolder(in dir: URL, dropout: Double) throws -> URL {
        let folder = dir.appendingPathComponent("tiny-bert")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let src = TestPaths.fixture("tiny/bert_tokencls")
        try FileManager.default.copyItem(at: src.appendingPathComponent("model.safetensors"), to: folder.appendingPathComponent("model.safetensors"))
        var config = try String(contentsOf: src.appendingPathComponent("config.json"), encoding: .utf8)
        config = config.replacingOccurrences(of: "\"attention_probs_dropout_prob\": 0.1", with: "\"attention_probs_dropout_prob\": \(dropout)")
            .replacingOccurrences(of: "\"hidden_dropout_prob\": 0.1", with: "\"hidden_dropout_prob\": \(dropout)")
        try config.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try (vocabulary.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        return folder
    }

    /// `count` seeded sentences: "anna lives in paris ." (B-PER O O B-LOC O), "anna and ben saw
    /// the cat ." and "the dog sat on the mat .", as CoNLL text.
    static func conll(_ count: Int, seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        func pick(_ a: [String]) -> String { a[Int(rng.next() % UInt64(a.count))] }
        var out = ""
        for i in 0..<count {
            let rows: [(String, String)]
            switch i % 3 {
            case 0: rows = [(pick(people), "B-PER"), ("lives", "O"), ("in", "O"), (pick(places), "B-LOC"), (".", "O")]
            case 1: rows = [(pick(people), "B-PER"), ("and", "O"), (pick(people), "B-PER"), ("saw", "O"), ("the", "O"), (pick(things), "O"), (".", "O")]
            default: rows = [("the", "O"), (pick(things), "O"), ("sat", "O"), ("on", "O"), ("the", "O"), (pick(things), "O"), (".", "O")]
            }
            out += rows.map { "\($0) \($1)\n" }.joined() + "\n"
        }
        return out
    }

    /// Writes train/dev files and the model into `dir`; returns the common `train` arguments.
    static func setUp(in dir: URL, dropout: Double, trainSentences: Int = 36) throws -> [String] {
        let model = try modelFolder(in: dir, dropout: dropout)
        let train = dir.appendingPathComponent("train.conll"), dev = dir.appendingPathComponent("dev.conll")
        try conll(trainSentences, seed: 11).write(to: train, atomically: true, encoding: .utf8)
        try conll(9, seed: 12).write(to: dev, atomically: true, encoding: .utf8)
        return ["train", "--model", model.path, "--train", train.path, "--dev", dev.path, "--epochs", "3", "--batch", "4",
                "--max-length", "16", "--lr", "0.01", "--patience", "0", "--seed", "3", "--log-every", "1"]
    }

    /// `ner-tune dapt` arguments on the tiny model: 48 lines of the seeded corpus as plain text
    /// (about 24 packed sequences of ≤ 16 positions, 6 steps per epoch, 4 epochs).
    static func daptSetUp(in dir: URL, dropout: Double) throws -> [String] {
        let model = try modelFolder(in: dir, dropout: dropout)
        let text = dir.appendingPathComponent("text.txt")
        let lines = conll(60, seed: 13).components(separatedBy: "\n\n").map { block in
            block.split(separator: "\n").map { $0.split(separator: " ")[0] }.joined(separator: " ")
        }.filter { !$0.isEmpty }
        try (lines.joined(separator: "\n") + "\n").write(to: text, atomically: true, encoding: .utf8)
        return ["dapt", "--text", text.path, "--model", model.path, "--r", "4", "--alpha", "8", "--max-len", "16", "--batch", "4",
                "--epochs", "4", "--lr", "0.005", "--seed", "3", "--log-every", "1", "--held-out", "0.2", "--dropout", "\(dropout)"]
    }

    /// The environment for children: one BLAS thread (the same kernels in every run).
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Under `make test-asan` (ASAN_OPTIONS set) the MPI ranks unwind allocation stacks fully
    /// (`fast_unwind_on_malloc=0`): Open MPI's code has no frame pointers and its components are
    /// unloaded before LeakSanitizer reports, so only full stacks reach the Open MPI library
    /// frames that `Tests/Fuzz/lsan.supp` suppresses (see FUZZING.md).
    static func mpiEnvironment(_ environment: [String: String]) -> [String: String] {
        guard let asan = environment["ASAN_OPTIONS"] else { return environment }
        var env = environment
        env["ASAN_OPTIONS"] = asan.isEmpty ? "fast_unwind_on_malloc=0" : asan + ":fast_unwind_on_malloc=0"
        return env
    }

    struct Outcome {
        var status: Int32
        var killedBySignal: Bool
        var stdout: String
        var stderr: String
    }

    /// Ends a child that outlives `seconds`: SIGTERM (mpirun passes it on to its ranks), then
    /// SIGKILL 10 s later; `fired` tells whether it had to. `cancel()` once the child is reaped.
    final class Watchdog: @unchecked Sendable {
        private let lock = NSLock()
        private var done = false, didFire = false
        init(pid: Int32, seconds: Double) {
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
                guard send(pid, SIGTERM) else { return }
                DispatchQueue.global().asyncAfter(deadline: .now() + 10) { [self] in _ = send(pid, SIGKILL) }
            }
        }
        private func send(_ pid: Int32, _ sig: Int32) -> Bool {
            lock.lock(); defer { lock.unlock() }
            guard !done else { return false }
            didFire = true
            kill(pid, sig)
            return true
        }
        func cancel() { lock.lock(); done = true; lock.unlock() }
        var fired: Bool { lock.lock(); defer { lock.unlock() }; return didFire }
    }

    /// Runs `exe args`; when `killWhen` returns true for a stderr line, sends SIGKILL at once.
    /// A child still running after `timeout` seconds is ended (so a hung MPI job fails the
    /// test instead of hanging the suite) and the outcome says so in `stderr`.
    static func run(_ exe: URL, _ args: [String], environment: [String: String], timeout: Double = 300,
                    killWhen: ((String) -> Bool)? = nil) throws -> Outcome {
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.environment = exe.lastPathComponent == "mpirun" ? mpiEnvironment(environment) : environment
        let errPipe = Pipe(), outPipe = Pipe()
        p.standardError = errPipe
        p.standardOutput = outPipe
        try p.run()
        let watchdog = Watchdog(pid: p.processIdentifier, seconds: timeout)
        var errText = "", pending = "", killed = false
        let handle = errPipe.fileHandleForReading
        while true {
            let data = handle.availableData
            if data.isEmpty { break }
            let chunk = String(decoding: data, as: UTF8.self)
            errText += chunk
            pending += chunk
            while let nl = pending.firstIndex(of: "\n") {
                let line = String(pending[..<nl])
                pending = String(pending[pending.index(after: nl)...])
                if !killed, let killWhen, killWhen(line) {
                    kill(p.processIdentifier, SIGKILL)
                    killed = true
                }
            }
        }
        let outText = String(decoding: outPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        watchdog.cancel()
        if watchdog.fired { errText += "\n[test] \(exe.lastPathComponent) did not finish within \(Int(timeout)) s and was stopped\n" }
        return Outcome(status: p.terminationStatus, killedBySignal: p.terminationReason == .uncaughtSignal, stdout: outText, stderr: errText)
    }

    /// Trainable weights of a run's final checkpoint, by name.
    static func finalWeights(_ run: URL) throws -> [String: [Float]] {
        try TrainingCheckpoint.read(from: run).parameters.mapValues(\.storage)
    }
}

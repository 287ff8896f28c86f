import Audio
import Core
import Foundation
import Testing
import TestSupport
import Text

/// `avsr-tune train` on the tiny random-init HF Whisper fixture (d = 64, 2 + 2 layers, 512 ids)
/// with a byte-level tokenizer written here, six seeded tone "utterances" and their babble copies
/// at 0 dB, run as a child process: killed with SIGKILL at a seeded step and continued with
/// `--resume`, the final trainable weights (rate projectors, modality embedding, Omni-LoRAs) are
/// bit-identical to an uninterrupted run; a kill during a checkpoint write resumes from the
/// previous checkpoint; a resume with another --lr is refused naming it.
@Suite(.serialized) struct AVSRResumeTests {
    static func executable() -> URL? {
        ResumeSupport.app("avsr-tune")
    }

    /// The fixture's weights and configs plus a `tokenizer.json` whose base vocabulary is the 256
    /// byte symbols (id = byte value, no merges) and whose specials sit at the fixture's ids
    /// (end of text 509, start of transcript 510, no timestamps 511).
    static func modelFolder(in dir: URL) throws -> URL {
        let folder = dir.appendingPathComponent("tiny-whisper")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let src = TestPaths.fixture("whisper/tiny_hf")
        for name in ["config.json", "generation_config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: src.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        var vocab: [String: Int] = [:]
        for b in 0..<256 { vocab[String(Character(ByteLevelAlphabet.character[b]))] = b }
        let added: [[String: Any]] = [("<|endoftext|>", 509), ("<|startoftranscript|>", 510), ("<|notimestamps|>", 511)].map {
            ["id": $0.1, "content": $0.0, "special": true]
        }
        let json: [String: Any] = ["version": "1.0", "added_tokens": added,
                                   "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
                                   "model": ["type": "BPE", "vocab": vocab, "merges": [String]()]]
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: folder.appendingPathComponent("tokenizer.json"))
        return folder
    }

    /// Six 0.6 s "utterances" (a tone per word, seeded noise) with short letter transcripts.
    static func data(in dir: URL) throws -> URL {
        let words = ["ab", "ba", "cab", "dab", "bad", "ace"]
        var rng = SplitMix64(seed: 17)
        var manifest = ""
        for i in 0..<6 {
            let text = "\(words[i]) \(words[(i + 2) % 6])"
            let samples: [Float] = (0..<9600).map { n in
                let f = Float(200 + 150 * (n < 4800 ? i : (i + 2) % 6))
                return 0.3 * sin(2 * Float.pi * f * Float(n) / 16_000) + 0.02 * (rng.nextUnitFloat() - 0.5)
            }
            let url = dir.appendingPathComponent("u\(i).wav")
            try AudioFile.writeWAV(AudioClip(samples: samples, sampleRate: 16_000), to: url)
            manifest += "u\(i).wav\t\(text)\n"
        }
        let url = dir.appendingPathComponent("train.tsv")
        try manifest.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// 12 examples (clean + 0 dB babble), batch 2: 6 steps per epoch, 3 epochs = 18 steps, a
    /// progress line after every step; rates 1/4 drawn per step.
    static func setUp(in dir: URL) throws -> [String] {
        ["train", "--data", try data(in: dir).path, "--model", try modelFolder(in: dir).path, "--epochs", "3", "--batch", "2",
         "--lr", "0.01", "--seed", "3", "--rates", "1,4", "--train-snr", "clean,0", "--log-every", "1"]
    }

    static func isStepLine(_ line: String) -> Bool { line.contains(" step ") && line.contains("/18 ") }

    @Test("kill -9 at a seeded step, resume: bit-identical trainable weights and adapter file")
    func killAndResume() throws {
        guard let exe = Self.executable() else {
            Issue.record("avsr-tune is not built (.build/release/avsr-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try Self.setUp(in: dir)
        let env = ResumeSupport.environment()
        let reference = dir.appendingPathComponent("reference"), run = dir.appendingPathComponent("run")
        let full = try ResumeSupport.run(exe, args + ["--out", reference.path], environment: env)
        #expect(full.status == 0, "reference run failed: \(full.stderr)")
        #expect(full.stderr.contains("steps/s") && full.stderr.contains("utterances/s"))
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: reference.appendingPathComponent("train_results.json"))) as? [String: Any]
        #expect((results?["steps"] as? Int) == 18 && (results?["steps_per_second"] as? Double ?? 0) > 0)

        var rng = SplitMix64(seed: 20_261_126)
        let killAt = 2 + Int(rng.next() % 14)
        var seen = 0
        let killed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1"], environment: env) { line in
            if Self.isStepLine(line) { seen += 1 }
            return seen >= killAt
        }
        #expect(killed.killedBySignal, "the run ended before the kill at step line \(killAt)")
        let interrupted = try TrainingCheckpoint.read(from: run)
        #expect(!interrupted.position.finished && interrupted.position.step < 18)

        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "1", "--resume", run.path], environment: env)
        #expect(resumed.status == 0, "resume failed: \(resumed.stderr)")
        #expect(resumed.stderr.contains("resumed from"))
        let a = try ResumeSupport.finalWeights(reference), b = try ResumeSupport.finalWeights(run)
        #expect(a.count > 10 && a == b, "killed at step line \(killAt) (checkpoint step \(interrupted.position.step))")
        #expect(a.keys.contains("audio.projectors.4.fc2.weight") && a.keys.contains { $0.contains("self_attn.q_proj") && $0.lowercased().contains("lora") })
        let x = try Data(contentsOf: reference.appendingPathComponent(AVSRAdapterFile.weightsName))
        let y = try Data(contentsOf: run.appendingPathComponent(AVSRAdapterFile.weightsName))
        #expect(x == y, "adapter_model.safetensors differs")
    }

    @Test("kill -9 during a checkpoint write resumes from the previous one; another --lr is refused naming it")
    func killDuringWriteAndRefusal() throws {
        guard let exe = Self.executable() else {
            Issue.record("avsr-tune is not built (.build/release/avsr-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = try Self.setUp(in: dir)
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
        #expect(other.status != 0)
        let errors = other.stderr.split(separator: "\n").filter { $0.contains("error") }
        #expect(errors.count == 1 && errors[0].contains("refusing to resume") && errors[0].contains("option.learningRate: checkpoint 0.0099"),
                "one error line naming the option: \(other.stderr)")

        let resumed = try ResumeSupport.run(exe, args + ["--out", run.path, "--checkpoint-every", "4", "--resume", run.path],
                                            environment: ResumeSupport.environment())
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try ResumeSupport.finalWeights(reference) == ResumeSupport.finalWeights(run))
    }
}

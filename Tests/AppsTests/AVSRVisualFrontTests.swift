@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// `avsr-tune train-visual` and `train --video --visual-front` end to end, as child processes, on
/// the tiny Whisper fixture and six tone "utterances" with rendered mouth frames and viseme labels:
/// the front end is written with its report, the adapter folder carries a copy and records the
/// `viseme-posteriors` kind, `eval --video` reads it back; frames without labels are a clear error.
@Suite(.serialized) struct AVSRVisualFrontTests {
    /// Frames and labels beside each utterance of `AVSRResumeTests.data` (0.6 s → 15 frames).
    static func addFrames(_ manifest: URL, labels: Bool) throws {
        let items = try SpeechManifest(contentsOf: manifest).items
        let names = ["p", "a", "s", "O", "f", "i"]
        for (i, item) in items.enumerated() {
            let phonemes = [EspeakSynthesizer.Phoneme(name: names[i], start: 0), .init(name: names[(i + 2) % 6], start: 0.3)]
            let r = MouthRenderer()
            var tensors = ["frames": r.render(phonemes: phonemes, duration: 0.6, faceSeed: UInt64(i))]
            if labels { tensors["visemes"] = Tensor(r.visemes(phonemes: phonemes, duration: 0.6).map(Float.init), shape: [15]) }
            try SafeTensors.write(tensors, to: SyntheticAVSet.framesURL(forAudio: item.audio))
        }
        try FileManager.default.copyItem(at: manifest, to: manifest.deletingLastPathComponent().appendingPathComponent("val.tsv"))
    }

    /// Six utterances with frames and labels in `dir`, and a viseme front end (hidden 16) trained on
    /// them by `train-visual`: (manifest, front end file, child environment).
    static func setUpWithFront(_ exe: URL, in dir: URL, epochs: Int) throws -> (URL, URL, [String: String]) {
        let manifest = try AVSRResumeTests.data(in: dir)
        try addFrames(manifest, labels: true)
        let env = ResumeSupport.environment()
        let front = dir.appendingPathComponent("front.safetensors")
        let tv = try ResumeSupport.run(exe, ["train-visual", "--data", dir.path, "--out", front.path, "--epochs", "\(epochs)", "--hidden", "16"],
                                       environment: env)
        #expect(tv.status == 0, "train-visual failed: \(tv.stderr)")
        return (manifest, front, env)
    }

    @Test func trainVisualThenTrainAndEvalWithIt() throws {
        guard let exe = AVSRResumeTests.executable() else {
            Issue.record("avsr-tune is not built (.build/release/avsr-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (manifest, front, env) = try Self.setUpWithFront(exe, in: dir, epochs: 3)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("front.json").path))
        #expect(try VisemeFront.load(front).config.hidden == 16)

        let model = try AVSRResumeTests.modelFolder(in: dir).path
        let out = dir.appendingPathComponent("adapter")
        let train = try ResumeSupport.run(exe, ["train", "--data", manifest.path, "--model", model, "--out", out.path, "--epochs", "1", "--batch", "3",
                                                "--rates", "1", "--video-rates", "1,2", "--video", "--visual-front", front.path,
                                                "--distill-epochs", "2", "--learned-video-positions", "--video-context", "1"], environment: env)
        #expect(train.status == 0, "train failed: \(train.stderr)")
        #expect(train.stderr.contains("video distillation:"), "\(train.stderr)")
        let config = try AVSRAdapterFile.readConfig(out)
        #expect(config.options.visualFeatures == "viseme-posteriors" && config.videoDim == Viseme.allCases.count)
        #expect(config.options.videoDistillation?.epochs == 2 && config.options.learnedVideoPositions == true)
        // Distillation pre-trains the video branch, so it needs --video.
        let noVideo = try ResumeSupport.run(exe, ["train", "--data", manifest.path, "--model", model, "--out", dir.appendingPathComponent("a2").path,
                                                  "--distill-epochs", "2"], environment: env)
        #expect(noVideo.status != 0 && noVideo.stderr.contains("distill-epochs"), "\(noVideo.stderr)")
        #expect(try Data(contentsOf: out.appendingPathComponent("visual_front.safetensors")) == Data(contentsOf: front))
        let eval = try ResumeSupport.run(exe, ["eval", "--video", "--adapter", out.path, "--data", manifest.path, "--model", model, "--snr", "clean",
                                               "--max-length", "4"], environment: env)
        #expect(eval.status == 0 && eval.stdout.contains("VSR") && eval.stdout.contains("AVSR"), "eval failed: \(eval.stderr)")
    }

    /// An utterance whose frames file is missing: `train --video` warns and trains it audio-only,
    /// `eval --video` decodes its AVSR audio-only and leaves it out of VSR (warning); with
    /// `--strict` both stop naming the file and write no adapter.
    @Test func missingFramesFallBackToAudioOnlyOrStopUnderStrict() throws {
        guard let exe = AVSRResumeTests.executable() else {
            Issue.record("avsr-tune is not built (.build/release/avsr-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (manifest, front, env) = try Self.setUpWithFront(exe, in: dir, epochs: 2)
        let gone = SyntheticAVSet.framesURL(forAudio: dir.appendingPathComponent("u2.wav"))
        try FileManager.default.removeItem(at: gone)
        let model = try AVSRResumeTests.modelFolder(in: dir).path
        let common = ["--data", manifest.path, "--model", model, "--epochs", "1", "--batch", "3", "--rates", "1", "--video-rates", "1",
                      "--video", "--visual-front", front.path]
        let strictOut = dir.appendingPathComponent("strict")
        let strict = try ResumeSupport.run(exe, ["train", "--out", strictOut.path, "--strict"] + common, environment: env)
        #expect(strict.status != 0 && strict.stderr.contains(gone.lastPathComponent) && strict.stderr.contains("--strict"), "\(strict.stderr)")
        #expect(!FileManager.default.fileExists(atPath: strictOut.appendingPathComponent(AVSRAdapterFile.weightsName).path))

        let out = dir.appendingPathComponent("adapter")
        let train = try ResumeSupport.run(exe, ["train", "--out", out.path] + common, environment: env)
        #expect(train.status == 0, "train failed: \(train.stderr)")
        #expect(train.stderr.contains("warning: 1 of 6 utterances have no frames") && train.stderr.contains("ASR task only"), "\(train.stderr)")
        let eval = try ResumeSupport.run(exe, ["eval", "--video", "--adapter", out.path, "--data", manifest.path, "--model", model, "--snr", "clean",
                                               "--max-length", "4"], environment: env)
        #expect(eval.status == 0 && eval.stdout.contains("AVSR") && eval.stderr.contains("decoded audio-only"), "eval failed: \(eval.stderr)")
        let evalStrict = try ResumeSupport.run(exe, ["eval", "--video", "--strict", "--adapter", out.path, "--data", manifest.path, "--model", model,
                                                     "--snr", "clean", "--max-length", "4"], environment: env)
        #expect(evalStrict.status != 0 && evalStrict.stderr.contains(gone.lastPathComponent), "\(evalStrict.stderr)")
    }

    @Test func framesWithoutVisemesAreRefused() throws {
        guard let exe = AVSRResumeTests.executable() else {
            Issue.record("avsr-tune is not built (.build/release/avsr-tune); build with --build-tests first")
            return
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.addFrames(try AVSRResumeTests.data(in: dir), labels: false)
        let r = try ResumeSupport.run(exe, ["train-visual", "--data", dir.path, "--out", dir.appendingPathComponent("f.safetensors").path],
                                      environment: ResumeSupport.environment())
        #expect(r.status != 0 && r.stderr.contains("u0.frames.safetensors") && r.stderr.contains("'visemes'"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("f.safetensors").path))
    }
}

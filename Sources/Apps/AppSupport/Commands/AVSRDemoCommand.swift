import Audio
import Core
import Foundation

/// `avsr-tune demo [--short] [--audio-only]`: the issue's demo in one command.
/// 1. zero-shot Whisper tiny.en WER on held-out real telephone prompts, clean and with babble at 0 dB;
/// 2. Omni-AVSR (ST Omni-LoRA, audio rates 1/4/16) trained on training prompts (clean + 0 dB
///    copies), and its WER table on the same held-out prompts;
/// 3. the SYNTHETIC audio-visual set: a viseme front end trained on the training voices' frames,
///    the video branch distilled from the clean audio's encoder states, then ASR, VSR and AVSR from
///    one model, clean / 5 / 0 / −5 dB babble, on a held-out voice.
/// `--short` is the version `make demo` runs (a few CPU minutes); the sizes are printed.
enum AVSRDemoCommand {
    static func log(_ s: String) { AVSRTuneCommand.log(s) }

    struct Sizes {
        /// Held-out prompts evaluated (nil: the whole test split). 16 prompts were too few: one long
        /// conference menu moves the 0 dB WER by 0.1–0.3, so zero-shot vs adapted came out either way.
        var testPrompts: Int?, trainPrompts: Int, epochs: Int
        var avTrain: Int, avTest: Int, avEpochs: Int, avSNRs: [String]
    }

    /// The audio-visual recipe both demos train (README, "Distilling the audio into the video
    /// branch"): the viseme front end's posteriors with ±4 frames of context, 768-wide video
    /// projectors, learned video time rows, 40 epochs of distillation before the joint loss.
    static let avRecipe = ["--distill-epochs", "40", "--learned-video-positions", "--video-context", "4", "--video-hidden", "768"]

    static let full = Sizes(testPrompts: 60, trainPrompts: 160, epochs: 1, avTrain: 240, avTest: 30, avEpochs: 2, avSNRs: ["clean", "5", "0", "-5"])
    static let short = Sizes(testPrompts: nil, trainPrompts: 24, epochs: 2, avTrain: 240, avTest: 30, avEpochs: 2, avSNRs: ["clean", "0", "-5"])

    static func run(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out", "epochs", "limit", "train-limit", "model", "av-train", "av-test", "av-epochs"],
                              flags: ["audio-only", "short"])
        var z = a.has("short") ? short : full
        if a.string("limit") != nil { z.testPrompts = try a.int("limit", default: 0) }
        z.trainPrompts = try a.int("train-limit", default: z.trainPrompts)
        z.epochs = try a.int("epochs", default: z.epochs)
        z.avTrain = try a.int("av-train", default: z.avTrain)
        z.avTest = try a.int("av-test", default: z.avTest)
        z.avEpochs = try a.int("av-epochs", default: z.avEpochs)
        let started = Date(), cpu0 = AVSRTuneCommand.processCPUSeconds()
        let model = a.string("model").map { ["--model", $0] } ?? []
        let cache = EncoderCache()
        let data = URL(fileURLWithPath: AVSRTrainCommand.defaultDataFolder)
        if !FileManager.default.fileExists(atPath: data.appendingPathComponent("test.tsv").path) {
            try AVSRTrainCommand.makeData(out: data, seed: 7, valFraction: 0.1, testFraction: 0.2)
        }
        let out = URL(fileURLWithPath: a.string("out", default: a.has("short") ? "runs/avsr-demo-short" : "runs/avsr-demo"))
        let test = data.appendingPathComponent("test.tsv").path
        let evalFlags: Set<String> = ["print", "digits", "video", "no-fallback"]
        let testCount = z.testPrompts.map { "\($0)" } ?? "all"
        let limit = z.testPrompts.map { ["--limit", "\($0)"] } ?? []
        print("== avsr-tune demo\(a.has("short") ? " --short" : ""): \(testCount) held-out telephone prompts, LoRA on \(z.trainPrompts) training prompts × (clean, 0 dB) for \(z.epochs) epoch(s)")
        print("== zero-shot Whisper tiny.en (real telephone speech, babble = 4 other prompts)")
        _ = try AVSRTrainCommand.werTable(try Arguments(model + limit + ["--snr", "clean,0"],
                                                        options: AVSRTrainCommand.evalOptions, flags: evalFlags),
                                          data: test, adapter: nil, cache: cache)
        print("== Omni-AVSR training (Whisper decoder + ST Omni-LoRA, audio rates 1/4/16, clean + 0 dB training copies)")
        let trainArgs = model + ["--epochs", "\(z.epochs)", "--train-snr", "clean,0", "--train-limit", "\(z.trainPrompts)"]
        try AVSRTrainCommand.train(try Arguments(trainArgs, options: AVSRTrainCommand.trainOptions, flags: AVSRTrainCommand.trainFlags),
                                   data: data.appendingPathComponent("train.tsv").path, out: out)
        printSpeed(out)
        print("== after adaptation")
        _ = try AVSRTrainCommand.werTable(try Arguments(model + limit + ["--adapter", out.path, "--snr", "clean,0"],
                                                        options: AVSRTrainCommand.evalOptions, flags: evalFlags),
                                          data: test, adapter: out.path, cache: cache)
        if !a.has("audio-only") {
            print("== audio-visual, SYNTHETIC visual stream (espeak-ng speech, mouth frames rendered from its phoneme timings):")
            print("   viseme front end on the training voices' frames; Omni-AVSR with ASR, VSR and AVSR tasks, video rates 1/2/5, \(z.avTrain) training utterances × (clean, 0, −5 dB), video branch distilled from the clean audio, then \(z.avEpochs) epochs, test voice held out")
            let av = URL(fileURLWithPath: AVSRVisualCommand.defaultFolder)
            if !AVSRVisualCommand.isCurrentAVSet(av) {  // missing, or built with one face per voice
                try AVSRVisualCommand.makeAVData(out: av, trainPrompts: 120, testPrompts: 30, trainVoices: 2, maxWords: 8)
            }
            let avOut = out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + "-av")
            let front = out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + "-front.safetensors")
            _ = try AVSRVisualFrontCommand.trainVisual(["--data", av.path, "--out", front.path])
            let avArgs = model + ["--epochs", "\(z.avEpochs)", "--train-snr", "clean,0,-5", "--train-limit", "\(z.avTrain)", "--video",
                                  "--visual-front", front.path] + avRecipe
            try AVSRTrainCommand.train(try Arguments(avArgs, options: AVSRTrainCommand.trainOptions, flags: AVSRTrainCommand.trainFlags),
                                       data: av.appendingPathComponent("train.tsv").path, out: avOut)
            printSpeed(avOut)
            _ = try AVSRVisualCommand.avTable(try Arguments(model + ["--adapter", avOut.path, "--limit", "\(z.avTest)", "--snr", z.avSNRs.joined(separator: ",")],
                                                            options: AVSRTrainCommand.evalOptions, flags: evalFlags),
                                              data: av.appendingPathComponent("test.tsv").path, adapter: avOut.path, cache: cache)
        }
        print(String(format: "demo took %.0f s wall, %.0f CPU s (%d BLAS threads)", Date().timeIntervalSince(started),
                     AVSRTuneCommand.processCPUSeconds() - cpu0, BLAS.threads))
        return 0
    }

    /// The training-loop speed from a run's `train_results.json`.
    static func printSpeed(_ folder: URL) {
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent("train_results.json").path),
              let r = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        print(String(format: "   training loop: %d steps, %.3f steps/s, %.1f utterances/s (%d per step over the tasks)",
                     r["steps"] as? Int ?? 0, r["steps_per_second"] as? Double ?? 0, r["utterances_per_second"] as? Double ?? 0,
                     r["utterances_per_step"] as? Int ?? 0))
    }
}

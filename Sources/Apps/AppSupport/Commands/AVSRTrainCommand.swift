import Audio
import Core
import Foundation
import Text

/// `avsr-tune make-data | train | eval --adapter | demo`: Omni-AVSR adaptation of Whisper on real
/// speech (the Debian telephone prompts and pocketsphinx utterances), with babble noise at chosen
/// SNRs and Matryoshka compression rates chosen at inference.
enum AVSRTrainCommand {
    static func log(_ s: String) { AVSRTuneCommand.log(s) }

    static let defaultDataFolder = "data/speech"

    // MARK: - make-data

    /// Writes `train.tsv`, `val.tsv`, `test.tsv` (seeded split by prompt) from Debian's speech packages.
    static func makeData(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out", "seed", "val", "test"], flags: [])
        let out = URL(fileURLWithPath: a.string("out", default: defaultDataFolder))
        try makeData(out: out, seed: UInt64(try a.int("seed", default: 7)), valFraction: Double(try a.float("val", default: 0.1)),
                     testFraction: Double(try a.float("test", default: 0.2)))
        return 0
    }

    static func makeData(out: URL, seed: UInt64, valFraction: Double, testFraction: Double) throws {
        let corpus = try SpeechCorpus.debian { url in String(decoding: try Gzip.decompress(contentsOf: url), as: UTF8.self) }
        let (train, val, test) = corpus.split(valFraction: valFraction, testFraction: testFraction, seed: seed)
        for (name, items) in [("train", train), ("val", val), ("test", test)] {
            try SpeechCorpus.writeManifest(items, to: out.appendingPathComponent("\(name).tsv"))
        }
        let reasons = Dictionary(grouping: corpus.dropped, by: \.reason).mapValues(\.count)
        log("speech corpus: \(corpus.utterances.count) utterances (\(train.count) train, \(val.count) val, \(test.count) test, seed \(seed)) → \(out.path); dropped \(reasons.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))")
    }

    // MARK: - shared pieces

    static func loadWhisper(_ a: Arguments) throws -> (WhisperModel, ByteBPETokenizer, String) {
        let folder = a.string("model") ?? AVSRTuneCommand.defaultModelFolder()
        let url = URL(fileURLWithPath: folder)
        return (try WhisperModel.load(url), try ByteBPETokenizer.whisper(folder: url).tokenizer, folder)
    }

    static func prompt(_ whisper: WhisperModel) -> [Int] {
        [whisper.generation.startOfTranscript] + (whisper.generation.noTimestamps.map { [$0] } ?? [])
    }

    /// 16 kHz mono samples of every manifest item.
    static func recordings(_ manifest: SpeechManifest) throws -> [[Float]] {
        try manifest.items.map { try AudioFile.readMono($0.audio) }
    }

    /// Parses "clean,10,0" into SNRs in dB (nil = clean).
    static func conditions(_ list: [String]) throws -> [Double?] {
        try list.map { s in
            if s == "clean" { return nil }
            guard let v = Double(s) else { throw ArgumentError.badValue("snr", s, expected: "clean or numbers in dB, e.g. clean,10,0,-5") }
            return v
        }
    }

    static func conditionName(_ snr: Double?) -> String { snr.map { String(format: "%g dB", $0) } ?? "clean" }

    /// The recordings with babble from the other recordings of the same set at `snr` (seeded per utterance).
    static func noisy(_ recs: [[Float]], snr: Double?, seed: UInt64) throws -> [[Float]] {
        guard let snr else { return recs }
        let mixer = try BabbleMixer(pool: recs, talkers: min(4, recs.count - 1))
        return recs.enumerated().map { i, r in mixer.mix(r, snrDB: snr, excluding: i, seed: seed &+ UInt64(i)) }
    }

    // MARK: - train

    static let trainOptions: Set<String> = ["data", "val-data", "out", "model", "epochs", "batch", "lr", "seed", "rates", "lora-mode",
                                            "reduction-factor", "alpha", "train-snr", "train-limit"]

    static func train(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: trainOptions, flags: ["video"])
        guard let out = a.string("out") else { throw ArgumentError.missingRequired("out") }
        let data = a.string("data", default: defaultDataFolder + "/train.tsv")
        try train(a, data: data, out: URL(fileURLWithPath: out))
        return 0
    }

    @discardableResult
    static func train(_ a: Arguments, data: String, out: URL) throws -> AVSRAdapterFile {
        var o = AVSRTrainingOptions()
        o.epochs = try a.int("epochs", default: o.epochs)
        o.batchSize = try a.int("batch", default: o.batchSize)
        o.learningRate = Double(try a.float("lr", default: Float(o.learningRate)))
        o.seed = UInt64(try a.int("seed", default: Int(o.seed)))
        o.audioRates = try a.list("rates", default: o.audioRates.map(String.init)).map {
            guard let r = Int($0), r >= 1 else { throw ArgumentError.badValue("rates", $0, expected: "integers ≥ 1, e.g. 1,4,16") }
            return r
        }
        o.loraMode = a.string("lora-mode", default: o.loraMode)
        o.reductionFactor = try a.int("reduction-factor", default: o.reductionFactor)
        o.alpha = try a.float("alpha", default: o.alpha)
        let trainSNRs = try conditions(a.list("train-snr", default: ["clean"]))

        var manifest = try SpeechManifest(contentsOf: URL(fileURLWithPath: data))
        let limit = try a.int("train-limit", default: manifest.items.count)
        if limit < manifest.items.count {
            // Evenly spaced over the manifest (which follows the prompt index), not its first N.
            let n = manifest.items.count
            manifest.items = (0..<max(1, limit)).map { manifest.items[$0 * n / max(1, limit)] }
            log("training on \(manifest.items.count) of \(n) utterances (--train-limit)")
        }
        let (whisper, tokenizer, folder) = try loadWhisper(a)
        // With --video every utterance needs frames; the frozen DINOv2 features are computed once.
        let video = a.has("video") ? try AVSRVisualCommand.visualFeatures(manifest.items) : nil
        let file = AVSRAdapterFile(baseModel: folder, videoDim: video?.first?.shape[1], options: o)
        let model = try file.makeModel(whisper: whisper)
        let recs = try recordings(manifest)
        var examples: [AVSRExample] = []
        for snr in trainSNRs {
            log("encoding \(recs.count) training utterances (\(conditionName(snr))) with the frozen Whisper encoder")
            let states = try AVSRTrainer.encodeAudio(model: whisper, recordings: try noisy(recs, snr: snr, seed: o.seed &+ 1000), log: log)
            for (i, (s, item)) in zip(states, manifest.items).enumerated() {
                examples.append(AVSRExample(audioStates: s, videoFeatures: video?[i], targets: tokenizer.encode(" " + item.transcript)))
            }
        }
        try AVSRTrainer.train(model: model, examples: examples, prompt: prompt(whisper), endOfText: whisper.generation.endOfText,
                              options: o, log: log)
        try file.save(model, to: out)
        log("adapter written to \(out.path)")
        return file
    }

    // MARK: - eval table

    /// WER of every (condition, rate) on a manifest, for an adapter or zero-shot Whisper (rate 1 only).
    static func werTable(_ a: Arguments, data: String, adapter: String?) throws -> [String: Double] {
        let manifest = try SpeechManifest(contentsOf: URL(fileURLWithPath: data))
        let limit = try a.int("limit", default: manifest.items.count)
        let items = Array(manifest.items.prefix(max(1, limit)))
        let (whisper, tokenizer, _) = try loadWhisper(a)
        let model: OmniAVSR
        var rates = [1]
        if let adapter {
            let (config, m) = try AVSRAdapterFile.load(URL(fileURLWithPath: adapter), whisper: whisper)
            model = m
            rates = try a.list("rates", default: config.options.audioRates.map(String.init)).map {
                guard let r = Int($0), config.options.audioRates.contains(r) else {
                    throw ArgumentError.badValue("rates", $0, expected: "rates the adapter was trained with: \(config.options.audioRates)")
                }
                return r
            }
        } else {
            // Zero-shot: rate 1 with zero-initialised residual projectors and LoRAs is plain Whisper.
            model = try AVSRAdapterFile(baseModel: "", videoDim: nil, options: AVSRTrainingOptions()).makeModel(whisper: whisper)
        }
        var normaliser = TranscriptNormaliser.standard
        normaliser.numbersAsWords = !a.has("digits")
        let options = WhisperDecodingOptions(beamSize: try a.int("beam", default: 1), maxLength: try a.int("max-length", default: 224))
        let recs = try items.map { try AudioFile.readMono($0.audio) }
        var table: [String: Double] = [:]
        let conds = try conditions(a.list("snr", default: ["clean", "0"]))
        print("WER on \(items.count) utterances of \(data) (\(adapter.map { "adapter \($0)" } ?? "zero-shot Whisper"); normaliser standard\(normaliser.numbersAsWords ? " + numbers as words" : ""))")
        print("condition   " + rates.map { "rate \($0)".padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
        for snr in conds {
            let states = try AVSRTrainer.encodeAudio(model: whisper, recordings: try noisy(recs, snr: snr, seed: 99), log: log)
            let examples = states.map { AVSRExample(audioStates: $0, targets: []) }
            var row = conditionName(snr).padding(toLength: 12, withPad: " ", startingAt: 0)
            for r in rates {
                let hyps = try AVSRTrainer.transcribe(model: model, examples: examples, task: .asr, audioRate: r, videoRate: 1, options: options)
                    .map { tokenizer.decode($0, skipSpecialTokens: true).trimmingCharacters(in: .whitespaces) }
                let wer = WordErrorRate.compute(references: items.map(\.transcript), hypotheses: hyps, normaliser: normaliser)
                let v = wer.wer ?? .nan
                table["\(conditionName(snr)) rate \(r)"] = v
                row += String(format: "%-10.4f", v)
                if a.has("print") {
                    for (item, h) in zip(items, hyps) { print("  [\(conditionName(snr)), rate \(r)] \(item.audio.lastPathComponent)\tref: \(item.transcript)\thyp: \(h)") }
                }
            }
            print(row)
        }
        if table.count > 1 { print(String(format: "average     %.4f", table.values.reduce(0, +) / Double(table.count))) }
        return table
    }

    static let evalOptions: Set<String> = ["data", "adapter", "model", "rates", "snr", "beam", "max-length", "limit"]

    static func evaluate(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: evalOptions, flags: ["print", "digits", "video"])
        if a.has("video") {
            guard let adapter = a.string("adapter") else { throw ArgumentError.missingRequired("adapter (an audio-visual adapter from train --video)") }
            _ = try AVSRVisualCommand.avTable(a, data: a.string("data", default: AVSRVisualCommand.defaultFolder + "/test.tsv"), adapter: adapter)
            return 0
        }
        _ = try werTable(a, data: a.string("data", default: defaultDataFolder + "/test.tsv"), adapter: a.string("adapter"))
        return 0
    }

    // MARK: - demo

    /// The real-speech part of the issue's demo, short enough for `make demo`: zero-shot Whisper on 60
    /// test prompts (clean and babble at 0 dB), Omni-AVSR (ST LoRA, rates 1/4/16) trained one epoch
    /// on 160 training prompts (clean + 0 dB copies), and its WER table on the same 60 test prompts.
    static func demo(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out", "epochs", "limit", "train-limit", "model"], flags: ["audio-only"])
        let data = URL(fileURLWithPath: defaultDataFolder)
        if !FileManager.default.fileExists(atPath: data.appendingPathComponent("test.tsv").path) {
            try makeData(out: data, seed: 7, valFraction: 0.1, testFraction: 0.2)
        }
        let out = URL(fileURLWithPath: a.string("out", default: "runs/avsr-demo"))
        var common = ["--limit", a.string("limit", default: "60")]
        if let m = a.string("model") { common += ["--model", m] }
        print("== zero-shot Whisper tiny.en")
        _ = try werTable(try Arguments(common + ["--snr", "clean,0"], options: evalOptions, flags: ["print", "digits"]),
                         data: data.appendingPathComponent("test.tsv").path, adapter: nil)
        print("== Omni-AVSR training (Whisper decoder + ST Omni-LoRA, audio rates 1/4/16, clean + 0 dB training copies)")
        var trainArgs = ["--epochs", a.string("epochs", default: "1"), "--train-snr", "clean,0",
                         "--train-limit", a.string("train-limit", default: "160")]
        if let m = a.string("model") { trainArgs += ["--model", m] }
        try train(try Arguments(trainArgs, options: trainOptions, flags: []), data: data.appendingPathComponent("train.tsv").path, out: out)
        print("== after adaptation")
        _ = try werTable(try Arguments(common + ["--adapter", out.path, "--snr", "clean,0"], options: evalOptions, flags: ["print", "digits"]),
                         data: data.appendingPathComponent("test.tsv").path, adapter: out.path)
        if a.has("audio-only") { return 0 }
        print("== audio-visual (SYNTHETIC visual stream): Omni-AVSR with ASR, VSR and AVSR tasks, video rates 1/2/5")
        let av = URL(fileURLWithPath: AVSRVisualCommand.defaultFolder)
        if !FileManager.default.fileExists(atPath: av.appendingPathComponent("test.tsv").path) {
            try AVSRVisualCommand.makeAVData(out: av, trainPrompts: 120, testPrompts: 30, trainVoices: 2, maxWords: 8)
        }
        let avOut = out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + "-av")
        var avArgs = ["--epochs", a.string("epochs", default: "1"), "--train-snr", "clean,0"]
        if let m = a.string("model") { avArgs += ["--model", m] }
        try train(try Arguments(avArgs + ["--video"], options: trainOptions, flags: ["video"]), data: av.appendingPathComponent("train.tsv").path, out: avOut)
        var evalArgs = ["--adapter", avOut.path, "--snr", "clean,0"]
        if let m = a.string("model") { evalArgs += ["--model", m] }
        _ = try AVSRVisualCommand.avTable(try Arguments(evalArgs, options: evalOptions, flags: ["print", "digits", "video"]),
                                          data: av.appendingPathComponent("test.tsv").path, adapter: avOut.path)
        return 0
    }
}

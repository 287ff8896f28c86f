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
                                            "reduction-factor", "alpha", "train-snr", "train-limit", "visual-features",
                                            "checkpoint-every", "resume", "log-every", "state-cache", "tasks", "weight-decay",
                                            "video-hidden", "video-rates", "video-context", "visual-front",
                                            "distill-epochs", "distill-lr"]
    static let trainFlags: Set<String> = ["video", "no-video-positions", "learned-video-positions", "strict"]

    static func train(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: trainOptions, flags: trainFlags)
        guard let out = a.string("out") else { throw ArgumentError.missingRequired("out") }
        let data = a.string("data", default: defaultDataFolder + "/train.tsv")
        try train(a, data: data, out: URL(fileURLWithPath: out))
        return 0
    }

    @discardableResult
    static func train(_ a: Arguments, data: String, out: URL, cache: EncoderCache? = nil) throws -> AVSRAdapterFile {
        let cache = cache ?? EncoderCache(folder: a.string("state-cache").map { URL(fileURLWithPath: $0) })
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
        o.videoPositions = !a.has("no-video-positions")
        if a.has("learned-video-positions") { o.learnedVideoPositions = true }
        o.visualFeatures = a.string("visual-features", default: "cls")
        if a.string("tasks") != nil { o.tasks = a.list("tasks", default: []) }
        o.weightDecay = Double(try a.float("weight-decay", default: Float(o.weightDecay ?? 0.1)))
        if a.string("video-hidden") != nil {
            let h = try a.int("video-hidden", default: 0)
            guard h >= 1 else { throw ArgumentError.badValue("video-hidden", "\(h)", expected: "a width ≥ 1, e.g. 768") }
            o.videoHidden = h
        }
        if a.string("video-context") != nil {
            let c = try a.int("video-context", default: 0)
            guard c >= 0 else { throw ArgumentError.badValue("video-context", "\(c)", expected: "frames of context on each side, ≥ 0") }
            o.videoContext = c
        }
        o.videoRates = try a.list("video-rates", default: o.videoRates.map(String.init)).map {
            guard let r = Int($0), r >= 1 else { throw ArgumentError.badValue("video-rates", $0, expected: "integers ≥ 1, e.g. 1,2,5") }
            return r
        }
        let distillEpochs = try a.int("distill-epochs", default: 0)
        guard distillEpochs >= 0 else { throw ArgumentError.badValue("distill-epochs", "\(distillEpochs)", expected: "0 (none) or a number of epochs") }
        if distillEpochs > 0 {
            guard a.has("video") else { throw ArgumentError.badValue("distill-epochs", "\(distillEpochs)", expected: "0 without --video (it pre-trains the video branch)") }
            var d = VideoDistillation.Options()
            d.epochs = distillEpochs
            d.learningRate = Double(try a.float("distill-lr", default: Float(d.learningRate)))
            d.batchSize = o.batchSize
            d.seed = o.seed
            o.videoDistillation = d
        }
        let every = try a.int("checkpoint-every", default: 0)
        guard every >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(every)", expected: "0 (only at the end) or a number of steps") }
        let run = TrainingRun(checkpointFolder: out, checkpointEvery: every, resumeFrom: a.string("resume").map { URL(fileURLWithPath: $0) })
        let trainSNRs = try conditions(a.list("train-snr", default: ["clean"]))

        var manifest = try SpeechManifest(contentsOf: URL(fileURLWithPath: data))
        let limit = try a.int("train-limit", default: manifest.items.count)
        if limit < manifest.items.count {
            // Evenly spaced over the manifest (which follows the prompt index), not its first N.
            let n = manifest.items.count
            manifest.items = evenlySpaced(manifest.items, limit)
            log("training on \(manifest.items.count) of \(n) utterances (--train-limit)")
        }
        let (whisper, tokenizer, folder) = try loadWhisper(a)
        // With --video the frozen front end's features (DINOv2, or a viseme front end with
        // --visual-front) are computed once per utterance with frames; one without is used
        // audio-only (a warning), or stops the run under --strict.
        var video: [Tensor?]?, front: URL?
        if a.has("video") { (video, front) = try AVSRVisualFrontCommand.trainingFeatures(a, items: manifest.items, options: &o) }
        let file = AVSRAdapterFile(baseModel: folder, videoDim: video?.lazy.compactMap { $0 }.first?.shape[1], options: o)
        let model = try file.makeModel(whisper: whisper)
        let recs = try recordings(manifest)
        var examples: [AVSRExample] = []
        let lipReadingOnly = o.tasks == ["vsr"] && video != nil
        if lipReadingOnly, let video {
            // Lip reading alone never reads the audio: skip the encoder (and the noise copies).
            for (i, item) in manifest.items.enumerated() where video[i] != nil {
                examples.append(AVSRExample(audioStates: nil, videoFeatures: video[i], targets: tokenizer.encode(" " + item.transcript),
                                            seconds: Double(recs[i].count) / 16_000))
            }
        }
        for snr in trainSNRs where !lipReadingOnly {
            log("encoding \(recs.count) training utterances (\(conditionName(snr))) with the frozen Whisper encoder")
            let states = try EncoderCache.states(cache, key: EncoderCache.key(model: folder, items: manifest.items, condition: conditionName(snr), seed: o.seed &+ 1000)) {
                try AVSRTrainer.encodeAudio(model: whisper, recordings: try noisy(recs, snr: snr, seed: o.seed &+ 1000), log: log)
            }
            for (i, (s, item)) in zip(states, manifest.items).enumerated() {
                examples.append(AVSRExample(audioStates: s, videoFeatures: video?[i] ?? nil, targets: tokenizer.encode(" " + item.transcript),
                                            seconds: Double(recs[i].count) / 16_000))
            }
        }
        if let d = o.videoDistillation, run.resumeFrom == nil {
            // Targets are the clean audio's states, whatever conditions the joint loss trains on.
            let states = try EncoderCache.states(cache, key: EncoderCache.key(model: folder, items: manifest.items, condition: conditionName(nil), seed: o.seed &+ 1000)) {
                try AVSRTrainer.encodeAudio(model: whisper, recordings: recs, log: log)
            }
            let clean = zip(states, video ?? []).compactMap { s, v in v.map { AVSRExample(audioStates: s, videoFeatures: $0, targets: []) } }
            try VideoDistillation.train(model: model, examples: clean, options: d, log: log)
        }
        let cpu = AVSRTuneCommand.processCPUSeconds()
        let report = try AVSRTrainer.train(model: model, examples: examples, prompt: prompt(whisper), endOfText: whisper.generation.endOfText,
                                           options: o, run: run, logEvery: try a.int("log-every", default: 10), log: log)
        try file.save(model, to: out)
        if let front { try AVSRVisualFrontCommand.copyFront(front, into: out) }
        let results = TrainResults(steps: report.steps, seconds: report.seconds, cpuSeconds: AVSRTuneCommand.processCPUSeconds() - cpu,
                                   stepsPerSecond: report.stepsPerSecond, utterancesPerSecond: report.utterancesPerSecond,
                                   utterancesPerStep: report.steps > 0 ? report.utterances / report.steps : 0,
                                   finalLoss: report.losses.suffix(10).reduce(0, +) / Float(max(1, min(10, report.losses.count))),
                                   examples: examples.count, blasThreads: BLAS.threads)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(Array(try e.encode(results)), to: out.appendingPathComponent("train_results.json"))
        log(String(format: "adapter written to %@ (%d steps in %.1f s: %.3f steps/s, %.1f utterances/s, %.1f CPU s, %d BLAS threads)",
                   out.path, report.steps, report.seconds, report.stepsPerSecond, report.utterancesPerSecond, results.cpuSeconds, BLAS.threads))
        return file
    }

    /// `train_results.json`: the speed of the training loop (encoder passes excluded: they run
    /// once before it) and the last steps' mean loss.
    struct TrainResults: Codable {
        var steps: Int
        var seconds: Double
        var cpuSeconds: Double
        var stepsPerSecond: Double
        var utterancesPerSecond: Double
        var utterancesPerStep: Int
        var finalLoss: Float
        var examples: Int
        var blasThreads: Int
    }

    // MARK: - eval table

    /// WER of every (condition, rate) on a manifest, for an adapter or zero-shot Whisper (rate 1 only).
    static func werTable(_ a: Arguments, data: String, adapter: String?, cache: EncoderCache? = nil) throws -> [String: Double] {
        let manifest = try SpeechManifest(contentsOf: URL(fileURLWithPath: data))
        let limit = try a.int("limit", default: manifest.items.count)
        let items = evenlySpaced(manifest.items, limit)
        let (whisper, tokenizer, folder) = try loadWhisper(a)
        let cache = cache ?? EncoderCache(folder: a.string("state-cache").map { URL(fileURLWithPath: $0) })
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
        // Whisper's temperature fallback for cut-off or looping hypotheses (WhisperFallback);
        // --no-fallback keeps the plain greedy / beam result (cut at each utterance's token budget).
        let fallback: WhisperFallback? = a.has("no-fallback") ? nil : WhisperFallback()
        var fallbacks: [String] = []
        let conds = try conditions(a.list("snr", default: ["clean", "0"]))
        print("WER on \(items.count) utterances of \(data) (\(adapter.map { "adapter \($0)" } ?? "zero-shot Whisper"); normaliser standard\(normaliser.numbersAsWords ? " + numbers as words" : ""))")
        print("condition   " + rates.map { "rate \($0)".padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
        for snr in conds {
            let states = try EncoderCache.states(cache, key: EncoderCache.key(model: folder, items: items, condition: conditionName(snr), seed: 99)) {
                try AVSRTrainer.encodeAudio(model: whisper, recordings: try noisy(recs, snr: snr, seed: 99), log: log)
            }
            let examples = zip(states, recs).map { AVSRExample(audioStates: $0, targets: [], seconds: Double($1.count) / 16_000) }
            var row = conditionName(snr).padding(toLength: 12, withPad: " ", startingAt: 0)
            for r in rates {
                let decoded = try AVSRTrainer.transcribeWithAttempts(model: model, examples: examples, task: .asr, audioRate: r, videoRate: 1,
                                                                     options: options, fallback: fallback)
                let hyps = decoded.map { tokenizer.decode($0.tokens, skipSpecialTokens: true).trimmingCharacters(in: .whitespaces) }
                fallbacks.append("\(conditionName(snr)) rate \(r): \(decoded.filter { $0.attempts > 1 }.count)")
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
        print(fallback == nil ? "(no decoding fallback: --no-fallback)"
              : "hypotheses re-decoded by the temperature fallback (cut off or looping): " + fallbacks.joined(separator: ", "))
        return table
    }

    /// `limit` items evenly spaced over `items` (all of them when `limit` ≥ the count). A manifest
    /// follows the prompt index, so its first N are the prompts of a few letters (in the test split's
    /// first 16, three near-identical conference menus hold over half the reference words).
    static func evenlySpaced<T>(_ items: [T], _ limit: Int) -> [T] {
        let n = items.count, k = max(1, limit)
        return k >= n ? items : (0..<k).map { items[$0 * n / k] }
    }

    static let evalOptions: Set<String> = ["data", "adapter", "model", "rates", "snr", "beam", "max-length", "limit", "state-cache", "tasks"]

    static func evaluate(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: evalOptions, flags: ["print", "digits", "video", "no-fallback", "strict"])
        if a.has("video") {
            guard let adapter = a.string("adapter") else { throw ArgumentError.missingRequired("adapter (an audio-visual adapter from train --video)") }
            _ = try AVSRVisualCommand.avTable(a, data: a.string("data", default: AVSRVisualCommand.defaultFolder + "/test.tsv"), adapter: adapter)
            return 0
        }
        _ = try werTable(a, data: a.string("data", default: defaultDataFolder + "/test.tsv"), adapter: a.string("adapter"))
        return 0
    }
}

/// Whisper encoder states of a set of recordings per condition, kept for the length of one
/// command (the demo evaluates the same test utterances before and after adaptation; the
/// frozen encoder gives the same states both times) and, with `--state-cache DIR`, on disk
/// (`states-<FNV-1a of the key>.safetensors`, written atomically): repeated experiments on one
/// data set then skip the encoder. The key names the model folder, the set's files, the
/// condition and the noise seed, since babble mixes the other recordings of the same set.
final class EncoderCache {
    var entries: [String: [Tensor]] = [:]
    let folder: URL?

    init(folder: URL? = nil) { self.folder = folder }

    static func key(model: String, items: [SpeechManifest.Item], condition: String, seed: UInt64) -> String {
        var h = FNV1a64()
        for i in items { h.mix(i.audio.path) }
        return "\(model)|\(items.count)|\(h.hex)|\(condition)|\(seed)"
    }

    static func states(_ cache: EncoderCache?, key: String, compute: () throws -> [Tensor]) throws -> [Tensor] {
        if let hit = cache?.entries[key] { return hit }
        var file: URL?
        if let folder = cache?.folder {
            var h = FNV1a64()
            h.mix(key)
            file = folder.appendingPathComponent("states-\(h.hex).safetensors")
            if let f = file, FileManager.default.fileExists(atPath: f.path), let t = try? SafeTensors.read(f)["states"], t.rank == 3 {
                let per = t.shape[1] * t.shape[2]
                let out = (0..<t.shape[0]).map { Tensor(Array(t.storage[($0 * per)..<(($0 + 1) * per)]), shape: [t.shape[1], t.shape[2]]) }
                cache?.entries[key] = out
                return out
            }
        }
        let s = try compute()
        cache?.entries[key] = s
        if let file, let first = s.first, s.allSatisfy({ $0.shape == first.shape }) {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try SafeTensors.write(["states": Tensor(Array(s.map(\.storage).joined()), shape: [s.count] + first.shape)],
                                  metadata: ["key": key], to: file)
        }
        return s
    }
}

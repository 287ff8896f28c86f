import Audio
import Core
import Foundation
import Text
import Vision

/// The audio-visual half of `avsr-tune`: the synthetic AV set, the frozen visual front end
/// (DINOv2-small's class token per mouth frame), and the WER table per task and rate pair.
enum AVSRVisualCommand {
    static func log(_ s: String) { AVSRTuneCommand.log(s) }

    static let defaultFolder = "data/avsr-synthetic"

    // MARK: - make-av-data

    static func makeAVData(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out", "train-prompts", "val-prompts", "test-prompts", "train-voices", "max-words",
                                              "text", "text-sentences", "text-max-words", "text-seed"], flags: [])
        let out = URL(fileURLWithPath: a.string("out", default: defaultFolder))
        try makeAVData(out: out, trainPrompts: try a.int("train-prompts", default: 120),
                       valPrompts: try a.int("val-prompts", default: 30), testPrompts: try a.int("test-prompts", default: 30),
                       trainVoices: try a.int("train-voices", default: 2), maxWords: try a.int("max-words", default: 8))
        if let text = a.string("text") {
            try addTextSentences(out: out, text: URL(fileURLWithPath: text), count: try a.int("text-sentences", default: 400),
                                 maxWords: try a.int("text-max-words", default: 12), seed: UInt64(try a.int("text-seed", default: 5)),
                                 trainVoices: try a.int("train-voices", default: 2))
        }
        return 0
    }

    /// `make-av-data --text FILE`: `count` sentences of FILE (seeded, ≤ `maxWords` words;
    /// `TextPrompts`) added to the **training** split only, each spoken by one training voice in
    /// turn; val and test keep the held-out Asterisk prompts and voices, so their numbers stay
    /// comparable with sets built without it.
    static func addTextSentences(out: URL, text: URL, count: Int, maxWords: Int, seed: UInt64, trainVoices: Int) throws {
        let sentences = try TextPrompts.pick(contentsOf: text, count: count, maxWords: maxWords, seed: seed)
        let existing = try SpeechManifest(contentsOf: out.appendingPathComponent("train.tsv")).items
        let voices = Array(SyntheticAVSet.trainVoices.prefix(max(1, trainVoices)))
        let added = try SyntheticAVSet.build(split: "train", transcripts: sentences, voices: voices, out: out, oneVoiceEach: true,
                                             preceding: existing, log: log)
        log("  + \(added.count) training utterances of sentences from \(text.path) (≤ \(maxWords) words, seed \(seed), one voice each)")
    }

    /// Short Asterisk prompts (at most `maxWords` words), split by prompt with the speech split's
    /// seed, spoken by `trainVoices` training voices, one held-out test voice, and for `val` (the
    /// split to select settings on; its prompts are in neither train nor test) the other held-out voice.
    static func makeAVData(out: URL, trainPrompts: Int, valPrompts: Int = 30, testPrompts: Int, trainVoices: Int, maxWords: Int) throws {
        let corpus = try SpeechCorpus.debian { url in String(decoding: try Gzip.decompress(contentsOf: url), as: UTF8.self) }
        let (train, val, test) = corpus.split(valFraction: 0.1, testFraction: 0.2, seed: 7)
        func pick(_ us: [SpeechCorpus.Utterance], _ n: Int) -> [(id: String, text: String)] {
            let short = us.filter { $0.id.hasPrefix("asterisk/") && $0.transcript.split(separator: " ").count <= maxWords }
            guard n < short.count else { return short.map { ($0.id, $0.transcript) } }
            return (0..<n).map { short[$0 * short.count / n] }.map { ($0.id, $0.transcript) }
        }
        let voices = Array(SyntheticAVSet.trainVoices.prefix(max(1, trainVoices)))
        log("synthetic AV set (espeak-ng speech + rendered mouth frames) → \(out.path)")
        let tr = try SyntheticAVSet.build(split: "train", transcripts: pick(train, trainPrompts), voices: voices, out: out, log: log)
        let va = try SyntheticAVSet.build(split: "val", transcripts: pick(val, valPrompts), voices: [SyntheticAVSet.testVoices[1]], out: out, log: log)
        let te = try SyntheticAVSet.build(split: "test", transcripts: pick(test, testPrompts), voices: [SyntheticAVSet.testVoices[0]], out: out, log: log)
        log("  \(tr.count) training utterances (\(voices.count) voices), \(va.count) validation utterances (held-out voice \(SyntheticAVSet.testVoices[1])), \(te.count) test utterances (held-out voice \(SyntheticAVSet.testVoices[0]))")
    }

    /// Whether the synthetic set at `folder` is complete and current: frames drawn with one face
    /// per utterance carry a `face_seed` metadata entry; older sets (one face per voice) do not.
    static func isCurrentAVSet(_ folder: URL) -> Bool {
        guard let items = try? SpeechManifest(contentsOf: folder.appendingPathComponent("test.tsv")).items, let first = items.first,
              FileManager.default.fileExists(atPath: folder.appendingPathComponent("train.tsv").path),
              FileManager.default.fileExists(atPath: folder.appendingPathComponent("val.tsv").path) else { return false }
        return (try? SafeTensors.header(of: SyntheticAVSet.framesURL(forAudio: first.audio)))?.metadata?["face_seed"] != nil
    }

    // MARK: - visual front end

    /// The per-frame feature kinds `visualFeatures` computes.
    static let featureKinds = ["cls", "patch-mean", "cls+patch-mean"]

    /// The features file cached beside an utterance's frames (default backbone only): DINOv2's
    /// class token and mean patch token side by side, `[T, 768]`; each kind is a column range.
    static func featureCacheURL(forAudio audio: URL) -> URL {
        audio.deletingPathExtension().appendingPathExtension("dinov2-cls-patchmean.safetensors")
    }

    /// Frozen DINOv2-small features of every frame of every utterance, `[T, D]`: its normalised
    /// class token (`cls`, D = 384), the mean of its normalised patch tokens (`patch-mean`), or
    /// both concatenated (D = 768). A 56-px mouth is a 4 × 4 grid of 14-px patches; the class
    /// token summarises the image for ImageNet-like content, while the patch tokens keep the
    /// local shape of the lips, so the probe compares them. With the default model one pass
    /// gives both and is cached beside the frames (written atomically).
    /// An utterance's frames, or an error naming its frames file.
    static func requiredFrames(_ item: SpeechManifest.Item) throws -> Tensor {
        guard let frames = try SyntheticAVSet.frames(forAudio: item.audio) else {
            throw SpeechManifestError("\(SyntheticAVSet.framesURL(forAudio: item.audio).path): no frames for this utterance (make-av-data writes them; train and eval --video without --strict use such an utterance audio-only)")
        }
        return frames
    }

    /// Features of the items that have frames and nil for those without: an utterance with no
    /// frames file is used audio-only (`consequence` says how; a warning names the first such file),
    /// or, with `strict`, is an error naming it. No utterance with frames at all is an error.
    static func featuresWhereFramesExist(_ items: [SpeechManifest.Item], strict: Bool, consequence: String,
                                         features: ([SpeechManifest.Item]) throws -> [Tensor]) throws -> [Tensor?] {
        let missing = items.indices.filter { !FileManager.default.fileExists(atPath: SyntheticAVSet.framesURL(forAudio: items[$0].audio).path) }
        if let first = missing.first {
            let path = SyntheticAVSet.framesURL(forAudio: items[first].audio).path
            guard !strict else { _ = try requiredFrames(items[first]); return [] }
            guard missing.count < items.count else {
                throw SpeechManifestError("\(path): no frames, nor for any of the \(items.count) utterances; --video needs frames (make-av-data writes them)")
            }
            log("warning: \(missing.count) of \(items.count) utterances have no frames (first: \(path)); \(consequence) (--strict makes this an error)")
        }
        let present = Set(items.indices).subtracting(missing).sorted()
        var out = [Tensor?](repeating: nil, count: items.count)
        for (i, f) in zip(present, try features(present.map { items[$0] })) { out[i] = f }
        return out
    }

    static func visualFeatures(_ items: [SpeechManifest.Item], kind: String = "cls", model: String? = nil) throws -> [Tensor] {
        guard featureKinds.contains(kind) else { throw ArgumentError.badValue("visual-features", kind, expected: featureKinds.joined(separator: ", ")) }
        var out: [Tensor] = []
        var backbone: VisionBackbone?
        let started = Date()
        for (n, item) in items.enumerated() {
            let frames = try requiredFrames(item)
            let cache = featureCacheURL(forAudio: item.audio)
            // The cache is keyed by a fingerprint of the frames, so frames redrawn in place (a
            // rebuilt set) are never paired with the features of the old ones.
            var fingerprint = FNV1a64()
            fingerprint.mix(frames.shape.map { Float($0) })
            fingerprint.mix(frames.storage)
            var both: Tensor?
            if model == nil, FileManager.default.fileExists(atPath: cache.path),
               (try? SafeTensors.header(of: cache))?.metadata?["frames_fnv1a64"] == fingerprint.hex,
               let f = try? SafeTensors.read(cache)["features"], f.rank == 2, f.shape[0] == frames.shape[0], f.shape[1] % 2 == 0 {
                both = f
            }
            if both == nil {
                if backbone == nil {
                    backbone = try VisionBackbone.load(model: model)
                    backbone!.module.eval()
                }
                let f = try features(of: frames, backbone: backbone!, name: item.audio.path)
                if model == nil && f.shape[1] % 2 == 0 {
                    try SafeTensors.write(["features": f], metadata: ["kind": "cls+patch-mean", "model": "dinov2-small", "frames_fnv1a64": fingerprint.hex],
                                          to: cache)
                }
                both = f
                if (n + 1) % 40 == 0 || n + 1 == items.count {
                    log(String(format: "  visual features %d/%d utterances (%.1f s)", n + 1, items.count, Date().timeIntervalSince(started)))
                }
            }
            let f = both!, half = f.shape[1] / 2
            switch kind {
            case "cls": out.append(f.slice(axis: 1, 0..<half))
            case "patch-mean": out.append(f.slice(axis: 1, half..<f.shape[1]))
            default: out.append(f)
            }
        }
        return out
    }

    /// One utterance's `[T, D]` features from its `[T, H, W]` grey frames.
    /// (A non-DINOv2 backbone gives its image feature twice, so every kind has a column range.)
    static func features(of frames: Tensor, backbone: VisionBackbone, name: String) throws -> Tensor {
        // The backbone's own preprocessing constants (ImageNet's for DINOv2), grey replicated to RGB.
        let mean = backbone.normalization.mean, std = backbone.normalization.std
        let t = frames.shape[0], h = frames.shape[1], w = frames.shape[2]
        guard h % 14 == 0, w % 14 == 0 else { throw SpeechManifestError("\(name): frames are \(h)×\(w); DINOv2 needs multiples of 14") }
        var feats: [Float] = []
        var width = 0
        for start in stride(from: 0, to: t, by: 32) {
            let count = min(32, t - start)
            var pixels = [Float](repeating: 0, count: count * 3 * h * w)
            for f in 0..<count {
                for c in 0..<3 {
                    for i in 0..<(h * w) {
                        pixels[((f * 3 + c) * h * w) + i] = (frames.storage[(start + f) * h * w + i] - mean[c]) / std[c]
                    }
                }
            }
            let x = Tensor(pixels, shape: [count, 3, h, w])
            let rows: Tensor = try withoutGrad {
                guard let dino = backbone.module as? Dinov2Model else {
                    let f = try backbone.imageFeatures(x)
                    return Tensor.concat([f, f], axis: 1)
                }
                let out = try dino(x)
                let tokens = out.lastHiddenState, n = tokens.shape[1]
                guard let cls = out.poolerOutput else { throw SpeechManifestError("\(name): DINOv2 gave no class token") }
                return Tensor.concat([cls, tokens.slice(axis: 1, 1..<n).mean(axis: 1)], axis: 1)
            }
            width = rows.shape[1]
            feats += rows.storage
        }
        return Tensor(feats, shape: [t, width])
    }

    // MARK: - probe-visual

    /// `avsr-tune probe-visual`: a linear viseme probe of each feature kind (and of the raw
    /// pixels, 14 × 14 average-pooled) on the synthetic set's frames: fit on the training voices,
    /// accuracy on the held-out voice's frames.
    static func probe(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["data", "kinds", "limit", "steps"], flags: [])
        let folder = URL(fileURLWithPath: a.string("data", default: defaultFolder))
        let limit = try a.int("limit", default: 80)
        func split(_ name: String) throws -> [SpeechManifest.Item] {
            let items = try SpeechManifest(contentsOf: folder.appendingPathComponent(name + ".tsv")).items
            guard limit < items.count else { return items }
            return (0..<limit).map { items[$0 * items.count / limit] }
        }
        let train = try split("train"), test = try split("test")
        func labels(_ items: [SpeechManifest.Item]) throws -> [Int] {
            try items.flatMap { item -> [Int] in
                guard let v = try SyntheticAVSet.visemes(forAudio: item.audio) else {
                    throw SpeechManifestError("\(SyntheticAVSet.framesURL(forAudio: item.audio).path): no viseme labels; rebuild the set with make-av-data")
                }
                return v
            }
        }
        let ytr = try labels(train), yte = try labels(test)
        func stacked(_ xs: [Tensor]) -> Tensor { Tensor(Array(xs.map(\.storage).joined()), shape: [xs.reduce(0) { $0 + $1.shape[0] }, xs[0].shape[1]]) }
        func pixels(_ items: [SpeechManifest.Item]) throws -> Tensor {
            stacked(try items.map { item in
                let f = try SyntheticAVSet.frames(forAudio: item.audio)!
                let t = f.shape[0], h = f.shape[1], w = f.shape[2], ph = h / 4, pw = w / 4
                var v = [Float](repeating: 0, count: t * ph * pw)
                for k in 0..<t { for y in 0..<(ph * 4) { for x in 0..<(pw * 4) {
                    v[(k * ph + y / 4) * pw + x / 4] += f.storage[(k * h + y) * w + x] / 16
                } } }
                return Tensor(v, shape: [t, ph * pw])
            })
        }
        print("linear viseme probe (\(Viseme.allCases.count) classes) on \(train.count) training-voice and \(test.count) held-out-voice utterances of \(folder.path)")
        let steps = try a.int("steps", default: 300)
        for kind in a.list("kinds", default: ["pixels"] + featureKinds) {
            let (xtr, xte) = kind == "pixels" ? (try pixels(train), try pixels(test))
                : (stacked(try visualFeatures(train, kind: kind)), stacked(try visualFeatures(test, kind: kind)))
            let r = try VisemeProbe.fit(train: xtr, trainLabels: ytr, test: xte, testLabels: yte, classes: Viseme.allCases.count, steps: steps)
            print(String(format: "  %@ dim %4d  train acc %.3f  held-out voice acc %.3f  (majority class %.3f; %d / %d frames)",
                         kind, xtr.shape[1], r.trainAccuracy, r.testAccuracy, r.majorityAccuracy, r.trainFrames, r.testFrames))
        }
        return 0
    }

    // MARK: - AV table

    /// WER per condition × task × rate (pair) for an AV adapter on a manifest with frames.
    static func avTable(_ a: Arguments, data: String, adapter: String, cache: EncoderCache? = nil) throws -> [String: Double] {
        let manifest = try SpeechManifest(contentsOf: URL(fileURLWithPath: data))
        let items = Array(manifest.items.prefix(max(1, try a.int("limit", default: manifest.items.count))))
        let (whisper, tokenizer, modelFolder) = try AVSRTrainCommand.loadWhisper(a)
        let cache = cache ?? EncoderCache(folder: a.string("state-cache").map { URL(fileURLWithPath: $0) })
        let (config, model) = try AVSRAdapterFile.load(URL(fileURLWithPath: adapter), whisper: whisper)
        guard config.videoDim != nil else { throw SpeechManifestError("\(adapter): an audio-only adapter; evaluate it without --video") }
        var normaliser = TranscriptNormaliser.standard
        normaliser.numbersAsWords = !a.has("digits")
        let options = WhisperDecodingOptions(beamSize: try a.int("beam", default: 1), maxLength: try a.int("max-length", default: 96))
        let video = try featuresWhereFramesExist(items, strict: a.has("strict"),
                                                 consequence: "their AVSR is decoded audio-only (ASR) and VSR leaves them out") {
            try AVSRVisualFrontCommand.evaluationFeatures($0, kind: config.options.visualFeatures, adapter: URL(fileURLWithPath: adapter))
        }
        let recs = try items.map { try AudioFile.readMono($0.audio) }
        let refs = items.map(\.transcript)
        var table: [String: Double] = [:]
        let withVideo = video.indices.filter { video[$0] != nil }
        func wer(_ ids: [[Int]], task: String = "", of indices: [Int]? = nil) -> Double {
            let hyps = ids.map { tokenizer.decode($0, skipSpecialTokens: true).trimmingCharacters(in: .whitespaces) }
            let references = indices.map { $0.map { refs[$0] } } ?? refs
            if a.has("print") { for (r, h) in zip(references, hyps).prefix(8) { print("  [\(task)] ref: \(r)\thyp: \(h)") } }
            return WordErrorRate.compute(references: references, hypotheses: hyps, normaliser: normaliser).wer ?? .nan
        }
        /// Lip reading of the utterances with frames.
        func lipReading(_ examples: [AVSRExample], rate: Int) throws -> Double {
            wer(try AVSRTrainer.transcribe(model: model, examples: withVideo.map { examples[$0] }, task: .vsr, audioRate: 1, videoRate: rate,
                                           options: options), task: "VSR v\(rate)", of: withVideo)
        }
        /// AVSR where frames exist, ASR (the audio-only fallback) where they do not, in manifest order.
        func audioVisual(_ examples: [AVSRExample], audioRate: Int, videoRate: Int) throws -> [[Int]] {
            var out = [[Int]](repeating: [], count: examples.count)
            let av = try AVSRTrainer.transcribe(model: model, examples: withVideo.map { examples[$0] }, task: .avsr, audioRate: audioRate,
                                                videoRate: videoRate, options: options)
            for (i, ids) in zip(withVideo, av) { out[i] = ids }
            let audioOnly = examples.indices.filter { video[$0] == nil }
            if !audioOnly.isEmpty {
                let asr = try AVSRTrainer.transcribe(model: model, examples: audioOnly.map { examples[$0] }, task: .asr, audioRate: audioRate,
                                                     videoRate: 1, options: options)
                for (i, ids) in zip(audioOnly, asr) { out[i] = ids }
            }
            return out
        }
        let ar = config.options.audioRates, vr = config.options.videoRates
        print("WER on \(items.count) synthetic AV utterances of \(data) (adapter \(adapter); visual stream SYNTHETIC: rendered mouth shapes from espeak-ng phoneme timings)")
        let rows = Set(a.list("tasks", default: AVSRTask.allCases.map(\.rawValue)))
        var vsrDone = !rows.contains("vsr")
        for snr in try AVSRTrainCommand.conditions(a.list("snr", default: ["clean", "0"])) {
            let cond = AVSRTrainCommand.conditionName(snr)
            if !rows.contains("asr") && !rows.contains("avsr") {  // lip reading only: no audio needed
                let examples = zip(video, recs).map { AVSRExample(audioStates: nil, videoFeatures: $0, targets: [], seconds: Double($1.count) / 16_000) }
                var line = "(video)  VSR  "
                for r in vr {
                    let v = try lipReading(examples, rate: r)
                    table["VSR v\(r)"] = v
                    line += String(format: "v%-3d %.3f  ", r, v)
                }
                print(line)
                break
            }
            let states = try EncoderCache.states(cache, key: EncoderCache.key(model: modelFolder, items: items, condition: cond, seed: 99)) {
                try AVSRTrainer.encodeAudio(model: whisper, recordings: try AVSRTrainCommand.noisy(recs, snr: snr, seed: 99), log: log)
            }
            let examples = zip(zip(states, video), recs).map { AVSRExample(audioStates: $0.0, videoFeatures: $0.1, targets: [], seconds: Double($1.count) / 16_000) }
            var line = "\(cond.padding(toLength: 8, withPad: " ", startingAt: 0)) ASR  "
            for r in ar where rows.contains("asr") {
                let v = wer(try AVSRTrainer.transcribe(model: model, examples: examples, task: .asr, audioRate: r, videoRate: 1, options: options), task: "\(cond) ASR a\(r)")
                table["\(cond) ASR a\(r)"] = v
                line += String(format: "a%-3d %.3f  ", r, v)
            }
            if rows.contains("asr") { print(line) }
            if !vsrDone {  // lip reading does not depend on the audio condition
                line = "(video)  VSR  "
                for r in vr {
                    let v = try lipReading(examples, rate: r)
                    table["VSR v\(r)"] = v
                    line += String(format: "v%-3d %.3f  ", r, v)
                }
                print(line)
                vsrDone = true
            }
            line = "\(cond.padding(toLength: 8, withPad: " ", startingAt: 0)) AVSR "
            for (ra, rv) in zip(ar, vr) where rows.contains("avsr") {
                let v = wer(try audioVisual(examples, audioRate: ra, videoRate: rv), task: "\(cond) AVSR a\(ra)v\(rv)")
                table["\(cond) AVSR a\(ra)v\(rv)"] = v
                line += String(format: "a%d/v%-3d %.3f  ", ra, rv, v)
            }
            print(line)
        }
        print(String(format: "average over the %d cells: %.4f", table.count, table.values.reduce(0, +) / Double(max(table.count, 1))))
        return table
    }
}

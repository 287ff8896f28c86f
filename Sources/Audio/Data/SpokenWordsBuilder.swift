import Core
import Foundation

/// Builds the spoken-word data folder:
///
///     DIR/train/<word>/<voice>.wav   synthetic espeak-ng voices (training)
///     DIR/val/<word>/<voice>.wav     other synthetic voices, from variants not used in training
///     DIR/test/<word>/allison.wav    the real recording from asterisk-core-sounds-en-wav (untouched copy)
///     DIR/build.json, DIR/README.txt provenance: voices, seed, licences
///
/// espeak-ng is run as a program (GPL-3; it is not linked). Its 22.05 kHz output is band-limited
/// to the test set's 8 kHz telephone band (resampled to 8 kHz with the band-limited resampler) and
/// trimmed to 50 ms of silence on each side, then written as 16-bit WAV. The folder is built in a
/// temporary sibling and renamed into place, so an interrupted build leaves nothing half-written.
public struct SpokenWordsBuilder: Sendable {
    public var soundsDirectory = URL(fileURLWithPath: SpokenWords.defaultSoundsDirectory)
    /// The espeak-ng program (looked up on PATH when not absolute).
    public var espeak = "espeak-ng"
    public var groups: [SpokenWords.Group] = SpokenWords.Group.allCases
    public var trainVoices = 16
    public var validationVoices = 6
    public var seed: UInt64 = 2024
    /// Output rate of the synthetic clips (the real recordings are 8 kHz).
    public var sampleRate = 8_000

    public init() {}

    /// What was built.
    public struct Summary: Codable, Sendable {
        public var words: [String]
        public var trainVoices: [SyntheticVoice]
        public var validationVoices: [SyntheticVoice]
        public var trainClips: Int
        public var validationClips: Int
        public var testClips: Int
        public var seed: UInt64
        public var soundsDirectory: String
    }

    /// The voices for training and validation: validation uses variants that training never uses.
    public func voices() -> (train: [SyntheticVoice], validation: [SyntheticVoice]) {
        var rng = SplitMix64(seed: seed)
        let variants = SpokenWords.variants.shuffledSeeded(&rng)
        let heldOut = max(1, variants.count / 5)
        let trainVariants = Array(variants.dropLast(heldOut)), validationVariants = Array(variants.suffix(heldOut))
        return (SyntheticVoice.draw(trainVoices, variants: trainVariants, seed: rng.next()),
                SyntheticVoice.draw(validationVoices, variants: validationVariants, seed: rng.next()))
    }

    /// Builds `directory` (replacing it). `progress` gets a line now and then.
    @discardableResult
    public func build(into directory: URL, progress: (String) -> Void = { _ in }) throws -> Summary {
        let words = groups.flatMap(SpokenWords.words)
        guard !words.isEmpty, trainVoices >= 1 else { throw AudioDatasetError("spoken words: choose at least one word group and one training voice") }
        let fm = FileManager.default
        for w in words where !fm.fileExists(atPath: soundsDirectory.appendingPathComponent(w.recording).path) {
            throw AudioDatasetError("\(soundsDirectory.appendingPathComponent(w.recording).path): missing; install the Debian package asterisk-core-sounds-en-wav (apt-get install asterisk-core-sounds-en-wav) or pass --sounds DIR")
        }
        let program = try Self.locate(espeak)
        let (train, validation) = voices()
        let parent = directory.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(directory.lastPathComponent).tmp-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: tmp) }
        // Real test recordings, copied byte for byte.
        for w in words {
            let dest = tmp.appendingPathComponent("test/\(w.label)/allison.wav")
            try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.copyItem(at: soundsDirectory.appendingPathComponent(w.recording), to: dest)
        }
        var jobs: [(SyntheticVoice, SpokenWords.Word, URL)] = []
        for (split, list) in [("train", train), ("val", validation)] {
            for v in list { for w in words { jobs.append((v, w, tmp.appendingPathComponent("\(split)/\(w.label)/\(v.id).wav"))) } }
        }
        for dir in Set(jobs.map { $0.2.deletingLastPathComponent() }) { try fm.createDirectory(at: dir, withIntermediateDirectories: true) }
        progress("synthesising \(jobs.count) clips with \(program.path) (\(train.count) training and \(validation.count) validation voices × \(words.count) words)")
        var failures = [String?](repeating: nil, count: jobs.count)
        let rate = sampleRate
        let scratch = tmp.appendingPathComponent("scratch")
        try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
        failures.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            let shared = jobs
            parallelChunks(shared.count, costPerItem: 10_000_000) { range in
                for i in range {
                    let (voice, word, dest) = shared[i]
                    do {
                        let raw = scratch.appendingPathComponent("\(i).wav")
                        try Self.run(program, ["-v", voice.voiceArgument, "-s", "\(voice.speed)", "-p", "\(voice.pitch)", "-w", raw.path, word.spoken])
                        let clip = try AudioFile.read(raw).mono()
                        try? FileManager.default.removeItem(at: raw)
                        let band = try clip.resampled(to: rate)
                        let trimmed = Self.trimSilence(band.samples, sampleRate: rate)
                        try AudioFile.writeWAV(AudioClip(samples: trimmed, sampleRate: rate), to: dest)
                    } catch {
                        out.base[i] = "\(voice.voiceArgument) \"\(word.spoken)\": \(error)"
                    }
                }
            }
        }
        if let first = failures.compactMap({ $0 }).first {
            throw AudioDatasetError("espeak-ng failed on \(failures.compactMap { $0 }.count) clip(s), first: \(first)")
        }
        try fm.removeItem(at: scratch)
        let summary = Summary(words: words.map(\.label), trainVoices: train, validationVoices: validation,
                              trainClips: train.count * words.count, validationClips: validation.count * words.count,
                              testClips: words.count, seed: seed, soundsDirectory: soundsDirectory.path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(summary), to: tmp.appendingPathComponent("build.json"))
        try AtomicFile.write(Self.readme(summary), to: tmp.appendingPathComponent("README.txt"))
        try AtomicFile.replaceDirectory(directory, with: tmp)
        progress("wrote \(directory.path): \(summary.trainClips) training, \(summary.validationClips) validation (synthetic), \(summary.testClips) test (real) clips")
        return summary
    }

    /// Keeps the samples from 50 ms before the first to 50 ms after the last sample whose
    /// magnitude reaches 1 % of the peak (−40 dB); all-silent input is returned unchanged.
    public static func trimSilence(_ x: [Float], sampleRate: Int, margin: Double = 0.05, threshold: Float = 0.01) -> [Float] {
        let peak = x.map(abs).max() ?? 0
        guard peak > 0, let first = x.firstIndex(where: { abs($0) >= threshold * peak }),
              let last = x.lastIndex(where: { abs($0) >= threshold * peak }) else { return x }
        let pad = Int(margin * Double(sampleRate))
        return Array(x[max(0, first - pad)...min(x.count - 1, last + pad)])
    }

    /// The absolute path of `program` (searched on PATH), or a clear error saying how to install it.
    static func locate(_ program: String) throws -> URL {
        if program.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: program) else {
                throw AudioDatasetError("\(program): not an executable; install espeak-ng (apt-get install espeak-ng)")
            }
            return URL(fileURLWithPath: program)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(program)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw AudioDatasetError("\(program): not found on PATH; install it with apt-get install espeak-ng")
    }

    /// Runs a program, throwing its exit status and stderr on failure.
    static func run(_ program: URL, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = program
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw AudioDatasetError("\(program.lastPathComponent) exited with status \(p.terminationStatus): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    static func readme(_ s: Summary) -> String {
        """
        Spoken-word recognition data for PEFTKit's audio-adapt demo (generated; do not edit).

        test/  : the real recordings of Allison Smith from Debian's asterisk-core-sounds-en-wav
                 (\(s.soundsDirectory)), one take per word, CC-BY-SA-3.0. Copied unchanged.
        train/ : the same \(s.words.count) words by \(s.trainVoices.count) synthetic espeak-ng voices (seed \(s.seed)).
        val/   : \(s.validationVoices.count) further synthetic voices whose variants training never uses.

        Synthetic clips are band-limited to 8 kHz like the recordings and trimmed to 50 ms of
        silence at each end. No real speech is used for training or model selection: accuracy on
        test/ measures synthetic-to-real transfer.
        """
    }
}

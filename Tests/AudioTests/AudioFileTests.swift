import Audio
import Core
import Foundation
import Testing
import TestSupport

/// Decoding against `samples.safetensors` (libsndfile's float normalisation, int16/32768),
/// hand-built WAV files of every PCM width and chunk order, bad files, and writing.
@Suite struct AudioFileTests {
    @Test(arguments: AudioFixtures.clipNames)
    func decodesFixtureExactly(name: String) throws {
        let expected = try AudioFixtures.samples()[name]
        let clip = try AudioFile.read(AudioFixtures.url(name))
        let channels = expected.rank == 2 ? expected.shape[1] : 1
        #expect(clip.channels == channels)
        #expect(clip.sampleRate == (name.contains("_8k") ? 8000 : 16000))
        #expect(clip.frameCount == expected.shape[0])
        // Exact: bit-for-bit equal floats.
        #expect(clip.samples == expected.storage, "\(name) differs from samples.safetensors")
    }

    /// The fixture's right channel is left // 2 (integer floor division); mono must be (L + R) / 2.
    @Test func stereoDownmixIsMeanOfChannels() throws {
        let clip = try AudioFile.read(AudioFixtures.url("allison_digit1_16k_stereo.wav"))
        let left = try AudioFile.read(AudioFixtures.url("allison_digit1_16k.wav")).samples
        let mono = clip.mono()
        #expect(mono.channels == 1 && mono.frameCount == left.count)
        #expect(clip.channel(0).samples == left)
        for i in left.indices {
            let l = Int((left[i] * 32768).rounded())
            let r = Int((Double(l) / 2).rounded(.down))
            #expect(clip.samples[2 * i + 1] == Float(r) / 32768)
            #expect(mono.samples[i] == (Float(l) + Float(r)) / 2 / 32768)
            if mono.samples[i] != (Float(l) + Float(r)) / 2 / 32768 { break }
        }
    }

    /// `readMono` = read, downmix, resample: the stereo fixture gives (L + R)/2 at 16 kHz unchanged,
    /// and an 8 kHz file comes back at 16 kHz with twice the frames.
    @Test func readMonoDownmixesAndResamples() throws {
        let stereo = try AudioFile.read(AudioFixtures.url("allison_digit1_16k_stereo.wav"))
        #expect(try AudioFile.readMono(AudioFixtures.url("allison_digit1_16k_stereo.wav")) == stereo.mono().samples)
        let up = try AudioFile.readMono(AudioFixtures.url("allison_digit1_8k.wav"))
        #expect(up.count == 14580)
    }

    // MARK: Hand-built WAV files

    /// A RIFF chunk: id, little-endian size, payload, pad byte when the size is odd.
    static func chunk(_ id: String, _ payload: [UInt8]) -> [UInt8] {
        var out = Array(id.utf8) + le32(payload.count) + payload
        if payload.count % 2 == 1 { out.append(0) }
        return out
    }
    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
    static func fmt(tag: Int, channels: Int, rate: Int, bits: Int) -> [UInt8] {
        let block = channels * bits / 8
        return chunk("fmt ", le16(tag) + le16(channels) + le32(rate) + le32(rate * block) + le16(block) + le16(bits))
    }
    static func riff(_ chunks: [[UInt8]]) -> [UInt8] {
        let body = Array("WAVE".utf8) + chunks.flatMap { $0 }
        return Array("RIFF".utf8) + le32(body.count) + body
    }

    static let ints: [Int] = [0, 1, -1, 100, -100, 12345, -23456, 32767, -32768]

    /// Each PCM width with values whose expected float is known exactly: 8-bit unsigned is
    /// (u − 128)/128, signed n-bit is v / 2^(n−1) (libsndfile's read normalisation).
    @Test(arguments: [8, 16, 24, 32])
    func readsEveryPCMWidth(bits: Int) throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var data: [UInt8] = []
        var expected: [Float] = []
        for v in Self.ints {
            switch bits {
            case 8:
                let u = 128 + v / 256
                data.append(UInt8(u))
                expected.append(Float(u - 128) / 128)
            default:
                let wide = v << (bits - 16)  // use the full width
                data += (0..<(bits / 8)).map { UInt8((wide >> (8 * $0)) & 0xFF) }
                expected.append(Float(Double(wide) / pow(2, Double(bits - 1))))
            }
        }
        // Unknown chunks before and after 'fmt ', one of odd length (padded), and 'data' last.
        let bytes = Self.riff([
            Self.chunk("LIST", Array("INFOISFT\u{5}\0\0\0test\0".utf8)),
            Self.fmt(tag: 1, channels: 1, rate: 22050, bits: bits),
            Self.chunk("junk", [1, 2, 3]),
            Self.chunk("data", data),
        ])
        let url = dir.appendingPathComponent("pcm\(bits).wav")
        try Data(bytes).write(to: url)
        let clip = try AudioFile.read(url)
        #expect(clip.sampleRate == 22050 && clip.channels == 1)
        #expect(clip.samples == expected)
    }

    /// IEEE float32 with a 'fact' chunk after 'data' (unusual order): values come back unchanged.
    @Test func readsFloatWAVWithChunksAfterData() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [Float] = [0, 0.5, -0.25, 0.999, -1, 1e-7, 0.1, -0.3]  // 4 stereo frames
        let payload = values.flatMap { Self.le32(Int($0.bitPattern)) }
        let bytes = Self.riff([
            Self.fmt(tag: 3, channels: 2, rate: 44100, bits: 32), Self.chunk("data", payload),
            Self.chunk("fact", Self.le32(4)),
        ])
        let url = dir.appendingPathComponent("float.wav")
        try Data(bytes).write(to: url)
        let clip = try AudioFile.read(url)
        #expect(clip.channels == 2 && clip.sampleRate == 44100 && clip.frameCount == 4)
        #expect(clip.samples == values)
        let means: [Float] = (0..<4).map { (f: Int) -> Float in (values[2 * f] + values[2 * f + 1]) / 2 }
        #expect(clip.mono().samples == means)
    }

    // MARK: Bad input

    /// Every bad file gives one AudioFileError naming that file, never a crash.
    @Test func badFilesGiveOneClearErrorNamingTheFile() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = try Data(contentsOf: AudioFixtures.url("allison_digit1_16k.wav"))
        let flac = try Data(contentsOf: AudioFixtures.url("allison_digit1_16k.flac"))
        var lyingFLAC = flac  // STREAMINFO total-samples field claims 2^36 − 1 samples.
        for i in 21...25 { lyingFLAC[i] = i == 21 ? lyingFLAC[i] | 0x0F : 0xFF }
        // An Ogg Vorbis file cut at 50 % (libsndfile refuses it) and at 90 % (length unknown, no
        // decodable frame).
        let oggURL = dir.appendingPathComponent("tone.ogg")
        let tone = (0..<48000).map { Float(0.5 * sin(Double($0) * 0.1)) }
        try AudioFile.write(AudioClip(samples: tone, sampleRate: 16000), to: oggURL, format: .oggVorbis)
        let ogg = try Data(contentsOf: oggURL)
        let cases: [(String, Data, String)] = [
            ("half.ogg", ogg.prefix(ogg.count / 2), "malformed"),
            ("most.ogg", ogg.prefix(ogg.count * 9 / 10), "truncated or corrupt"),
            ("empty.wav", Data(), "empty"),
            ("truncated.wav", wav.prefix(wav.count / 2), "truncated"),
            ("header_only.wav", wav.prefix(30), "truncated"),
            ("no_frames.wav", Data(Self.riff([Self.fmt(tag: 1, channels: 1, rate: 8000, bits: 16), Self.chunk("data", [])])), "no audio frames"),
            ("truncated.flac", flac.prefix(flac.count / 2), "truncated"),
            ("lying_length.flac", lyingFLAC, "truncated"),
            ("garbage.wav", Data((0..<5000).map { UInt8(($0 * 7919) % 251) }), "not a readable sound file"),
            ("notes.ogg", Data("these are not sounds\n".utf8), "not a readable sound file"),
            ("image.png", Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 100)), "not a readable sound file"),
            ("bad_fmt.wav", Data(Self.riff([Self.fmt(tag: 0x55, channels: 1, rate: 8000, bits: 16), Self.chunk("data", [1, 2, 3, 4])])), "not a readable sound file"),
        ]
        for (name, bytes, phrase) in cases {
            let url = dir.appendingPathComponent(name)
            try bytes.write(to: url)
            do {
                let clip = try AudioFile.read(url)
                Issue.record("\(name): expected an error, decoded \(clip.frameCount) frames")
            } catch let error as AudioFileError {
                #expect(error.path == url.path)
                #expect(error.description.hasPrefix(url.path))
                #expect(!error.description.contains("\n"))
                #expect(error.reason.contains(phrase), "\(name): \(error)")
            }
        }
        let missing = dir.appendingPathComponent("missing.wav")
        #expect(throws: AudioFileError.self) { try AudioFile.read(missing) }
        #expect(throws: AudioFileError.self) { try AudioFile.read(dir) }
    }

    // MARK: Writing

    @Test func writesPCM16AndFloatThatReadBackExactly() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stereo = try AudioFile.read(AudioFixtures.url("allison_digit1_16k_stereo.wav"))
        let url16 = dir.appendingPathComponent("out16.wav")
        try AudioFile.write(stereo, to: url16, format: .wavPCM16)
        #expect(try AudioFile.read(url16) == stereo)
        let urlF = dir.appendingPathComponent("outf.wav")
        let odd = AudioClip(samples: [0.1, -0.7, 1e-3, 0.123456789, -1, 0.99], sampleRate: 11025, channels: 1)
        try AudioFile.write(odd, to: urlF, format: .wavFloat32)
        #expect(try AudioFile.read(urlF) == odd)
        // 16-bit rounding and clipping: 0.1·32768 = 3276.8 → 3277; 1.5 clips to 32767.
        let clipped = AudioClip(samples: [0.1, 1.5, -2], sampleRate: 8000)
        try AudioFile.write(clipped, to: url16, format: .wavPCM16)  // overwrites
        #expect(try AudioFile.read(url16).samples == [3277 / 32768, 32767 / 32768, -1])
        // No temporary files left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    /// FLAC (lossless) and Ogg Vorbis (lossy) written through libsndfile and read back by our reader.
    @Test func flacAndOggRoundTrip() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let speech = try AudioFile.read(AudioFixtures.url("allison_digit1_16k.wav"))
        let flac = dir.appendingPathComponent("x.flac")
        try AudioFile.write(speech, to: flac, format: .flac16)
        #expect(try AudioFile.read(flac) == speech)
        // A 440 Hz tone, 1 s at 16 kHz, amplitude 0.5: Vorbis is lossy, so compare the waveform
        // by signal-to-error ratio; a working decoder gives well over 20 dB on a pure tone.
        let tone = (0..<16000).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / 16000)) }
        let ogg = dir.appendingPathComponent("tone.ogg")
        try AudioFile.write(AudioClip(samples: tone, sampleRate: 16000), to: ogg, format: .oggVorbis)
        let back = try AudioFile.read(ogg)
        #expect(back.sampleRate == 16000 && back.channels == 1 && back.frameCount == tone.count)
        let n = min(back.frameCount, tone.count)
        let signal = tone[0..<n].reduce(0.0) { $0 + Double($1 * $1) }
        let error = (0..<n).reduce(0.0) { $0 + Double((back.samples[$1] - tone[$1]) * (back.samples[$1] - tone[$1])) }
        #expect(10 * log10(signal / error) > 20, "Vorbis round trip SNR \(10 * log10(signal / error)) dB")
    }

    @Test func writingIntoMissingFolderFailsWithoutPartialFile() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("no/such/folder/x.wav")
        #expect(throws: AudioFileError.self) {
            try AudioFile.writeWAV(AudioClip(samples: [0, 0.5], sampleRate: 8000), to: target)
        }
        #expect(!FileManager.default.fileExists(atPath: target.path))
    }
}

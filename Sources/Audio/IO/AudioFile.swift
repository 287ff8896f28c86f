import CSndFile
import Core
import Foundation

/// Decoded sound: interleaved float samples in [-1, 1) plus the stream's rate and channel count.
///
/// Integer PCM is scaled as libsndfile does by default (16-bit divides by 32768, 24-bit by 2^23,
/// 32-bit by 2^31, unsigned 8-bit is centred on 128 and divides by 128), so a 16-bit file holds
/// values in [-1, 32767/32768].
public struct AudioClip: Sendable, Equatable {
    /// Samples, frame-major: frame f, channel c is `samples[f * channels + c]`.
    public var samples: [Float]
    /// Frames per second.
    public var sampleRate: Int
    /// Channels per frame (1 = mono).
    public var channels: Int

    /// Number of frames (samples per channel).
    public var frameCount: Int { channels > 0 ? samples.count / channels : 0 }
    /// Length in seconds.
    public var duration: Double { Double(frameCount) / Double(max(sampleRate, 1)) }

    /// Wraps interleaved samples; `samples.count` must be a multiple of `channels`.
    public init(samples: [Float], sampleRate: Int, channels: Int = 1) {
        precondition(channels >= 1 && samples.count % channels == 0, "AudioClip: \(samples.count) samples do not fill \(channels) channels")
        self.samples = samples
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// One channel: the mean of all channels per frame, `(L + R) / 2` for stereo (not the sum,
    /// not the left channel), as the fixtures and most toolkits define "mono".
    public func mono() -> AudioClip {
        guard channels > 1 else { return self }
        let frames = frameCount, c = channels
        var out = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(c)
        samples.withUnsafeBufferPointer { src in
            for f in 0..<frames {
                var s: Float = 0
                for k in 0..<c { s += src[f * c + k] }
                out[f] = s * scale
            }
        }
        return AudioClip(samples: out, sampleRate: sampleRate, channels: 1)
    }

    /// Channel `index` alone, as a mono clip.
    public func channel(_ index: Int) -> AudioClip {
        precondition(index >= 0 && index < channels, "AudioClip: channel \(index) of \(channels)")
        let out = stride(from: index, to: samples.count, by: channels).map { samples[$0] }
        return AudioClip(samples: out, sampleRate: sampleRate, channels: 1)
    }
}

/// Why a sound file could not be read or written. The description is one line naming the file.
public struct AudioFileError: Error, CustomStringConvertible, Equatable {
    /// The file concerned.
    public var path: String
    /// What went wrong and what to do about it.
    public var reason: String
    /// An error about the file at `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    /// "path: reason", one line.
    public var description: String { "\(path): \(reason)" }
}

/// Container and sample encoding used when writing.
public enum AudioFileFormat: Sendable, Equatable {
    /// WAV, signed 16-bit PCM; values are rounded to the nearest multiple of 1/32768 and clipped to
    /// [-1, 32767/32768], so a clip read from a 16-bit file is written back bit for bit.
    case wavPCM16
    /// WAV, IEEE float32 (format tag 3), lossless for our samples.
    case wavFloat32
    /// FLAC, 16-bit (lossless for 16-bit material; rounded like `wavPCM16`).
    case flac16
    /// Ogg Vorbis (lossy), at libsndfile's default quality.
    case oggVorbis

    var libsndfileFormat: Int32 {
        switch self {
        case .wavPCM16: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .wavFloat32: return Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
        case .flac16: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        case .oggVorbis: return Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS)
        }
    }
}

/// Reading (WAV of any PCM width or float, FLAC, OGG/Vorbis, and whatever else the installed
/// libsndfile decodes) and writing WAV, through libsndfile.
public enum AudioFile {
    /// Upper bound on channels we accept; real files have at most a few dozen, and a corrupt header
    /// must not make us allocate per-channel buffers of absurd size.
    static let maxChannels = 256
    /// Samples decoded per libsndfile call (all channels); reading in blocks means a header that
    /// lies about the length cannot trigger a huge allocation.
    static let blockSamples = 1 << 18

    /// Decodes the whole file at `url` (all channels, interleaved).
    ///
    /// Throws `AudioFileError` for a missing, empty, truncated, corrupt or unsupported file.
    public static func read(_ url: URL) throws -> AudioClip {
        let path = url.path
        func fail(_ reason: String) -> AudioFileError { AudioFileError(path: path, reason: reason) }

        // Check existence and size ourselves: libsndfile's message for these is generic.
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw fail("cannot open the file (does it exist and is it readable?)")
        }
        if (attributes[.type] as? FileAttributeType) == .typeDirectory {
            throw fail("is a folder, not a sound file")
        }
        let byteCount = (attributes[.size] as? NSNumber)?.intValue ?? 0
        if byteCount == 0 { throw fail("the file is empty (0 bytes); re-export or remove it") }

        // A RIFF/WAVE file whose data chunk claims more bytes than the file holds was cut short;
        // libsndfile silently shortens such streams, so we check the chunk list first.
        try WAVChunks.checkComplete(path: path, byteCount: byteCount)

        var info = SF_INFO()
        guard let handle = sf_open(path, Int32(SFM_READ), &info) else {
            let message = String(cString: sf_strerror(nil))
            throw fail("not a readable sound file (\(message)); supported: WAV, FLAC, OGG and other libsndfile formats")
        }
        defer { sf_close(handle) }
        return try decode(handle, info, byteCount: byteCount, fail: fail)
    }

    /// Decodes sound held in memory (the bytes of a WAV, FLAC, OGG… file) through libsndfile's
    /// virtual I/O, with the same checks as `read(_:)`; `name` is used in messages.
    public static func read(data: Data, name: String) throws -> AudioClip {
        func fail(_ reason: String) -> AudioFileError { AudioFileError(path: name, reason: reason) }
        if data.isEmpty { throw fail("the file is empty (0 bytes); re-export or remove it") }
        let source = MemorySoundSource([UInt8](data))
        try WAVChunks.checkComplete(bytes: source.bytes, name: name)
        var io = MemorySoundSource.callbacks
        var info = SF_INFO()
        return try withExtendedLifetime(source) {
            guard let handle = sf_open_virtual(&io, Int32(SFM_READ), &info, Unmanaged.passUnretained(source).toOpaque()) else {
                let message = String(cString: sf_strerror(nil))
                throw fail("not a readable sound file (\(message)); supported: WAV, FLAC, OGG and other libsndfile formats")
            }
            defer { sf_close(handle) }
            return try decode(handle, info, byteCount: data.count, fail: fail)
        }
    }

    /// Reads every frame of an open handle, checking what its header declares against what decodes.
    private static func decode(_ handle: OpaquePointer, _ info: SF_INFO, byteCount: Int, fail: (String) -> AudioFileError) throws -> AudioClip {
        let channels = Int(info.channels)
        guard channels >= 1 && channels <= maxChannels else {
            throw fail("header declares \(channels) channels (expected 1...\(maxChannels)); the file is corrupt")
        }
        guard info.samplerate > 0 else {
            throw fail("header declares sample rate \(info.samplerate); the file is corrupt")
        }
        // libsndfile reports SF_COUNT_MAX when it cannot tell the length (e.g. an Ogg stream cut
        // before its last page); then we decode until the stream ends.
        let lengthKnown = info.frames != Int64.max
        let declared = lengthKnown ? Int(info.frames) : Int.max
        if declared <= 0 { throw fail("contains no audio frames (zero-length sound)") }

        // Reserve at most what the file could physically hold (1 byte per sample is the densest
        // uncompressed case; compressed formats grow in blocks as they are read).
        var samples: [Float] = []
        samples.reserveCapacity(min(min(declared, byteCount) * channels, byteCount))
        // The read block: up to 2^18 samples, but not far beyond the file's own size, so a short
        // clip does not zero a 1 MB buffer (that dominated the cost of reading small files).
        let blockFrames = max(1, min(AudioFile.blockSamples, max(byteCount, 4096)) / channels)
        var block = [Float](repeating: 0, count: blockFrames * channels)
        var total = 0
        while true {
            let want = min(blockFrames, max(declared - total, 0))
            if want == 0 { break }
            let got = block.withUnsafeMutableBufferPointer { sf_readf_float(handle, $0.baseAddress, sf_count_t(want)) }
            if got < 0 { break }
            if got == 0 { break }
            samples.append(contentsOf: block[0..<(Int(got) * channels)])
            total += Int(got)
        }
        let status = sf_error(handle)
        if status != Int32(SF_ERR_NO_ERROR) {
            throw fail("decoding failed after \(total) of \(declared) frames (\(String(cString: sf_strerror(handle)))); the file is corrupt")
        }
        if !lengthKnown && total == 0 {
            throw fail("no audio frames could be decoded (the stream is truncated or corrupt); re-export the file")
        }
        if lengthKnown && total < declared {
            throw fail("truncated: header declares \(declared) frames but only \(total) could be decoded; re-export the file")
        }
        if samples.contains(where: { !$0.isFinite }) {
            throw fail("contains NaN or infinite samples; the file is corrupt")
        }
        return AudioClip(samples: samples, sampleRate: Int(info.samplerate), channels: channels)
    }

    /// The file's sound as one channel (mean of channels) at `sampleRate` Hz (default-filter
    /// `Resampler` when the file's rate differs): what the feature extractors take.
    public static func readMono(_ url: URL, sampleRate: Int = 16_000) throws -> [Float] {
        let clip = try read(url).mono()
        do {
            return try clip.resampled(to: sampleRate).samples
        } catch let error as AudioFeatureError {
            throw AudioFileError(path: url.path, reason: error.description)
        }
    }

    /// Writes `clip` as a WAV file (16-bit PCM or float32) at `url`, atomically.
    public static func writeWAV(_ clip: AudioClip, to url: URL, float: Bool = false) throws {
        try write(clip, to: url, format: float ? .wavFloat32 : .wavPCM16)
    }

    /// Writes `clip` at `url` in `format`, atomically: the data goes to a temporary file in the
    /// same folder, which is then renamed over `url`, so a reader never sees a half-written file.
    public static func write(_ clip: AudioClip, to url: URL, format: AudioFileFormat) throws {
        let path = url.path
        func fail(_ reason: String) -> AudioFileError { AudioFileError(path: path, reason: reason) }
        guard clip.sampleRate > 0, clip.channels >= 1 else {
            throw fail("cannot write sample rate \(clip.sampleRate) with \(clip.channels) channels")
        }
        let folder = url.deletingLastPathComponent()
        let temp = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        var info = SF_INFO()
        info.samplerate = Int32(clip.sampleRate)
        info.channels = Int32(clip.channels)
        info.format = format.libsndfileFormat
        guard let handle = sf_open(temp.path, Int32(SFM_WRITE), &info) else {
            throw fail("cannot create a \(format) file in \(folder.path) (\(String(cString: sf_strerror(nil))))")
        }
        var closed = false
        defer {
            if !closed { sf_close(handle) }
            try? FileManager.default.removeItem(at: temp)
        }
        let frames = sf_count_t(clip.frameCount)
        let written: sf_count_t
        switch format {
        case .wavPCM16, .flac16:
            // Our own rounding: libsndfile scales by 32767 when writing but divides by 32768 when
            // reading, which would not round-trip.
            let ints = clip.samples.map { x -> Int16 in
                let v = (Double(x) * 32768).rounded(.toNearestOrEven)
                return Int16(Swift.max(-32768, Swift.min(32767, v.isNaN ? 0 : v)))
            }
            written = ints.withUnsafeBufferPointer { sf_writef_short(handle, $0.baseAddress, frames) }
        case .wavFloat32, .oggVorbis:
            written = clip.samples.withUnsafeBufferPointer { sf_writef_float(handle, $0.baseAddress, frames) }
        }
        guard written == frames else {
            throw fail("wrote only \(written) of \(frames) frames (\(String(cString: sf_strerror(handle)))); is the disk full?")
        }
        closed = true
        guard sf_close(handle) == 0 else { throw fail("closing the temporary file failed") }
        // libsndfile closes without fsync: flush, so the rename never publishes unwritten bytes.
        do { try AtomicFile.flushToDisk(temp) } catch { throw fail("\(error)") }
        // rename(2) within one folder is atomic and replaces an existing file.
        guard rename(temp.path, path) == 0 else {
            throw fail("cannot move the finished file into place (\(String(cString: strerror(errno))))")
        }
    }
}

/// Bytes in memory behind libsndfile's virtual I/O callbacks (read-only).
private final class MemorySoundSource {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func from(_ user: UnsafeMutableRawPointer?) -> MemorySoundSource {
        Unmanaged<MemorySoundSource>.fromOpaque(user!).takeUnretainedValue()
    }

    static var callbacks: SF_VIRTUAL_IO { SF_VIRTUAL_IO(
        get_filelen: { user in sf_count_t(MemorySoundSource.from(user).bytes.count) },
        seek: { offset, whence, user in
            let s = MemorySoundSource.from(user)
            let base: Int
            switch whence {
            case SEEK_SET: base = 0
            case SEEK_CUR: base = s.position
            case SEEK_END: base = s.bytes.count
            default: return -1
            }
            let (target, overflow) = base.addingReportingOverflow(Int(offset))
            guard !overflow, target >= 0 else { return -1 }
            s.position = target  // past the end is allowed, as for a file; reads there return 0
            return sf_count_t(target)
        },
        read: { buffer, count, user in
            let s = MemorySoundSource.from(user)
            guard let buffer, count > 0, s.position < s.bytes.count else { return 0 }
            let n = min(Int(count), s.bytes.count - s.position)
            s.bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + s.position, byteCount: n) }
            s.position += n
            return sf_count_t(n)
        },
        write: { _, _, _ in 0 },
        tell: { user in sf_count_t(MemorySoundSource.from(user).position) }) }
}

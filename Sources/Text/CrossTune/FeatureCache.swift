import Core
import Foundation

/// Features cached on disk per (endpoint, model id, kind, text), so each text goes to the black
/// box once across runs. One small file per entry under `directory/xx/<hash>.feat`; every file is
/// written atomically (a crash leaves the old state, never half an entry) and stores its full key,
/// so a hash collision or a damaged file is a miss, never wrong features.
///
/// ```swift
/// let source = CachedFeatureSource(try TEIClient(url: u), directory: cacheURL)
/// let f = try source.features(texts, kind: .tokens)   // second call: no request at all
/// ```
public final class CachedFeatureSource: TextFeatureSource {
    public let inner: any TextFeatureSource
    public let directory: URL?
    public var endpointID: String { inner.endpointID }
    public var modelID: String { inner.modelID }
    public var apiCalls: Int { inner.apiCalls }
    /// Texts answered from memory or disk, and texts sent to the black box.
    public private(set) var hits = 0, misses = 0
    private var memory: [String: TokenFeatures] = [:]

    /// `directory` nil keeps the cache in memory only.
    public init(_ inner: any TextFeatureSource, directory: URL?) {
        self.inner = inner
        self.directory = directory
    }

    public func features(_ texts: [String], kind: FeatureKind) throws -> [TokenFeatures] {
        var found: [String: TokenFeatures] = [:]
        var missing: [String] = []
        for text in texts where found[text] == nil {
            let key = cacheKey(text, kind: kind)
            if let f = memory[key] ?? readEntry(key) {
                memory[key] = f
                found[text] = f
                hits += 1
            } else {
                missing.append(text)
                found[text] = TokenFeatures(tokens: 0, dim: 0, values: [])  // placeholder: asked once
            }
        }
        if !missing.isEmpty {
            misses += missing.count
            let fetched = try inner.features(missing, kind: kind)
            guard fetched.count == missing.count else {
                throw CrossTuneError("\(endpointID): \(fetched.count) feature sets for \(missing.count) texts")
            }
            for (text, f) in zip(missing, fetched) {
                let key = cacheKey(text, kind: kind)
                memory[key] = f
                found[text] = f
                try writeEntry(key, f)
            }
        }
        return texts.map { found[$0]! }
    }

    func cacheKey(_ text: String, kind: FeatureKind) -> String {
        "\(inner.endpointID)\u{0}\(inner.modelID)\u{0}\(kind.rawValue)\u{0}\(text)"
    }

    /// 64-bit FNV-1a of the key, as 16 hex digits.
    static func hash(_ key: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    func entryURL(_ key: String) -> URL? {
        guard let directory else { return nil }
        let h = Self.hash(key)
        return directory.appendingPathComponent(String(h.prefix(2))).appendingPathComponent(h + ".feat")
    }

    static let magic: [UInt8] = Array("PKFEAT1\n".utf8)

    /// The entry for `key`, or nil when absent, damaged or belonging to another key.
    func readEntry(_ key: String) -> TokenFeatures? {
        guard let url = entryURL(key), let data = FileManager.default.contents(atPath: url.path) else { return nil }
        return Self.decodeEntry([UInt8](data), key: key)
    }

    /// Decodes the bytes of one cache file: nil unless they hold `key`'s entry intact. The
    /// file may be damaged or planted, so the counts it claims are checked before any arithmetic
    /// or allocation (two 32-bit counts multiplied overflowed Int and trapped before this check).
    public static func decodeEntry(_ b: [UInt8], key: String) -> TokenFeatures? {
        var i = 0
        func u32() -> Int? {
            guard i + 4 <= b.count else { return nil }
            defer { i += 4 }
            return Int(UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
        guard b.count >= 8, Array(b[0..<8]) == magic else { return nil }
        i = 8
        guard let keyLength = u32(), keyLength <= b.count - i, Array(b[i..<(i + keyLength)]) == Array(key.utf8) else { return nil }
        i += keyLength
        guard let tokens = u32(), let dim = u32(), tokens > 0, dim > 0 else { return nil }
        let (count, overflow) = tokens.multipliedReportingOverflow(by: dim)
        guard !overflow, count <= (b.count - i) / 4, b.count - i == count * 4 else { return nil }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in b.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[i...])) } }
        return TokenFeatures(tokens: tokens, dim: dim, values: values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) })
    }

    func writeEntry(_ key: String, _ f: TokenFeatures) throws {
        guard let url = entryURL(key) else { return }
        var b = Self.magic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { b.append(contentsOf: $0) } }
        let k = Array(key.utf8)
        u32(k.count)
        b += k
        u32(f.tokens)
        u32(f.dim)
        f.values.withUnsafeBytes { b.append(contentsOf: $0) }  // little-endian hosts (x86-64, arm64)
        try AtomicFile.write(b, to: url, createDirectories: true)
    }
}
